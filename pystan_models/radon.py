"""Mixed effects with clusters of varying coefficients (Minnesota radon).

One Stan program, ``mixed_effects_clusters.stan``, fits y ~ N(X beta + Z gamma,
sigma^2) with a flat prior on the fixed effects beta and the random effects
gamma split into clusters, each with its own mean alpha_k and sd sigma_gamma_k.
The driver builds X, Z and the cluster of each column of Z; on the Minnesota
radon data (Gelman & Hill 2007, ch. 12-13: log radon, floor, county log uranium)
it fits complete pooling, no pooling, varying intercepts, varying intercepts
with the county uranium predictor, and varying intercepts and floor slopes (two
clusters, also in the nested form where the cluster means share a variance).
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import sys
from dataclasses import dataclass

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy
import statsmodels
import statsmodels.formula.api as smf

from . import cli, programs, report
from .data import Column, check_rows, data_file, load_csv
from .errors import DataError
from .fitting import Fit, RunOptions, efficiency, loo_compare, posterior_table, sample, say

DATA = data_file("radon_mn.csv")
COLUMNS = [Column("idnum", "int"), Column("county", "int", positive=True),
           Column("county_name", "text"), Column("county_fips", "int"),
           Column("floor", "binary"), Column("radon"), Column("log_radon"),
           Column("uranium_ppm", positive=True), Column("log_uranium")]
PROGRAM = "mixed_effects_clusters"
MODELS = {
    "complete": "complete pooling",
    "none": "no pooling",
    "intercepts": "varying intercepts",
    "uranium": "varying intercepts + county uranium",
    "slopes": "varying intercepts and floor slopes + county uranium",
}
# Gelman & Hill (2007) figure 12.4: small to large counties.
FIGURE_COUNTIES = ["LAC QUI PARLE", "AITKIN", "KOOCHICHING", "DOUGLAS", "CLAY",
                   "STEARNS", "RAMSEY", "ST LOUIS"]
# Gelman & Hill (2007), ch. 12 (sections 12.2-12.6), fits by lm() and lmer().
PUBLISHED = {
    "complete": {"beta[intercept]": 1.33, "beta[floor]": -0.61, "sigma": 0.82},
    "none": {"beta[floor]": -0.72, "sigma": 0.76},
    "intercepts": {"beta[floor]": -0.69, "alpha[county intercept]": 1.46,
                   "sigma_gamma[county intercept]": 0.33, "sigma": 0.76},
    "uranium": {"alpha[county intercept]": 1.47, "beta[floor]": -0.67,
                "beta[log_uranium]": 0.72, "sigma_gamma[county intercept]": 0.16,
                "sigma": 0.76},
}
MEAN_PRIOR_SD = 100.0   # vague prior sd of the cluster means alpha_k
SCALE_PRIOR_SD = 1.0    # half-normal scale of the sds (log radon has sd 0.85)


# --- data -----------------------------------------------------------------

def load(path=DATA) -> pd.DataFrame:
    """The radon file, checked: one name and one uranium value per county, and
    counties numbered 1..J with at least one house each."""
    frame = load_csv(path, COLUMNS)
    check_rows(path, frame, "radon", frame.radon < 0, "is a negative radon activity")
    first = frame.groupby("county").transform("first")
    check_rows(path, frame, "county_name", frame.county_name != first.county_name,
               "differs from the name on this county's first row")
    check_rows(path, frame, "log_uranium", frame.log_uranium != first.log_uranium,
               "differs from this county's first row (a county-level predictor "
               "has one value per county)")
    by_name = frame.groupby("county_name").county.transform("first")
    check_rows(path, frame, "county", frame.county != by_name,
               "this county_name has another county index on an earlier row")
    present = set(frame.county)
    missing = [j for j in range(1, max(present) + 1) if j not in present]
    if missing:
        raise DataError(f"{path}, column 'county': no rows for county {missing[0]}"
                        f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''};"
                        f" counties must be numbered 1..{max(present)} with at least one"
                        " house each")
    return frame


def counties(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per county (index 1..J): name, houses, log uranium, mean log radon."""
    return frame.groupby("county").agg(
        name=("county_name", "first"), n=("log_radon", "size"),
        log_uranium=("log_uranium", "first"), mean_log_radon=("log_radon", "mean"))


# --- design: X, Z and clusters --------------------------------------------

@dataclass
class Design:
    """What the general program needs: X (named columns), Z and its clusters."""
    model: str
    X: pd.DataFrame
    Z: np.ndarray                 # N x Q
    z_names: list[str]
    cluster: np.ndarray           # cluster of each Z column, 1..K
    cluster_names: list[str]
    has_mean: list[int]           # 1: cluster mean alpha_k is free; 0: fixed at 0


def design(frame: pd.DataFrame, model: str) -> Design:
    """X, Z and clusters for one of the MODELS.  Intercepts live either in X or in
    a cluster mean, never both (see the identification note in the program)."""
    if model not in MODELS:
        raise DataError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    info = counties(frame)
    names = info.name.tolist()
    indicators = (frame.county.to_numpy()[:, None] == info.index.to_numpy()[None, :]
                  ).astype(float)
    floor = frame.floor.to_numpy(float)
    n = len(frame)
    none = np.zeros((n, 0))
    if model == "complete":
        X = pd.DataFrame({"intercept": np.ones(n), "floor": floor})
        return Design(model, X, none, [], np.zeros(0, int), [], [])
    if model == "none":
        X = pd.concat([pd.DataFrame({"floor": floor}),
                       pd.DataFrame(indicators, columns=[f"county {c}" for c in names])],
                      axis=1)
        return Design(model, X, none, [], np.zeros(0, int), [], [])
    X = pd.DataFrame({"floor": floor, "log_uranium": frame.log_uranium.to_numpy()})
    if model == "intercepts":
        X = X[["floor"]]
    if model in ("intercepts", "uranium"):
        return Design(model, X, indicators, [f"intercept {c}" for c in names],
                      np.ones(len(names), int), ["county intercept"], [1])
    Z = np.hstack([indicators, indicators * floor[:, None]])
    return Design(model, X[["log_uranium"]], Z,
                  [f"intercept {c}" for c in names] + [f"floor slope {c}" for c in names],
                  np.repeat([1, 2], len(names)), ["county intercept", "county floor slope"],
                  [1, 1])


def stan_data(y, d: Design, *, nested: bool = False, mean_prior_sd: float = MEAN_PRIOR_SD,
              scale_prior_sd: float = SCALE_PRIOR_SD, prior_only: bool = False,
              pointwise: bool = True, replicates: bool = False) -> dict:
    """The data dict for mixed_effects_clusters.stan, after checking that the
    design fits the model: finite values, clusters 1..K each with a column, and
    [X, cluster-mean columns] of full column rank (identified under the flat
    prior).  Z goes in row-wise sparse form: R (column, value) slots per row.
    ``pointwise`` writes log_lik (for LOO), ``replicates`` y_rep (the report has
    no use for it, and 919 more columns per draw cost seconds to read)."""
    y = np.asarray(y, float)
    X = d.X.to_numpy(float)
    Z = np.asarray(d.Z, float).reshape(len(y), -1)
    n, q, k = len(y), Z.shape[1], len(d.has_mean)
    for name, arr in (("y", y), ("X", X), ("Z", Z)):
        if not np.all(np.isfinite(arr)):
            raise DataError(f"design {d.model}: {name} has a missing or infinite value")
    if X.shape[0] != n or len(d.cluster) != q or len(d.cluster_names) != k:
        raise DataError(f"design {d.model}: sizes disagree (y {n}, X {X.shape}, Z {Z.shape}, "
                        f"{len(d.cluster)} cluster labels, {k} clusters)")
    if q and (d.cluster.min() < 1 or d.cluster.max() > k):
        raise DataError(f"design {d.model}: cluster labels must lie in 1..{k}")
    empty = [d.cluster_names[j] for j in range(k) if not np.any(d.cluster == j + 1)]
    if empty:
        raise DataError(f"design {d.model}: cluster {empty[0]!r} has no columns of Z")
    if min(scale_prior_sd, mean_prior_sd) <= 0:
        raise DataError("prior scales must be positive")
    # the column each free cluster mean multiplies: the sum of its Z columns
    means = np.column_stack([Z[:, d.cluster == j + 1].sum(1) for j in range(k)
                             if d.has_mean[j]] or [np.zeros((n, 0))])
    full = np.hstack([X, means])
    if np.linalg.matrix_rank(full) < full.shape[1]:
        raise DataError(
            f"design {d.model}: not identified under the flat prior: the columns of X "
            f"({', '.join(d.X.columns)}) and the free cluster means are linearly "
            "dependent (e.g. an intercept in X and a free mean for an intercept cluster)")
    nonzero = Z != 0
    r = int(nonzero.sum(1).max()) if q else 0
    z_col = np.ones((r, n), int)
    z_val = np.zeros((r, n))
    for i in range(n):
        cols = np.flatnonzero(nonzero[i])
        z_col[:len(cols), i] = cols + 1
        z_val[:len(cols), i] = Z[i, cols]
    return {"N": n, "y": y.tolist(), "P": X.shape[1], "X": X.tolist(), "Q": q, "R": r,
            "z_col": z_col.tolist(), "z_val": z_val.tolist(), "K": k,
            "cluster": [int(c) for c in d.cluster], "has_mean": [int(m) for m in d.has_mean],
            "nested": int(nested), "mean_prior_sd": float(mean_prior_sd),
            "scale_prior_sd": float(scale_prior_sd), "prior_only": int(prior_only),
            "pointwise": int(pointwise), "replicates": int(replicates)}


def main_params(d: Design, nested: bool = False) -> list[str]:
    """The parameters to diagnose and tabulate (no zero-size ones)."""
    names = ["beta"] if d.X.shape[1] else []
    if any(d.has_mean):
        names.append("alpha")
    if d.has_mean:
        names.append("sigma_gamma")
    if nested:
        names.append("sigma_alpha")
    return names + ["sigma"]


# --- fitting ----------------------------------------------------------------

@dataclass
class RadonFit(Fit):
    """A fit of the general program, with the design it was given."""
    design: Design | None = None
    nested: bool = False

    @property
    def label(self) -> str:
        """e.g. ``mixed_effects_clusters[uranium]``: which model the program fitted."""
        return f"{self.program}[{self.design.model}{', nested' if self.nested else ''}]"


def fit_model(frame: pd.DataFrame, model: str, opts: RunOptions, *,
              nested: bool = False, pointwise: bool = True) -> RadonFit:
    """``pointwise=False``: no log_lik (a fit not used for LOO: 919 fewer values per
    draw to write and read)."""
    d = design(frame, model)
    data = stan_data(frame.log_radon, d, nested=nested, pointwise=pointwise)
    coords = {"fixed": list(d.X.columns), "cluster": d.cluster_names, "ranef": d.z_names,
              "house": np.arange(len(frame))}
    dims = {"beta": ["fixed"], "theta": ["fixed"], "alpha": ["cluster"],
            "sigma_gamma": ["cluster"], "gamma": ["ranef"], "z": ["ranef"],
            "log_radon": ["house"]}
    observed = {"log_radon": frame.log_radon.to_numpy()} if pointwise else None
    f = sample(PROGRAM, data, opts, main=main_params(d, nested), observed=observed,
               coords=coords, dims=dims)
    return RadonFit(**vars(f), design=d, nested=nested)


def fit_all(frame: pd.DataFrame, opts: RunOptions, models=tuple(MODELS)
            ) -> dict[str, RadonFit]:
    return {m: fit_model(frame, m, opts) for m in models}


def coefficients(f: RadonFit) -> pd.DataFrame:
    """Posterior table of the main parameters, named as in the notes (the 85
    no-pooling county intercepts are left to the figures)."""
    table = posterior_table(f.idata, main_params(f.design, f.nested))
    table = table.rename(index={"sigma_alpha[0]": "sigma_alpha"})
    return table[~table.index.str.startswith("beta[county ")]


# --- the same varying-intercept model, county effects integrated out ---------

MARGINAL = "radon_intercepts_marginal"
MARGINAL_PARAMS = ["beta", "beta_county", "alpha", "sigma_gamma", "sigma"]
# marginal program name -> the general program's name for the same quantity
MARGINAL_NAMES = {"beta[floor]": "beta[floor]", "beta_county[log_uranium]": "beta[log_uranium]",
                  "alpha": "alpha[county intercept]",
                  "sigma_gamma": "sigma_gamma[county intercept]", "sigma": "sigma"}


def marginal_data(frame: pd.DataFrame, *, mean_prior_sd: float = MEAN_PRIOR_SD,
                  scale_prior_sd: float = SCALE_PRIOR_SD, pointwise: bool = False) -> dict:
    """Data for radon_intercepts_marginal.stan: the 'uranium' model (floor in X,
    county log uranium in W, varying county intercepts); the program reduces the
    houses to per-county sufficient statistics itself.  The report compares its
    posterior and speed, not its LOO, so by default it writes no log_lik or y_rep."""
    info = counties(frame)
    return {"N": len(frame), "J": len(info), "P": 1, "L": 1,
            "y": frame.log_radon.tolist(), "X": frame[["floor"]].to_numpy(float).tolist(),
            "W": info[["log_uranium"]].to_numpy().tolist(),
            "county": [int(c) for c in frame.county],
            "mean_prior_sd": float(mean_prior_sd), "scale_prior_sd": float(scale_prior_sd),
            "pointwise": int(pointwise)}


def fit_marginal(frame: pd.DataFrame, opts: RunOptions) -> Fit:
    info = counties(frame)
    return sample(MARGINAL, marginal_data(frame), opts, main=MARGINAL_PARAMS,
                  coords={"fixed": ["floor"], "county_level": ["log_uranium"],
                          "county": info.name.to_numpy()},
                  dims={"beta": ["fixed"], "beta_county": ["county_level"],
                        "gamma": ["county"], "log_radon": ["house"]})


def marginal_table(f: Fit) -> pd.DataFrame:
    """The marginal fit's posterior table, rows named as in the general program."""
    return posterior_table(f.idata, MARGINAL_PARAMS).rename(index=MARGINAL_NAMES)


def marginal_comparison(plain: RadonFit, marginal: Fit) -> pd.DataFrame:
    a, b = coefficients(plain), marginal_table(marginal)
    out = pd.DataFrame({"plain: mean": a["mean"], "plain: sd": a["sd"]}).reindex(b.index)
    out["marginal: mean"], out["marginal: sd"] = b["mean"], b["sd"]
    out["difference / sd"] = (out["marginal: mean"] - out["plain: mean"]) / out["plain: sd"]
    return out


# --- independent references: least squares and REML ---------------------------

def reml(frame: pd.DataFrame, model: str) -> dict[str, float]:
    """The same model by least squares (complete and no pooling) or by REML
    (statsmodels MixedLM), keyed by the Stan parameter names."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MixedLM's convergence chatter
        if model == "complete":
            r = smf.ols("log_radon ~ floor", frame).fit()
            out = {"beta[intercept]": r.params["Intercept"],
                   "beta[floor]": r.params["floor"], "sigma": np.sqrt(r.scale)}
        elif model == "none":
            r = smf.ols("log_radon ~ floor + C(county) - 1", frame).fit()
            out = {"beta[floor]": r.params["floor"], "sigma": np.sqrt(r.scale)}
        elif model == "slopes":   # independent intercepts and slopes: two variance components
            r = best_reml(smf.mixedlm("log_radon ~ floor + log_uranium", frame,
                                      groups=frame.county, re_formula="0",
                                      vc_formula={"a": "1", "b": "0 + floor"}))
            out = {"alpha[county intercept]": r.fe_params["Intercept"],
                   "alpha[county floor slope]": r.fe_params["floor"],
                   "beta[log_uranium]": r.fe_params["log_uranium"],
                   "sigma_gamma[county intercept]": np.sqrt(r.vcomp[0]),
                   "sigma_gamma[county floor slope]": np.sqrt(r.vcomp[1]),
                   "sigma": np.sqrt(r.scale)}
        else:
            formula = "log_radon ~ floor" + (" + log_uranium" if model == "uranium" else "")
            r = best_reml(smf.mixedlm(formula, frame, groups=frame.county))
            out = {"alpha[county intercept]": r.fe_params["Intercept"],
                   "beta[floor]": r.fe_params["floor"],
                   "sigma_gamma[county intercept]": np.sqrt(r.cov_re.iloc[0, 0]),
                   "sigma": np.sqrt(r.scale)}
            if model == "uranium":
                out["beta[log_uranium]"] = r.fe_params["log_uranium"]
    return {k: float(v) for k, v in out.items()}


def best_reml(model):
    """The REML fit with the highest restricted likelihood over three optimizers.

    statsmodels' default can stop short: on the uranium model it reports no
    convergence (sigma_gamma 0.161, against 0.156 at the optimum), and on the
    slopes model it reports convergence at a restricted log-likelihood 0.44 below
    what L-BFGS reaches; any one optimizer may also fail outright."""
    fits = []
    for method in (None, "powell", "lbfgs"):
        try:
            r = model.fit(reml=True, method=method)
        except (np.linalg.LinAlgError, ValueError):
            continue
        if r.converged and np.isfinite(r.llf):
            fits.append(r)
    if not fits:
        raise RuntimeError(f"no REML optimizer converged for {model.formula}")
    return max(fits, key=lambda r: r.llf)


def cached_reml(frame: pd.DataFrame, model: str) -> dict[str, float]:
    """:func:`reml`, kept in the cache folder: the MixedLM fits take seconds and
    depend only on what the key hashes (the data, reml's code, the versions of
    statsmodels, scipy and numpy)."""
    key = hashlib.sha256(pd.util.hash_pandas_object(frame).to_numpy().tobytes())
    key.update(json.dumps([model, list(frame.columns), inspect.getsource(reml),
                           statsmodels.__version__, scipy.__version__, np.__version__]
                          ).encode())
    path = (programs.cache_root() / "references"
            / f"radon-{model}-{key.hexdigest()[:16]}.json")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):   # not cached yet (or unreadable): compute it
        pass
    out = reml(frame, model)
    report.write_atomic(path, json.dumps(out))
    return out


# --- county-level summaries ---------------------------------------------------

def county_intercepts(frame: pd.DataFrame, f: RadonFit) -> np.ndarray:
    """Draws (draws x J) of each county's intercept: expected log radon in a
    basement of that county, at its own uranium level."""
    post = az.extract(f.idata)
    info = counties(frame)
    if f.design.model == "complete":
        return np.repeat(post["beta"].sel(fixed="intercept").values[:, None], len(info), 1)
    if f.design.model == "none":
        cols = [f"county {c}" for c in info.name]
        return post["beta"].sel(fixed=cols).values.T
    a = post["gamma"].values[:len(info)].T
    if "log_uranium" in f.design.X.columns:
        b_u = post["beta"].sel(fixed="log_uranium").values
        a = a + b_u[:, None] * info.log_uranium.to_numpy()[None, :]
    return a


def floor_slope(f: RadonFit) -> np.ndarray:
    """Draws of the (average) basement-to-first-floor difference in log radon."""
    post = az.extract(f.idata)
    if f.design.model == "slopes":
        return post["alpha"].sel(cluster="county floor slope").values
    return post["beta"].sel(fixed="floor").values


def check_counties(frame: pd.DataFrame, names: list[str]) -> list[str]:
    known = set(frame.county_name)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DataError(f"--counties: no county named {unknown[0]!r} in the data "
                        f"(names as in column county_name, e.g. {sorted(known)[0]!r})")
    return names


# --- tables and figures --------------------------------------------------------

MEANINGS = {
    "beta[intercept]": "intercept: basement log radon (single)",
    "alpha[county intercept]": "mean county intercept",
    "beta[floor]": "floor: first floor minus basement",
    "alpha[county floor slope]": "mean county floor slope",
    "beta[log_uranium]": "county log uranium coefficient",
    "sigma_gamma[county intercept]": "sd of county intercepts",
    "sigma_gamma[county floor slope]": "sd of county floor slopes",
    "sigma_alpha": "sd of the cluster means (nested)",
    "sigma": "residual sd, sigma_y",
}


def comparison_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Posterior mean (sd) of each named parameter in each model."""
    rows = [r for r in MEANINGS if any(r in t.index for t in tables.values())]
    out = pd.DataFrame({"meaning": [MEANINGS[r] for r in rows]}, index=rows)
    for model, t in tables.items():
        out[MODELS.get(model, model)] = [
            f"{t.loc[r, 'mean']:.2f} ({t.loc[r, 'sd']:.2f})" if r in t.index else ""
            for r in rows]
    return out


def with_references(table: pd.DataFrame, ref: dict[str, float], model: str) -> pd.DataFrame:
    out = table.copy()
    out["REML / LS"] = pd.Series(ref)
    if model in PUBLISHED:
        out["G&H 2007"] = pd.Series(PUBLISHED[model])
    return out


def pooling_figure(frame: pd.DataFrame, fits: dict[str, RadonFit], names: list[str]):
    """Gelman & Hill figure 12.4: data, complete, no and partial pooling lines."""
    info = counties(frame).reset_index()
    lines = {}
    for key in ("complete", "none", "intercepts"):
        a = county_intercepts(frame, fits[key]).mean(0)
        lines[key] = (a, floor_slope(fits[key]).mean())
    ncol = 4
    nrow = int(np.ceil(len(names) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(12, 3.2 * nrow), sharex=True, sharey=True,
                             squeeze=False)
    rng = np.random.default_rng(1)
    x = np.array([0.0, 1.0])
    for ax, name in zip(axes.ravel(), names):
        j = int(np.flatnonzero(info.name == name)[0])
        rows = frame[frame.county_name == name]
        ax.scatter(rows.floor + rng.uniform(-0.04, 0.04, len(rows)), rows.log_radon,
                   s=12, color="k", alpha=0.7)
        for key, style, label in (("complete", dict(color="0.5", ls="--"), "complete pooling"),
                                  ("none", dict(color="C1", ls=":"), "no pooling"),
                                  ("intercepts", dict(color="C0"), "partial pooling")):
            a, b = lines[key]
            ax.plot(x, a[j] + b * x, label=label, **style)
        ax.set_title(f"{name} (n = {len(rows)})", fontsize=10)
        ax.set_xticks([0, 1])
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("log radon (log pCi/L)")
    for ax in axes[-1]:
        ax.set_xlabel("floor (0 = basement, 1 = first)")
    axes[0, 0].legend(fontsize=8, loc="lower left")
    fig.suptitle("Complete, no and partial pooling, by county (cf. Gelman & Hill fig. 12.4)")
    fig.tight_layout()
    return fig


def shrinkage_figure(frame: pd.DataFrame, fits: dict[str, RadonFit]):
    """County intercepts against sample size, no pooling vs partial pooling."""
    info = counties(frame)
    n = info.n.to_numpy() * np.exp(np.random.default_rng(2).uniform(-0.1, 0.1, len(info)))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    centre = county_intercepts(frame, fits["complete"]).mean()
    for ax, key in zip(axes, ("none", "intercepts")):
        a = county_intercepts(frame, fits[key])
        ax.errorbar(n, a.mean(0), yerr=a.std(0), fmt="o", ms=3, lw=0.6, color="C0")
        ax.axhline(centre, color="0.5", ls="--", label="complete pooling")
        ax.set(xscale="log", xlabel="houses sampled in the county (log scale, jittered)",
               title=f"{MODELS[key]}: county intercepts (mean ± 1 sd)")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("basement log radon (log pCi/L)")
    fig.tight_layout()
    return fig


def uranium_figure(frame: pd.DataFrame, f: RadonFit):
    """Gelman & Hill figure 12.6: county intercepts against county log uranium."""
    info = counties(frame)
    a = county_intercepts(frame, f)
    post = az.extract(f.idata)
    mu = post["alpha"].sel(cluster="county intercept").values
    b_u = post["beta"].sel(fixed="log_uranium").values
    u = info.log_uranium.to_numpy()
    grid = np.linspace(u.min() - 0.05, u.max() + 0.05, 50)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.errorbar(u, a.mean(0), yerr=a.std(0), fmt="o", ms=3, lw=0.6, color="C0",
                label="county intercept (mean ± 1 sd)")
    for s in np.random.default_rng(3).choice(len(mu), 20, replace=False):
        ax.plot(grid, mu[s] + b_u[s] * grid, color="C1", alpha=0.15, lw=0.8)
    ax.plot(grid, mu.mean() + b_u.mean() * grid, color="C1",
            label="alpha + beta_u u (posterior mean; 20 draws faint)")
    ax.set(xlabel="county log uranium, u (log ppm)",
           ylabel="basement log radon (log pCi/L)",
           title="County intercepts vs county uranium (cf. Gelman & Hill fig. 12.6)")
    ax.legend(fontsize=8)
    return fig


def density_figure(fits: dict[str, RadonFit]):
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for (key, f), colour in zip(fits.items(), ["0.5", "C1", "C0", "C2", "C3"]):
        post = az.extract(f.idata)
        style = {"color": colour}
        az.plot_kde(floor_slope(f), ax=axes[0], plot_kwargs=style)
        if "sigma_gamma" in post:
            az.plot_kde(post["sigma_gamma"].sel(cluster="county intercept").values,
                        ax=axes[1], plot_kwargs=style)
        az.plot_kde(post["sigma"].values, ax=axes[2], plot_kwargs=style)
        axes[0].plot([], [], color=colour, label=MODELS[key])
    axes[0].set(title="floor effect (mean floor slope)",
                xlabel="first floor minus basement (log pCi/L)")
    axes[1].set(title="sd of county intercepts", xlabel="sigma_gamma (log pCi/L)")
    axes[2].set(title="residual sd", xlabel="sigma_y (log pCi/L)")
    for ax in axes:
        ax.set_ylabel("posterior density")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3,
               fontsize=8, bbox_to_anchor=(0.5, -0.12))
    fig.suptitle("Posterior densities by model")
    fig.tight_layout()
    return fig


def trace_figure(f: RadonFit):
    nested = " (nested)" if f.nested else ""
    return report.trace_figure(f.idata, main_params(f.design, f.nested),
                               f"Trace plots: {MODELS[f.design.model]}{nested}",
                               figsize=(11, 9), compact=True)


def timing_table(fits: dict[str, Fit]) -> pd.DataFrame:
    return pd.DataFrame([{"fit": label, **efficiency(f, tabulated(f))}
                         for label, f in fits.items()])


def tabulated(f: Fit) -> list[str]:
    """The parameters a fit's tables and ESS figures are about."""
    if isinstance(f, RadonFit):
        return main_params(f.design, f.nested)
    return MARGINAL_PARAMS


# --- the analysis --------------------------------------------------------------

def analyse(args: argparse.Namespace, opts: RunOptions) -> report.Report:
    frame = load(args.data)
    names = check_counties(frame, [c.strip() for c in args.counties.split(",") if c.strip()])
    fits = fit_all(frame, opts)
    say(opts, "nested cluster means: slopes model again")
    nested = fit_model(frame, "slopes", opts, nested=True, pointwise=False)
    marginal = fit_marginal(frame, opts)
    every = {**{MODELS[k]: f for k, f in fits.items()}, "nested " + MODELS["slopes"]: nested,
             MODELS["uranium"] + ", marginal program": marginal}
    rep = report.Report("Minnesota radon: pooling, varying intercepts and slopes, "
                        "county uranium")
    rep.problems = [f"{k}: {p}" for k, f in every.items() for p in f.problems]

    tables = {k: coefficients(f) for k, f in fits.items()}
    refs = {k: cached_reml(frame, k) for k in fits}
    firm = {m: {k: v for k, v in r.items() if not (m == "slopes" and "gamma" in k)}
            for m, r in refs.items()}
    gap_firm, gap_all = largest_gap(tables, firm), largest_gap(tables, refs)
    loo, loo_notes = loo_compare({MODELS[k]: f for k, f in fits.items()})
    info = counties(frame)
    floor = tables["intercepts"].loc["beta[floor]"]
    sd0 = tables["intercepts"].loc["sigma_gamma[county intercept]"]
    sd1 = tables["uranium"].loc["sigma_gamma[county intercept]"]
    bu = tables["uranium"].loc["beta[log_uranium]"]
    small = info.index[info.name == names[0]][0]   # first county of the figure
    a_none = county_intercepts(frame, fits["none"])[:, small - 1].mean()
    a_part = county_intercepts(frame, fits["intercepts"])[:, small - 1].mean()
    rep.answer = (
        f"A first-floor measurement has lower log radon than a basement one by "
        f"{-floor['mean']:.2f} (95% interval {-floor['97.5%']:.2f} to {-floor['2.5%']:.2f}) "
        f"in the varying-intercept model, a factor of {np.exp(floor['mean']):.2f}. "
        f"Counties differ: the sd of county intercepts is {sd0['mean']:.2f} "
        f"(residual sd {tables['intercepts'].loc['sigma', 'mean']:.2f}). County soil uranium "
        f"explains much of that: its coefficient is {bu['mean']:.2f} "
        f"({bu['2.5%']:.2f} to {bu['97.5%']:.2f}) per unit log ppm, and with it the sd of "
        f"county intercepts falls to {sd1['mean']:.2f}. By LOO the best model is "
        f"{loo.index[0]}; "
        + "; ".join(f"{k} trails by {d:.1f} ± {s:.1f}" for k, d, s in
                    zip(loo.index[1:], loo.elpd_diff.iloc[1:], loo.dse.iloc[1:]))
        + f" elpd. Partial pooling moves small counties towards the mean: "
        f"{names[0]} ({int(info.n[small])} houses) has intercept {a_none:.2f} without "
        f"pooling and {a_part:.2f} with it. Posterior means sit within "
        f"{largest_gap(tables, PUBLISHED):.2f} posterior sd of Gelman & Hill's (2007) "
        f"estimates and within {gap_firm:.2f} sd of least-squares / REML "
        f"fits of the same models" + (
            f", except the slopes model's two poorly determined county sds "
            f"({gap_all:.2f} sd: REML is the mode of a skewed "
            "likelihood, the posterior mean is not)." if gap_all > gap_firm else "."))
    print_summary(tables, opts)

    rep.section("Data", report.para(
        f"{len(frame)} houses in {len(info)} Minnesota counties (EPA SRRS, as in Gelman & "
        f"Hill 2007, ch. 12). Outcome y = log radon, log(pCi/L) with 0 replaced by 0.1 "
        f"(Gelman & Hill's transform, column log_radon as given); x = floor "
        f"(0 basement, 1 first floor; {int(frame.floor.sum())} houses on the first floor); "
        f"u = county log soil uranium (log ppm). Houses per county: median "
        f"{int(info.n.median())}, range {info.n.min()} to {info.n.max()}. "
        f"Source: {args.data}; see data/README.md."))
    rep.section("Models", report.para(
        "One Stan program, mixed_effects_clusters.stan: y ~ N(X beta + Z gamma, sigma^2), "
        "p(beta) ∝ 1, gamma_q ~ N(alpha_k, sigma_gamma_k^2) for the columns q of Z in "
        f"cluster k, alpha_k ~ N(0, {MEAN_PRIOR_SD:g}^2) (vague) or, nested, "
        "alpha_k ~ N(0, sigma_alpha^2); sigma, sigma_gamma_k, sigma_alpha ~ "
        f"half-normal(0, {SCALE_PRIOR_SD:g}). The driver builds X and Z:"),
        report.table(design_table(frame), index=False),
        report.para("An intercept is either a column of X or the mean of an intercept "
                    "cluster, never both: with a flat prior on beta the two would only be "
                    "identified through their sum. The driver checks that X and the "
                    "cluster-mean columns have full rank before sampling. Note on names: "
                    "Gelman & Hill's mu_alpha is alpha[county intercept] here and their "
                    "sigma_alpha is sigma_gamma[county intercept].", "note"))
    rep.section("Coefficients compared", report.table(comparison_table(tables)),
                report.para("Posterior mean (sd). No pooling has 85 county intercepts as "
                            "fixed effects; see the figures.", "note"))
    rep.section("Coefficients by model", *[
        f"<h3>{MODELS[k]}</h3>" + report.table(with_references(t, refs[k], k),
                                               {"r_hat": 3, "ess_bulk": 0, "ess_tail": 0,
                                                "mcse_mean": 3})
        for k, t in tables.items()],
        report.para("REML / LS: the same model by least squares (complete and no pooling) "
                    "or REML (statsmodels MixedLM; for the slopes model, independent "
                    "variance components). G&H 2007: Gelman & Hill, ch. 12 (lm and lmer). "
                    "A posterior mean of a poorly determined sd (the slopes model's two "
                    "sigma_gamma) sits away from the REML estimate, which is a mode of a "
                    "skewed likelihood; compare the medians and intervals.", "note"))
    rep.section("Partial pooling", report.figure(pooling_figure(frame, fits, names),
                                                 "partial pooling by county"),
                report.para("Dashed: complete pooling (one line for all counties). Dotted: "
                            "no pooling (each county's own intercept, common floor slope). "
                            "Solid: partial pooling (varying-intercept model). With few "
                            "houses the partial-pooling line sits near the complete-pooling "
                            "one; with many it follows the county's own data.", "note"),
                report.figure(shrinkage_figure(frame, fits), "shrinkage"))
    rep.section("County-level uranium effect",
                report.figure(uranium_figure(frame, fits["uranium"]), "uranium"),
                report.para(f"The county log uranium coefficient is {bu['mean']:.2f} "
                            f"(sd {bu['sd']:.2f}); adding it shrinks the sd of county "
                            f"intercepts from {sd0['mean']:.2f} to {sd1['mean']:.2f}."))
    rep.section("Nested cluster means", report.para(
        "The slopes model again, with the two cluster means (county intercepts, county "
        "floor slopes) drawn from N(0, sigma_alpha^2) instead of a vague prior. With only "
        "two means sigma_alpha is barely informed and the means hardly move."),
        report.table(nested_table(fits["slopes"], nested)))
    rep.section("Posterior densities", report.figure(density_figure(fits), "densities"))
    rep.section("LOO comparison", report.table(loo, 2),
                *[report.para(n, "problems") for n in loo_notes],
                report.para("elpd_loo: expected log pointwise predictive density (higher is "
                            "better); elpd_diff and dse: difference from the best and its "
                            "standard error. No pooling's single-house counties make "
                            "high Pareto k values likely.", "note"))
    rep.section("Trace plots", report.figure(trace_figure(fits["slopes"]), "trace slopes"))
    timing = timing_table(every)
    speed = timing["min bulk ESS / s"]
    ratio = speed.iloc[-1] / speed[timing.fit == MODELS["uranium"]].iloc[0]
    comparison = marginal_comparison(fits["uranium"], marginal)
    rep.section("Fast program: county effects integrated out", report.para(
        f"{MARGINAL}.stan fits the varying intercepts + county uranium model with the county "
        "effects integrated out analytically: per-county sums of squares and cross products "
        "(computed once) make each gradient cost O(counties) instead of O(houses), and the "
        "85 county effects are drawn afterwards from their normal full conditionals. Same "
        f"model, same priors, so the same posterior; minimum bulk ESS per second is "
        f"{ratio:.1f} times the general program's ({speed.iloc[-1]:.0f} vs "
        f"{speed[timing.fit == MODELS['uranium']].iloc[0]:.0f})."),
        report.table(comparison, {"difference / sd": 2}),
        report.para(f"County effects gamma_j: the largest difference between the two "
                    f"programs' posterior means is {gamma_gap(fits['uranium'], marginal):.2f} "
                    "posterior sd.", "note"))
    rep.section("Timing", report.table(timing,
                                       {"compile or load (s)": 1, "sampling (s)": 1,
                                        "min bulk ESS": 0, "min bulk ESS / s": 1},
                                       index=False),
                report.para("min bulk ESS over the tabulated parameters (not the 85+ "
                            "random effects). Compile or load: 0 s means the executable "
                            "came from the compile cache.", "note"))
    rep.fits = list(every.values())
    rep.section("Provenance", cli.provenance(rep.fits, opts))
    return rep


def largest_gap(tables: dict[str, pd.DataFrame], refs: dict[str, dict]) -> float:
    """Largest |posterior mean - reference| / posterior sd over models and parameters."""
    return max(abs(tables[m].loc[k, "mean"] - v) / tables[m].loc[k, "sd"]
               for m, ref in refs.items() for k, v in ref.items())


def gamma_gap(plain: RadonFit, marginal: Fit) -> float:
    """Largest |difference| of the county effects' posterior means, in posterior sds."""
    a = plain.idata.posterior["gamma"].values
    b = marginal.idata.posterior["gamma"].values
    J = b.shape[-1]
    a = a[..., :J].reshape(-1, J)
    b = b.reshape(-1, J)
    return float(np.max(np.abs(a.mean(0) - b.mean(0)) / a.std(0)))


def design_table(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for key, label in MODELS.items():
        d = design(frame, key)
        x = list(d.X.columns)
        rows.append({"model": label,
                     "X columns (flat prior)": ", ".join(x) if len(x) < 5 else
                     f"{x[0]} + {len(x) - 1} county indicators",
                     "Z columns": d.Z.shape[1],
                     "clusters (mean free?)": ", ".join(
                         f"{c} ({'yes' if m else 'no'})"
                         for c, m in zip(d.cluster_names, d.has_mean)) or "none"})
    return pd.DataFrame(rows)


def nested_table(vague: RadonFit, nested: RadonFit) -> pd.DataFrame:
    a, b = coefficients(vague), coefficients(nested)
    out = pd.DataFrame({"vague: mean": a["mean"], "vague: sd": a["sd"]}).reindex(b.index)
    out["nested: mean"], out["nested: sd"] = b["mean"], b["sd"]
    return out


def print_summary(tables: dict[str, pd.DataFrame], opts: RunOptions) -> None:
    if not opts.quiet:
        print(comparison_table(tables).to_string())


def main(argv: list[str] | None = None) -> int:
    def extend(p):
        p.add_argument("--data", default=DATA, help="radon CSV (default: %(default)s)")
        p.add_argument("--counties", default=",".join(FIGURE_COUNTIES),
                       help="comma-separated county names for the partial-pooling figure")
    return cli.run("radon", __doc__.splitlines()[0], analyse, argv, extend)


if __name__ == "__main__":
    sys.exit(main())
