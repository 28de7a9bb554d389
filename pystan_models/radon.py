"""Mixed effects with clusters of varying coefficients (Minnesota radon).

One Stan program, ``mixed_effects_clusters.stan``, fits y ~ N(X_f beta + Z gamma,
sigma^2) with a flat prior on the fixed effects beta and the random effects
gamma split into clusters, each with its own mean alpha_c and sd sigma_gamma_c.
The driver builds X (no intercept column; a fixed intercept is a flag), Z and the
cluster of each column of Z; on the Minnesota radon data (Gelman & Hill 2007,
ch. 12-13: log radon, floor, county log uranium) it fits complete pooling, no
pooling, varying intercepts, varying intercepts with the county uranium
predictor, and varying intercepts and floor slopes (two clusters, also in the
nested form where the cluster means share a variance); and the uranium model
once more with ``radon_intercepts_marginal.stan``, the county effects integrated
out::

    from pystan_models import radon
    r = radon.analyse()                       # the Minnesota file, default options
    r = radon.analyse(frame, chains=4, seed=1)   # a DataFrame (or a CSV path)
    r.fits["uranium"].idata                   # xarray.DataTree (ArviZ 1.x)
    r.table("coefficients")                   # also comparison, loo, marginal, ...
    r.answer
    r.write_report("radon.html")
"""
from __future__ import annotations

import hashlib
import inspect
import json
import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import scipy

from . import centring, cli, formula, predict, programs, report
from .data import FRAME, Column, check_rows, data_file, prepare, read_table
from .errors import DataError, PystanModelsError
from .fitting import (LOO_NOTE, MCSE_NOTE, Fit, RunOptions, efficiency_table, loo_compare,
                      reference, rescale, run_options, sample, say, stacked)
from .predictive import replicate
from .results import Results

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
# the fits the report's predictive checks show: the baseline, and the two models of
# county intercepts (the others' replicated densities look the same)
NOTES_PPC = ("complete", "intercepts", "uranium")
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

# log_radon and log_uranium are stored rounded (the shipped file to 1e-14); a
# value written to 3 decimals is within 5e-4 of the exact log.  The tolerance
# still separates Gelman & Hill's log(radon) from rstanarm's and posteriordb's
# log(radon + 0.1), which differ by 0.1 / radon > 0.002 for every Minnesota
# house (radon at most 48.2).
LOG_TOLERANCE = 1e-3


def load(data=DATA) -> pd.DataFrame:
    """The validated frame: ``data`` is a CSV path (default: the Minnesota file) or a
    DataFrame with the file's columns; parsed, then checked by :func:`check`."""
    return prepare(data, DATA, COLUMNS, check)


def check(frame: pd.DataFrame, source: str = FRAME) -> pd.DataFrame:
    """The checks every radon frame passes, naming column and row: the derived
    columns agree with the columns they are derived from (log_radon =
    log(radon) with 0 replaced by 0.1, log_uranium = log(uranium_ppm)), one
    name, FIPS code and uranium value per county, and counties numbered 1..J
    with at least one house each."""
    check_rows(source, frame, "radon", frame.radon < 0, "is a negative radon activity")
    expected = np.log(np.where(frame.radon == 0, 0.1, frame.radon.clip(lower=1e-300)))
    gap = (frame.log_radon - expected).abs()
    check_rows(source, frame, "log_radon", gap > LOG_TOLERANCE,
               "is not log(radon) with 0 replaced by 0.1 (Gelman & Hill's transform, "
               "see data/README.md; rstanarm's and posteriordb's log(radon + 0.1) "
               "differ)")
    gap = (frame.log_uranium - np.log(frame.uranium_ppm)).abs()
    check_rows(source, frame, "log_uranium", gap > LOG_TOLERANCE,
               "is not log(uranium_ppm)")
    first = frame.groupby("county").transform("first")
    check_rows(source, frame, "county_name", frame.county_name != first.county_name,
               "differs from the name on this county's first row")
    for column in ("county_fips", "uranium_ppm", "log_uranium"):
        check_rows(source, frame, column, frame[column] != first[column],
                   "differs from this county's first row (a county-level column "
                   "has one value per county)")
    by_name = frame.groupby("county_name").county.transform("first")
    check_rows(source, frame, "county", frame.county != by_name,
               "this county_name has another county index on an earlier row")
    present = set(frame.county)
    missing = [j for j in range(1, max(present) + 1) if j not in present]
    if missing:
        raise DataError(f"{source}, column 'county': no rows for county {missing[0]}"
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
    """What the general program needs: X (named columns, no intercept column),
    whether a fixed intercept goes in front of it, Z and its clusters."""
    model: str
    X: pd.DataFrame
    Z: np.ndarray                 # N x Q
    z_names: list[str]
    cluster: np.ndarray           # cluster of each Z column, 1..C
    cluster_names: list[str]
    has_mean: list[int]           # 1: cluster mean alpha_c is free; 0: fixed at 0
    intercept: bool = False       # a fixed intercept (flat prior), beta[intercept]
    centred: list[int] = field(default_factory=list)   # per cluster; [] = all 0

    @property
    def fixed(self) -> list[str]:
        """Names of the fixed effects beta: the intercept (if any), then X's columns."""
        return ["intercept"] * self.intercept + list(self.X.columns)


def design(frame: pd.DataFrame, model: str) -> Design:
    """X, Z and clusters for one of the MODELS.  An intercept is either fixed
    (``intercept``) or a cluster mean, never both (see the identification note in
    the program); X never holds an intercept column."""
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
        X = pd.DataFrame({"floor": floor})
        return Design(model, X, none, [], np.zeros(0, int), [], [], intercept=True)
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
              scale_prior_sd: float = SCALE_PRIOR_SD, beta_prior_sd: float = 0.0,
              prior_only: bool = False, pointwise: bool = True, y_rep: bool = False) -> dict:
    """The data dict for mixed_effects_clusters.stan, after checking that the
    design fits the model: finite values, no constant column in X (the intercept
    is ``d.intercept``), clusters 1..C each with a column, and [intercept, X,
    cluster-mean columns] of full column rank (identified under the flat prior).
    Z goes in row-wise sparse form: S (column, value) slots per row.  ``d.centred``
    flags the clusters sampled centred (none for the notes' designs).
    ``pointwise`` writes log_lik (for LOO) and, with ``y_rep``, the replicates
    (log_lik_only = 1 without: the report has no use for them, and 919 more
    columns per draw cost seconds to read).  ``beta_prior_sd`` 0 is the notes'
    flat prior on beta; > 0 a proper normal one (for prior predictive draws)."""
    y = np.asarray(y, float)
    X = d.X.to_numpy(float)
    Z = np.asarray(d.Z, float).reshape(len(y), -1)
    n, q, c = len(y), Z.shape[1], len(d.has_mean)
    for name, arr in (("y", y), ("X", X), ("Z", Z)):
        if not np.all(np.isfinite(arr)):
            raise DataError(f"design {d.model}: {name} has a missing or infinite value")
    if X.shape[0] != n or len(d.cluster) != q or len(d.cluster_names) != c:
        raise DataError(f"design {d.model}: sizes disagree (y {n}, X {X.shape}, Z {Z.shape}, "
                        f"{len(d.cluster)} cluster labels, {c} clusters)")
    constant = [name for name, col in zip(d.X.columns, X.T)
                if n > 1 and np.all(col == col[0]) and col[0] != 0]
    if constant:
        raise DataError(f"design {d.model}: column {constant[0]!r} of X is constant; X "
                        "holds no intercept column (the intercept is the design's "
                        "intercept flag or a cluster mean)")
    if q and (d.cluster.min() < 1 or d.cluster.max() > c):
        raise DataError(f"design {d.model}: cluster labels must lie in 1..{c}")
    centred = [int(bool(k)) for k in d.centred] or [0] * c
    if len(centred) != c:
        raise DataError(f"design {d.model}: {len(centred)} centring flags for {c} "
                        "clusters")
    empty = [d.cluster_names[j] for j in range(c) if not np.any(d.cluster == j + 1)]
    if empty:
        raise DataError(f"design {d.model}: cluster {empty[0]!r} has no columns of Z")
    if min(scale_prior_sd, mean_prior_sd) <= 0 or beta_prior_sd < 0:
        raise DataError("prior scales must be positive (beta_prior_sd: 0 for flat)")
    # the column each free cluster mean multiplies: the sum of its Z columns
    means = np.column_stack([Z[:, d.cluster == j + 1].sum(1) for j in range(c)
                             if d.has_mean[j]] or [np.zeros((n, 0))])
    full = np.hstack([np.ones((n, int(d.intercept))), X, means])
    if np.linalg.matrix_rank(full) < full.shape[1]:
        raise DataError(
            f"design {d.model}: not identified under the flat prior: the fixed effects "
            f"({', '.join(d.fixed)}) and the free cluster means are linearly "
            "dependent (e.g. a fixed intercept and a free mean for an intercept cluster)")
    nonzero = Z != 0
    s = int(nonzero.sum(1).max()) if q else 0
    z_col = np.ones((s, n), int)
    z_val = np.zeros((s, n))
    for i in range(n):
        cols = np.flatnonzero(nonzero[i])
        z_col[:len(cols), i] = cols + 1
        z_val[:len(cols), i] = Z[i, cols]
    return {"N": n, "K": X.shape[1], "X": X.tolist(), "y": y.tolist(),
            "intercept": int(d.intercept), "Q": q, "S": s,
            "z_col": z_col.tolist(), "z_val": z_val.tolist(), "C": c,
            "cluster": [int(k) for k in d.cluster], "has_mean": [int(m) for m in d.has_mean],
            "centred": centred,
            "nested": int(nested), "beta_prior_sd": float(beta_prior_sd),
            "mean_prior_sd": float(mean_prior_sd), "scale_prior_sd": float(scale_prior_sd),
            "prior_only": int(prior_only), "pointwise": int(pointwise),
            "log_lik_only": int(not y_rep)}


def main_params(d: Design, nested: bool = False) -> list[str]:
    """The parameters to diagnose and tabulate (no zero-size ones)."""
    names = ["beta"] if d.fixed else []
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
    coords = {"fixed": d.fixed, "cluster": d.cluster_names, "ranef": d.z_names,
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


def with_replicates(f: RadonFit, opts: RunOptions) -> RadonFit:
    """``f`` with replicated log radon for its draws (the program's y_rep, by
    generate_quantities on the same draws), for the report's predictive checks."""
    (name, y), = f.spec["observed"].items()
    g = replicate(f, f.spec["data"], {name: y}, opts.seed,
                  extra_data={"log_lik_only": 0})
    return RadonFit(**{**vars(g), "design": f.design, "nested": f.nested})


def coefficients(f: RadonFit) -> pd.DataFrame:
    """Posterior table of the main parameters, named as in the notes (the 85
    no-pooling county intercepts are left to the figures)."""
    table = f.table(main_params(f.design, f.nested))   # computed once per fit
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
                  scale_prior_sd: float = SCALE_PRIOR_SD, beta_prior_sd: float = 0.0,
                  prior_only: bool = False, pointwise: bool = False) -> dict:
    """Data for radon_intercepts_marginal.stan: the 'uranium' model (floor in X,
    county log uranium in W, varying county intercepts, groups = counties); the
    program reduces the houses to per-county sufficient statistics itself.  The
    report compares its posterior and speed, not its LOO, so by default it writes
    no log_lik or y_rep."""
    info = counties(frame)
    return {"N": len(frame), "K": 1, "X": frame[["floor"]].to_numpy(float).tolist(),
            "y": frame.log_radon.tolist(), "J": len(info),
            "group": [int(c) for c in frame.county],
            "L": 1, "W": info[["log_uranium"]].to_numpy().tolist(),
            "beta_prior_sd": float(beta_prior_sd), "mean_prior_sd": float(mean_prior_sd),
            "scale_prior_sd": float(scale_prior_sd), "prior_only": int(prior_only),
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
    return f.table(MARGINAL_PARAMS).rename(index=MARGINAL_NAMES)


def marginal_comparison(plain: RadonFit, marginal: Fit) -> pd.DataFrame:
    """The engine's MCSE comparison (:func:`fitting.mcse_comparison`: means, sds and
    the difference in combined MCSEs) for two programs that name the same quantities
    differently: the rows are matched through MARGINAL_NAMES."""
    a, b = coefficients(plain).reindex(MARGINAL_NAMES.values()), marginal_table(marginal)
    out = pd.DataFrame({"plain mean": a["mean"], "marginal mean": b["mean"],
                        "plain sd": a["sd"], "marginal sd": b["sd"]})
    out["difference / combined MCSE"] = (a["mean"] - b["mean"]) / np.hypot(
        a["mcse_mean"], b["mcse_mean"])
    return out


# --- independent references: least squares and REML ---------------------------

@reference
def reml(frame: pd.DataFrame, model: str) -> dict[str, float]:
    """The same model by least squares (complete and no pooling) or by REML
    (statsmodels MixedLM), keyed by the Stan parameter names."""
    import statsmodels.formula.api as smf   # here: slow to import; a rebuild needs none
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
                           version("statsmodels"), scipy.__version__, np.__version__]
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
    post = stacked(f.idata)
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
    post = stacked(f.idata)
    if f.design.model == "slopes":
        return post["alpha"].sel(cluster="county floor slope").values
    return post["beta"].sel(fixed="floor").values


def check_counties(frame: pd.DataFrame, names: list[str]) -> list[str]:
    """The partial-pooling figure's counties (``figure_counties``, ``--counties``),
    each a county_name of the data."""
    known = set(frame.county_name)
    if not names:
        raise DataError("figure_counties (--counties): give at least one county name "
                        f"(names as in column county_name, e.g. {sorted(known)[0]!r})")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DataError(f"figure_counties (--counties): no county named {unknown[0]!r} in "
                        f"the data (names as in column county_name, e.g. "
                        f"{sorted(known)[0]!r})")
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
    import matplotlib.pyplot as plt
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
    import matplotlib.pyplot as plt
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
    import matplotlib.pyplot as plt
    info = counties(frame)
    a = county_intercepts(frame, f)
    post = stacked(f.idata)
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
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for (key, f), colour in zip(fits.items(), ["0.5", "C1", "C0", "C2", "C3"]):
        post = stacked(f.idata)
        style = {"color": colour}
        report.kde_line(axes[0], floor_slope(f), **style)
        if "sigma_gamma" in post:
            report.kde_line(axes[1], post["sigma_gamma"].sel(cluster="county intercept"),
                            **style)
        report.kde_line(axes[2], post["sigma"], **style)
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


# --- the analysis --------------------------------------------------------------

# the programs this example fits (compiled together when the cache lacks them)
PROGRAMS = ("mixed_effects_clusters", "radon_intercepts_marginal")
DEFAULTS = RunOptions()
TITLE = "Minnesota radon: pooling, varying intercepts and slopes, county uranium"
# fit labels (r.fits) of the two extra fits besides the five MODELS
NESTED, MARGINAL_FIT = "slopes_nested", "uranium_marginal"
LABELS = {**MODELS, NESTED: "nested " + MODELS["slopes"],
          MARGINAL_FIT: MODELS["uranium"] + ", marginal program"}
# the marginal and the general program fit one posterior: their means agree when
# every difference is within this many combined Monte Carlo standard errors
AGREE_MCSE = 3.0
# the nested cluster means "hardly move" when they shift by less than this many
# posterior sd of the vague fit's
HARDLY_MOVE_SD = 0.3


def analyse(data=None, *, figure_counties=FIGURE_COUNTIES, formula: str | None = None,
            dropna: bool = False, prior_scale: float = 1.0, **run) -> Results:
    """Fit the five models, the nested slopes model and the marginal program to
    ``data`` (None: the Minnesota file; a CSV path; a DataFrame with the file's
    columns) and compare them.  ``figure_counties``: the counties of the
    partial-pooling figure (names, or one comma-separated string; the first is the
    answer's example of shrinkage).  ``run``: chains, iter_warmup, iter_sampling,
    seed, quiet, quick (see :class:`RunOptions`).

    ``formula`` (e.g. ``"score ~ ses + (1 + ses | school)"``): fit that gaussian
    mixed model to ``data`` instead (any CSV or DataFrame, read by
    :func:`data.read_table`; ``dropna`` drops rows with empty cells in its columns,
    ``prior_scale`` multiplies the default prior scales), beside complete pooling,
    REML and, for y ~ x + (1 | g), the marginal program; ``figure_counties`` is
    then unused."""
    opts = run_options(DEFAULTS, run)
    if formula is not None:
        return analyse_user(data, formula, dropna=dropna, prior_scale=prior_scale,
                            opts=opts)
    frame = load(data)
    programs.compile_all(PROGRAMS, quiet=opts.quiet)   # at once, up to a core each
    if isinstance(figure_counties, str):
        figure_counties = figure_counties.split(",")
    names = check_counties(frame, [c.strip() for c in figure_counties if c.strip()])
    fits = fit_all(frame, opts)
    for k in NOTES_PPC:    # replicates after sampling: the timings stay as sampled
        fits[k] = with_replicates(fits[k], opts)
    say(opts, "nested cluster means: slopes model again")
    nested = fit_model(frame, "slopes", opts, nested=True, pointwise=False)
    marginal = fit_marginal(frame, opts)
    every = {**fits, NESTED: nested, MARGINAL_FIT: marginal}

    tables = {k: coefficients(f) for k, f in fits.items()}
    refs = {k: cached_reml(frame, k) for k in fits}
    loo, loo_notes = loo_compare({MODELS[k]: f for k, f in fits.items()})
    info = counties(frame)
    small = info.index[info.name == names[0]][0]   # first county of the figure
    pooled = {"county": names[0], "houses": int(info.n[small]),
              "none": county_intercepts(frame, fits["none"])[:, small - 1].mean(),
              "partial": county_intercepts(frame, fits["intercepts"])[:, small - 1].mean(),
              "mean": tables["intercepts"].loc["alpha[county intercept]", "mean"]}
    text = answer(tables, {k: f.problems for k, f in fits.items()}, refs, loo, loo_notes,
                  pooled)
    if not opts.quiet:
        print(comparison_table(tables).to_string())
    return Results(
        "radon", TITLE, opts, every,
        tables={"design": design_table(frame),
                "comparison": comparison_table(tables),
                "coefficients": pd.concat({k: with_references(t, refs[k], k)
                                           for k, t in tables.items()},
                                          names=["model", "parameter"]),
                "nested": nested_table(fits["slopes"], nested),
                "loo": loo,
                "marginal": marginal_comparison(fits["uranium"], marginal),
                "efficiency": efficiency_table({LABELS[k]: f for k, f in every.items()})},
        answer=text,
        problems=[f"{LABELS[k]}: {p}" for k, f in every.items() for p in f.problems],
        data={"radon": frame},
        extras={"figure_counties": names, "loo_notes": loo_notes,
                "gamma_gap": gamma_gap(fits["uranium"], marginal),
                "predictor": lambda: notes_predictor(frame)})


# --- predictions for new houses (--predict) -----------------------------------

# the notes' models read new rows with one formula holding every column they use:
# X = (floor, log_uranium), the county (a number 1..J; another is a new county)
# and its intercept and floor slope
NOTES_FORMULA = "log_radon ~ floor + log_uranium + (1 + floor | county)"
# which columns of that X each model's X takes, and which county coefficients
# (0: intercept, 1: floor slope) its Z holds; no pooling (its X the floor and the
# county indicators) predicts rows of the data's counties only
PREDICTING = {"complete": ([0], []), "intercepts": ([0], [0]),
              "uranium": ([0, 1], [0]), "slopes": ([1], [0, 1])}


def slots(entries: list[list[tuple[int, int, float]]], S: int) -> dict:
    """The program's sparse Z rows for new rows: ``entries[i]`` the (column, cluster,
    value) of row i's non-zero random-effect columns, column 0 for a level not in
    the data (a new group: its cluster draws the effect), in at most ``S`` slots,
    the fitted rows' number."""
    n = len(entries)
    z_col, z_cluster, z_val = (np.zeros((S, n), int), np.zeros((S, n), int),
                               np.zeros((S, n)))
    for i, row in enumerate(entries):
        row = [e for e in row if e[2] != 0]
        if len(row) > S:
            raise PystanModelsError(f"row {i + 1} to predict has {len(row)} non-zero "
                                    f"random effects; the fitted rows had at most {S}")
        for r, (col, clu, val) in enumerate(row):
            z_col[r, i], z_cluster[r, i], z_val[r, i] = col, clu, val
    return {"z_col_pred": z_col, "z_cluster_pred": z_cluster, "z_val_pred": z_val}


def notes_predictor(frame: pd.DataFrame) -> predict.Predictor:
    """Every fit predicts: complete pooling, varying intercepts, + uranium and +
    floor slopes (and its nested refit) with X_pred the model's columns of (floor,
    log_uranium) and Z_pred the county's intercept (column county) and floor slope
    (column J + county); no pooling, for the data's counties only, with X_pred the
    floor and the county's indicator; and the marginal program of + uranium, from
    the county effects it draws."""
    d = formula.design(frame, NOTES_FORMULA, family="gaussian", check_rank=False,
                       source=frame.attrs.get("source", FRAME))
    J = len(d.groups[0].levels)

    def inputs_of(model: str):
        x_cols, coefs = PREDICTING[model]

        def inputs(rows: formula.NewRows) -> dict:
            index, Z = rows.groups[0]
            entries = [[(0 if j == 0 else k * J + j, k + 1, Z[i, k]) for k in coefs]
                       for i, j in enumerate(index)]
            return {"N_pred": len(index), "X_pred": rows.X[:, x_cols],
                    **slots(entries, len(coefs))}
        return inputs

    def no_pooling(rows: formula.NewRows) -> dict:    # X = floor, county indicators
        index = rows.groups[0][0]
        return {"N_pred": len(index), "X_pred": np.column_stack(
            [rows.X[:, 0], index[:, None] == np.arange(1, J + 1)]).astype(float),
                **slots([[] for _ in index], 0)}

    def marginal(rows: formula.NewRows) -> dict:    # X = floor, W = log uranium
        return {"N_pred": len(rows.X), "X_pred": rows.X[:, [0]],
                "W_pred": rows.X[:, [1]], "group_pred": rows.groups[0][0]}
    inputs = {m: inputs_of(m) if m in PREDICTING else no_pooling for m in MODELS}
    return predict.Predictor(d, {**inputs, NESTED: inputs["slopes"],
                                 MARGINAL_FIT: marginal}, known_groups_only=("none",))


def user_predictor(models: dict[str, "UserModel"], fits: dict) -> predict.Predictor:
    """A user's formula: each fit's X_pred its kept common terms standardised as its
    X was, Z_pred each group coefficient's column (scaled as Z was; 0 for a new
    level); the marginal program's (y ~ x + (1 | g)) X_pred the same, group_pred the
    row's level (0: new); the draws shifted back by the fit's shift of y."""
    um = models[FORMULA_FIT]
    inputs = {name: _user_inputs(m, fits[name].spec["data"]["S"])
              for name, m in models.items()}
    if USER_MARGINAL in fits:
        def marginal(rows: formula.NewRows) -> dict:
            X = _standardised(um, rows)
            return {"N_pred": len(X), "X_pred": X, "W_pred": np.zeros((len(X), 0)),
                    "group_pred": rows.groups[0][0]}
        inputs[USER_MARGINAL] = marginal
    shifts = {name: m.shift for name, m in models.items()}
    return predict.Predictor(um.fd, inputs, shifts={**shifts, USER_MARGINAL: um.shift})


def _standardised(um: "UserModel", rows: formula.NewRows) -> np.ndarray:
    """The rows' kept common terms, standardised as the fit's X was."""
    return (rows.X[:, um.common] - um.x_mean) / um.x_sd


def _user_inputs(um: "UserModel", S: int):
    groups = um.fd.groups if len(um.z_sd) else []     # complete pooling: none
    offsets = np.concatenate([[0], np.cumsum([len(g.levels) for g in groups
                                              for _ in g.coef_names])])

    def inputs(rows: formula.NewRows) -> dict:
        entries = [[] for _ in range(len(rows.X))]
        c = 0
        for (index, Z), g in zip(rows.groups, groups):
            for k in range(len(g.coef_names)):
                for i, j in enumerate(index):
                    entries[i].append((0 if j == 0 else offsets[c] + j, c + 1,
                                       Z[i, k] / um.z_sd[c]))
                c += 1
        X = _standardised(um, rows)
        return {"N_pred": len(X), "X_pred": X, **slots(entries, S)}
    return inputs


def predictor(data=None, *, formula: str | None = None, dropna: bool = False,
              **_) -> predict.Predictor:
    """How new rows are read (``--predict``; checked before any sampling)."""
    if formula is None:
        return notes_predictor(load(data))
    return predict.Predictor(user_design(data, formula, dropna)[1], {})


def user_design(data, formula_text: str, dropna: bool
                ) -> tuple[pd.DataFrame, formula.Design]:
    """The user's frame and its checked design (any gaussian mixed model)."""
    frame = read_table(DATA if data is None else data)
    return frame, formula.checked_structure(
        formula.design(frame, formula_text, family="gaussian",
                       source=frame.attrs["source"], dropna=dropna), example="radon")


def render(r: Results, rep: report.Report) -> None:
    """The report's sections: data, models, coefficients, partial pooling, the
    uranium effect, nested means, densities, LOO, traces, the fast program and
    timing; for a user's formula, :func:`render_user`."""
    if "user" in r.extras:
        return render_user(r, rep)
    frame, fits = r.data["radon"], r.fits
    info = counties(frame)
    source = frame.attrs.get("source", "")
    bundled = Path(source).is_file() and Path(source).resolve() == DATA.resolve()
    five = {k: fits[k] for k in MODELS}
    coef = r.table("coefficients")
    rep.section("Data", report.para(
        f"{len(frame)} houses in {len(info)} counties"
        + (" of Minnesota (EPA SRRS, as in Gelman & Hill 2007, ch. 12)" if bundled else "")
        + ". Outcome y = log radon, log(pCi/L) with 0 replaced by 0.1 (Gelman & Hill's "
        "transform; column log_radon, checked against radon); x = floor (0 basement, 1 "
        f"first floor; {int(frame.floor.sum())} houses on the first floor); u = county log "
        f"soil uranium (log ppm). Houses per county: median {int(info.n.median())}, range "
        f"{info.n.min()} to {info.n.max()}. Source: "
        + (f"{DATA.name}; see data/README.md." if bundled else f"{source}.")))
    rep.section("Models", report.para(
        "One general program fits all five models; the driver builds its X (no intercept "
        "column), Z and clusters per model:"),
        report.table(r.table("design"), index=False),
        report.para("An intercept is either fixed (beta[intercept], complete pooling) or "
                    "the mean of an intercept cluster, never both; the driver checks that "
                    "the fixed effects and the cluster-mean columns have full rank before "
                    "sampling. Gelman & Hill's mu_alpha is alpha[county intercept] here "
                    "and their sigma_alpha is sigma_gamma[county intercept]. The "
                    "programs' own descriptions:", "note"),
        report.models(fits.values()))
    rep.section("Coefficients compared", report.table(r.table("comparison")),
                report.para("Posterior mean (sd). No pooling has 85 county intercepts as "
                            "fixed effects; see the figures.", "note"))
    rep.section("Coefficients by model", *[
        f"<h3>{MODELS[k]}</h3>" + report.table(coef.loc[k].dropna(axis=1, how="all"),
                                               {"r_hat": 3, "ess_bulk": 0, "ess_tail": 0,
                                                "mcse_mean": 3})
        for k in MODELS],
        report.para("REML / LS: the same model by least squares (complete and no pooling) "
                    "or REML (statsmodels MixedLM; for the slopes model, independent "
                    "variance components). G&H 2007: Gelman & Hill, ch. 12 (lm and lmer). "
                    "A posterior mean of a poorly determined sd (the slopes model's two "
                    "sigma_gamma) sits away from the REML estimate, which is a mode of a "
                    "skewed likelihood; compare the medians and intervals.", "note"))
    rep.section("Partial pooling",
                report.figure(pooling_figure(frame, fits, r.extras["figure_counties"]),
                              "partial pooling by county"),
                report.para("Dashed: complete pooling (one line for all counties). Dotted: "
                            "no pooling (each county's own intercept, common floor slope). "
                            "Solid: partial pooling (varying-intercept model). Counties "
                            f"shown: {', '.join(r.extras['figure_counties'])}.", "note"),
                report.figure(shrinkage_figure(frame, fits), "shrinkage"))
    bu = coef.loc[("uranium", "beta[log_uranium]")]
    sd0 = coef.loc[("intercepts", "sigma_gamma[county intercept]"), "mean"]
    sd1 = coef.loc[("uranium", "sigma_gamma[county intercept]"), "mean"]
    rep.section("County-level uranium effect",
                report.figure(uranium_figure(frame, fits["uranium"]), "uranium"),
                report.para(f"The county log uranium coefficient is {bu['mean']:.2f} "
                            f"(sd {bu['sd']:.2f}); with it the sd of county intercepts "
                            f"is {sd1:.2f}, against {sd0:.2f} without."))
    nested = r.table("nested")
    means = nested.index[nested.index.str.startswith("alpha[")]
    shift = float(((nested.loc[means, "nested: mean"] - nested.loc[means, "vague: mean"])
                   .abs() / nested.loc[means, "vague: sd"]).max())
    trusted = not (fits["slopes"].problems or fits[NESTED].problems)
    rep.section("Nested cluster means", report.para(
        "The slopes model again, with the two cluster means (county intercepts, county "
        "floor slopes) drawn from N(0, sigma_alpha^2) instead of a vague prior. "
        + (f"The means move by at most {shift:.2f} posterior sd"
           + (": with only two means sigma_alpha is barely informed, and they hardly "
              "move." if shift < HARDLY_MOVE_SD else ".") if trusted else
           "A fit's diagnostics failed (see the list at the top): no comparison is "
           "drawn.")),
        report.table(nested))
    rep.section("Posterior densities", report.figure(density_figure(five), "densities"))
    rep.section("LOO comparison", report.table(r.table("loo"), 2),
                *[report.para(n, "problems") for n in r.extras["loo_notes"]],
                report.para(LOO_NOTE + " No pooling's single-house counties make high "
                            "Pareto k values likely.", "note"))
    rep.section("Trace plots", report.figure(trace_figure(fits["slopes"]), "trace slopes"))
    timing = r.table("efficiency")
    speed = timing["min bulk ESS / s"]
    plain, fast = speed[LABELS["uranium"]], speed[LABELS[MARGINAL_FIT]]
    comparison = r.table("marginal")
    worst = float(comparison["difference / combined MCSE"].abs().max())
    if fits["uranium"].problems or fits[MARGINAL_FIT].problems:
        verdict = ("A fit's diagnostics failed (see the list at the top): no comparison "
                   "of the two posteriors is drawn.")
    elif worst <= AGREE_MCSE:
        verdict = (f"Same model, same priors: the posterior means agree within Monte "
                   f"Carlo error (at most {worst:.1f} combined MCSEs apart).")
    else:
        verdict = (f"Same model, same priors, yet a posterior mean differs by {worst:.1f} "
                   "combined MCSEs, more than Monte Carlo error explains: run longer "
                   "chains before trusting either.")
    rep.section("Fast program: county effects integrated out", report.para(
        f"{MARGINAL}.stan fits the varying intercepts + county uranium model with the county "
        "effects integrated out analytically: per-county sums of squares and cross products "
        "(computed once) make each gradient cost O(counties) instead of O(houses), and the "
        f"85 county effects are drawn afterwards from their normal full conditionals. "
        f"{verdict} Minimum bulk ESS per second is {fast / plain:.1f} times the general "
        f"program's ({fast:.0f} vs {plain:.0f})."),
        report.table(comparison, {"difference / combined MCSE": 2}),
        report.para(MCSE_NOTE + " County effects gamma_j: the largest difference between "
                    "the two programs' posterior means is "
                    f"{r.extras['gamma_gap']:.2f} posterior sd.", "note"))
    rep.section("Timing", report.table(timing, {"compile (s)": 1, "sampling (s)": 1,
                                                "min bulk ESS": 0, "min bulk ESS / s": 1,
                                                "step size": 3,
                                                "leapfrog steps per draw": 1}),
                report.para("min bulk ESS over each fit's tabulated parameters (not the "
                            "85+ random effects). compile (s): blank when the executable "
                            "came from the compile cache.", "note"))


def answer(tables: dict[str, pd.DataFrame], problems: dict[str, list[str]],
           refs: dict[str, dict], loo: pd.DataFrame, loo_notes: list[str],
           pooled: dict) -> str:
    """The answer paragraph, from the posterior tables of the five models, each
    fit's failed diagnostics, the REML / LS references, the LOO table and its
    Pareto-k notes, and ``pooled`` (one small county: its name, houses, no-pooling
    and partial-pooling intercepts and the mean intercept).

    A claim is made only from fits whose diagnostics passed; every comparison
    ("lower", "falls", "towards the mean", "best") is decided from the numbers."""
    failed = {m: p for m, p in problems.items() if p}

    def ok(*models):
        return not any(m in failed for m in models)

    def interval(row):
        return f"95% interval {row['2.5%']:.2f} to {row['97.5%']:.2f}"

    out = []
    if failed:
        out.append(
            "The sampler diagnostics failed for "
            + "; ".join(f"the {MODELS[m]} fit ({p[0]})" for m, p in failed.items())
            + ". Draws that fail them need not represent the posterior, so the "
            "numbers of " + ("that fit are" if len(failed) == 1 else "those fits are")
            + " left out of this answer and no conclusion rests on them. The run is "
            "probably too short: run longer chains (e.g. --iter-warmup 1000 "
            "--iter-sampling 1000 or more) and check the problems listed below.")
    if ok("intercepts"):
        floor = tables["intercepts"].loc["beta[floor]"]
        if floor["97.5%"] < 0 or floor["2.5%"] > 0:
            lower = floor["mean"] < 0
            lo, hi = (-floor["97.5%"], -floor["2.5%"]) if lower else (floor["2.5%"],
                                                                    floor["97.5%"])
            out.append(
                f"A first-floor measurement has {'lower' if lower else 'higher'} log radon "
                f"than a basement one by {abs(floor['mean']):.2f} (95% interval {lo:.2f} "
                f"to {hi:.2f}) in the varying-intercept model, a factor of "
                f"{np.exp(floor['mean']):.2f}.")
        else:
            out.append(f"The floor effect (first floor minus basement) is "
                       f"{floor['mean']:.2f} ({interval(floor)}, which includes 0) in "
                       "the varying-intercept model.")
        sd0 = tables["intercepts"].loc["sigma_gamma[county intercept]"]
        out.append(f"The sd of county intercepts is {sd0['mean']:.2f} ({interval(sd0)}; "
                   f"residual sd {tables['intercepts'].loc['sigma', 'mean']:.2f}).")
    if ok("uranium"):
        bu = tables["uranium"].loc["beta[log_uranium]"]
        sd1 = tables["uranium"].loc["sigma_gamma[county intercept]"]
        text = (f"County soil uranium has coefficient {bu['mean']:.2f} ({interval(bu)}) "
                "per unit log ppm")
        if ok("intercepts"):
            sd0 = tables["intercepts"].loc["sigma_gamma[county intercept]"]["mean"]
            if sd1["mean"] < sd0:
                text += (f"; with it the sd of county intercepts falls from {sd0:.2f} to "
                         f"{sd1['mean']:.2f}, so it accounts for about "
                         f"{1 - (sd1['mean'] / sd0) ** 2:.0%} of the between-county "
                         "variance")
            else:
                text += (f"; with it the sd of county intercepts is {sd1['mean']:.2f} "
                         f"({sd0:.2f} without)")
        out.append(text + ".")
    if not failed:
        out.append(loo_sentence(loo, loo_notes))
    if ok("none", "intercepts"):
        p = pooled
        towards = abs(p["partial"] - p["mean"]) < abs(p["none"] - p["mean"])
        out.append(
            f"{'Partial pooling moves small counties towards the mean' if towards else 'Partial pooling'}"
            f": {p['county']} ({p['houses']} houses) has intercept {p['none']:.2f} without "
            f"pooling and {p['partial']:.2f} with it (mean county intercept "
            f"{p['mean']:.2f}).")
    passed = [m for m in tables if ok(m)]
    published = {m: PUBLISHED[m] for m in passed if m in PUBLISHED}
    if published:
        out.append(f"Posterior means sit within {largest_gap(tables, published):.2f} "
                   "posterior sd of Gelman & Hill's (2007) estimates"
                   + (" (models with passing diagnostics only)" if failed else "") + ".")
    firm = {m: {k: v for k, v in refs[m].items() if not (m == "slopes" and "gamma" in k)}
            for m in passed}
    if firm:
        gap_firm = largest_gap(tables, firm)
        gap_all = largest_gap(tables, {m: refs[m] for m in passed})
        out.append(
            f"They sit within {gap_firm:.2f} sd of least-squares / REML fits of the "
            "same models" + (
                f", except the slopes model's two poorly determined county sds "
                f"({gap_all:.2f} sd: REML is the mode of a skewed likelihood, the "
                "posterior mean is not)." if gap_all > gap_firm else "."))
    return " ".join(out)


def loo_sentence(loo: pd.DataFrame, notes: list[str]) -> str:
    """The LOO ranking in words, qualified where the numbers ask for it: the first
    two within two standard errors (not told apart), or PSIS-LOO unreliable
    (Pareto k) for either of them (provisional)."""
    flagged = [name for name in loo.index if any(n.startswith(f"{name}:") for n in notes)]
    best, second = loo.index[0], loo.index[1]
    d, s = loo.elpd_diff.iloc[1], loo.dse.iloc[1]   # >= 0: how far below the best
    trails = "; ".join(f"{k} trails by {diff:.1f} ± {se:.1f}" for k, diff, se in
                       zip(loo.index[1:], loo.elpd_diff.iloc[1:], loo.dse.iloc[1:]))
    unreliable = (f" PSIS-LOO is unreliable for some houses in {', '.join(flagged)} "
                  "(Pareto k > 0.7; see the LOO section)." if flagged else "")
    text = f"By LOO {best} has the highest elpd; {trails} elpd."
    if d <= 2 * s:
        text += (f" The top two ({best}; {second}) are within two standard errors of "
                 "each other: LOO does not tell them apart.")
    if best in flagged or second in flagged:
        text += " The ranking is provisional:"
    return text + unreliable


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
        x = d.fixed
        rows.append({"model": label,
                     "fixed effects (flat prior)": ", ".join(x) if len(x) < 5 else
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



# --- a user's data and formula ---------------------------------------------------

# The formula path fits the same program to any gaussian formula: common terms are X
# (the intercept the design's flag), each coefficient of each group term one cluster
# of Z (one column per group level), so "(1 + ses | school)" is two clusters, the
# school intercepts and the school ses slopes, each with its own sd: independent
# varying coefficients, lme4's (1 + ses || school).  Priors are rstanarm's defaults
# on standardised predictors (see user_priors).
FORMULA_FIT, POOLED_FIT, USER_MARGINAL = "formula", "complete pooling", "formula, marginal"
PPC_FITS = (*NOTES_PPC, FORMULA_FIT, POOLED_FIT)


@dataclass
class UserModel:
    """A formula design in the program's terms: ``d`` fits y - ``shift`` with X's
    columns (the common terms ``common`` of ``fd.X``) standardised (centred, when
    the formula has an intercept, and divided by ``x_sd``) and each cluster's Z
    columns divided by ``z_sd``; the posterior is put back on the user's scale by
    :func:`user_scale`.  ``choices``: centred or not, per cluster (the clusters
    sampled centred are ``d.centred``)."""
    fd: formula.Design
    d: Design
    shift: float
    x_mean: np.ndarray
    x_sd: np.ndarray
    z_sd: np.ndarray              # per cluster
    shift_cluster: int | None     # a free intercept mean that takes the shift
    common: list[int] = field(default_factory=list)   # fd.X's columns in d.X
    choices: list[centring.Choice] = field(default_factory=list)

    @property
    def fixed(self) -> list[str]:
        return ["Intercept"] * self.d.intercept + list(self.d.X.columns)

    @property
    def terms(self) -> list[str]:
        """The formula's common terms, the intercept first: the posterior's beta on
        the user's scale (a centred cluster's mean stands for its term)."""
        return ["Intercept"] * self.fd.intercept + list(self.fd.common_names)

    @property
    def free(self) -> list[str]:
        """The clusters whose mean is free (not a common term's coefficient)."""
        return [c for c, m in zip(self.d.cluster_names, self.d.has_mean) if m]


def term_of(coef: str) -> str:
    """The term a group coefficient varies: ``1|school`` -> Intercept, ``ses|school``
    -> ses."""
    term = coef.rsplit("|", 1)[0]
    return "Intercept" if term == "1" else term


def user_model(fd: formula.Design, groups: bool = True,
               centred: bool | list[bool] | None = None) -> UserModel:
    """The program's design for ``fd`` (its common terms only with ``groups=False``:
    the complete-pooling comparison).  Each cluster is centred or not by
    :func:`centring.gaussian` (``centred``: None, that rule; True / False, every
    cluster; a list, per cluster); a centred cluster's term, when it is a common
    term (the intercept, a slope), leaves X and becomes the cluster's free mean."""
    n = len(fd.y)
    F = np.hstack([np.ones((n, 1)), fd.X])   # the groups' spread about an intercept
    cols, z_names, cluster, cluster_names, z_sd, choices = [], [], [], [], [], []
    for g in (fd.groups if groups else []):
        onehot = (g.index[:, None] == np.arange(1, len(g.levels) + 1)[None, :])
        for l, coef in enumerate(g.coef_names):
            z = g.Z[:, l]
            s = float(np.std(z, ddof=1))
            s = s if s > 0 else 1.0
            cols.append(onehot * (z / s)[:, None])
            z_names += [f"{coef}[{lev}]" for lev in g.levels]
            cluster += [len(cluster_names) + 1] * len(g.levels)
            cluster_names.append(coef)
            z_sd.append(s)
            choices.append(centring.gaussian(coef, fd.y, F, g.index,
                                             None if np.ptp(z) == 0 else z))
    if centred is None or isinstance(centred, bool):
        centred = [ch.centred if centred is None else centred for ch in choices]
    centred = [int(bool(k)) for k in centred]
    moved = {term_of(c) for c, k in zip(cluster_names, centred) if k}
    intercept = fd.intercept and "Intercept" not in moved
    common = [i for i, name in enumerate(fd.common_names) if name not in moved]
    X, names = fd.X[:, common], [fd.common_names[i] for i in common]
    x_mean = X.mean(0) if fd.intercept else np.zeros(X.shape[1])
    x_sd = np.where(fd.x_sd[common] > 0, fd.x_sd[common], 1.0)
    Z = np.hstack(cols) if cols else np.zeros((n, 0))
    cluster = np.asarray(cluster, int)
    # a cluster mean is free unless its column (the sum of its Z columns) lies in the
    # span of the fixed effects and the means already free (identification note);
    # centred clusters claim theirs first
    span = np.hstack([np.ones((n, int(intercept))), X])
    has_mean, shift_cluster = [0] * len(cluster_names), None
    for c in sorted(range(len(cluster_names)), key=lambda c: not centred[c]):
        col = Z[:, cluster == c + 1].sum(1, keepdims=True)
        wider = np.hstack([span, col])
        free = np.linalg.matrix_rank(wider) > (np.linalg.matrix_rank(span)
                                               if span.shape[1] else 0)
        has_mean[c] = int(free)
        if free:
            span = wider
            if shift_cluster is None and np.ptp(col) == 0:
                shift_cluster = c
    has_constant = intercept or shift_cluster is not None
    Xs = pd.DataFrame((X - x_mean) / x_sd, columns=names)
    d = Design("formula" if groups and fd.groups else "complete", Xs, Z, z_names,
               cluster, cluster_names, has_mean, intercept=intercept, centred=centred)
    return UserModel(fd, d, float(np.mean(fd.y)) if has_constant else 0.0, x_mean,
                     x_sd, np.asarray(z_sd), shift_cluster, common, choices)


def user_priors(fd: formula.Design, prior_scale: float) -> dict[str, float]:
    """The program's three prior scales on the standardised design, from
    :func:`formula.default_priors`: rstanarm's normal(0, 2.5 sd(y) / sd(x)) on each
    coefficient is normal(0, 2.5 sd(y)) per sd of x (beta_prior_sd), its intercept
    normal(mean(y), 2.5 sd(y)) at the predictors' means is normal(0, 2.5 sd(y)) on
    y - mean(y) (beta_prior_sd; mean_prior_sd for a free cluster mean); the program
    puts half-normal(0, sd(y)) on sigma and the group-level sds (scale_prior_sd,
    where rstanarm has exponential(1 / sd(y)): the same scale)."""
    p = formula.default_priors(fd, prior_scale)
    sy = 1 / p["sigma"]["rate"]               # prior_scale * sd(y)
    return {"beta_prior_sd": 2.5 * sy, "mean_prior_sd": 2.5 * sy, "scale_prior_sd": sy}


def user_priors_table(um: UserModel, scales: dict[str, float], prior_scale: float
                      ) -> pd.DataFrame:
    sy = scales["scale_prior_sd"]
    rows = []
    if um.d.intercept:
        rows.append(("Intercept", f"normal({um.shift:.4g}, {2.5 * sy:.4g})",
                     "2.5 sd(y), at the predictors' means", "beta_prior_sd"))
    for name, s in zip(um.d.X.columns, um.x_sd):
        rows.append((name, f"normal(0, {2.5 * sy / s:.4g})", "2.5 sd(y) / sd(x)",
                     "beta_prior_sd"))
    for c in np.flatnonzero(um.d.has_mean):
        name, s = um.d.cluster_names[c], um.z_sd[c]
        where = um.shift if c == um.shift_cluster else 0.0
        rows.append((f"{term_of(name)} (mean of {name})",
                     f"normal({where:.4g}, {2.5 * sy / s:.4g})", "2.5 sd(y) / sd(x)",
                     "mean_prior_sd"))
    for c, s in zip(um.d.cluster_names, um.z_sd):
        rows.append((f"sd({c})", f"half-normal(0, {sy / s:.4g})", "sd(y) / sd(x)",
                     "scale_prior_sd"))
    rows.append(("sigma", f"half-normal(0, {sy:.4g})", "sd(y)", "scale_prior_sd"))
    order = {t: i for i, t in enumerate(um.terms)}     # the formula's terms first
    rows.sort(key=lambda row: order.get(row[0].split(" (")[0], len(order)))
    out = pd.DataFrame(rows, columns=["parameter", "prior", "scale used", "set in"])
    out["set in"] = out["set in"] + f" (--prior-scale {prior_scale:g})"
    return out


def fit_user(um: UserModel, opts: RunOptions, scales: dict[str, float]) -> RadonFit:
    """Sample the program on ``um``'s standardised design and put the draws on the
    user's scale (R-hat and ESS, judged before, do not change under it)."""
    d = um.d
    data = stan_data(um.fd.y - um.shift, d, y_rep=True, **scales)
    main = (["beta"] if um.fixed else []) + (["alpha_free"] if um.free else []) + (
        ["sigma_gamma"] if d.has_mean else []) + ["sigma"]
    f = sample(PROGRAM, data, opts, main=main, observed={"y": um.fd.y - um.shift},
               coords={"fixed": um.fixed, "cluster": d.cluster_names, "free": um.free,
                       "ranef": d.z_names, "obs": np.arange(len(um.fd.y))},
               dims={"beta": ["fixed"], "theta": ["fixed"], "alpha": ["cluster"],
                     "alpha_free": ["free"], "sigma_gamma": ["cluster"],
                     "gamma": ["ranef"], "z": ["ranef"], "y": ["obs"]})
    user_scale(f, um)
    return RadonFit(**vars(f), design=d)


def user_scale(f: Fit, um: UserModel) -> None:
    """The draws of beta, the cluster means, sds and effects on the user's scale."""
    post = f.idata["posterior"].to_dataset()
    d, z_sd = um.d, um.z_sd
    level = np.asarray(um.shift)   # what the intercept (fixed or a cluster mean) gains
    if um.fixed:
        b = post["beta"].values.copy()
        k0 = int(d.intercept)
        slopes = b[..., k0:] / um.x_sd
        level = um.shift - slopes @ um.x_mean
        if d.intercept:
            b[..., 0] += level
        b[..., k0:] = slopes
        post["beta"] = (post["beta"].dims, b)
    for name, scale in (("alpha", z_sd), ("sigma_gamma", z_sd),
                        ("alpha_free", z_sd[np.flatnonzero(d.has_mean)]),
                        ("gamma", z_sd[d.cluster - 1])):
        if name in post and post[name].size:
            post[name] = (post[name].dims, post[name].values / scale)
    if um.shift_cluster is not None:
        c = um.shift_cluster
        post["alpha"][..., c] += level
        post["alpha_free"][..., um.free.index(d.cluster_names[c])] += level
        post["gamma"][..., np.flatnonzero(d.cluster == c + 1)] += level[..., None]
    moved = [i for i, c in enumerate(um.free)
             if term_of(c) in um.terms and term_of(c) not in um.fixed]
    if moved:   # centred clusters' means are their common terms' coefficients: beta
        free = post["alpha_free"].values
        coef = dict(zip(um.fixed, np.moveaxis(post["beta"].values, -1, 0)))
        coef.update({term_of(um.free[i]): free[..., i] for i in moved})
        keep = [i for i in range(len(um.free)) if i not in moved]
        post = post.drop_vars(["beta", "theta", "alpha_free", "fixed", "free"]).assign(
            beta=(("chain", "draw", "fixed"), np.stack([coef[t] for t in um.terms], -1)),
            alpha_free=(("chain", "draw", "free"), free[..., keep])).assign_coords(
            fixed=um.terms, free=[um.free[i] for i in keep])
        f.main[:] = ["beta"] + [v for v in f.main if v != "beta"
                                and (v != "alpha_free" or keep)]
    rescale(f, post, um.shift)


def user_table(f: Fit) -> pd.DataFrame:
    """The posterior table named after the formula's terms: Intercept, ses, ...;
    a free cluster mean after its term; sd(1|school); sigma."""
    table = f.table().copy()
    table.index = [name_of(i) for i in table.index]
    return table


def name_of(stan_name: str) -> str:
    var, _, inner = stan_name.partition("[")
    inner = inner.rstrip("]")
    return {"beta": inner, "alpha_free": term_of(inner) if inner else "",
            "sigma_gamma": f"sd({inner})"}.get(var, stan_name)


def user_marginal(um: UserModel, opts: RunOptions, scales: dict[str, float]) -> Fit:
    """radon_intercepts_marginal on a one-intercept-cluster design (y ~ x + (1 | g)):
    X standardised as in the general program, no group-level predictors, alpha the
    intercept; on the user's scale, named as :func:`user_table` names rows."""
    (g,) = um.fd.groups
    X = um.d.X.to_numpy(float)
    data = {"N": len(um.fd.y), "K": X.shape[1], "X": X.tolist(),
            "y": (um.fd.y - um.shift).tolist(), "J": len(g.levels),
            "group": [int(j) for j in g.index], "L": 0, "W": [[] for _ in g.levels],
            "prior_only": 0, "pointwise": 0, **scales}
    main = (["beta"] if X.shape[1] else []) + ["alpha", "sigma_gamma", "sigma"]
    f = sample(MARGINAL, data, opts, main=main,
               coords={"fixed": list(um.d.X.columns), "group": g.levels},
               dims={"beta": ["fixed"], "gamma": ["group"]})
    post = f.idata["posterior"].to_dataset()
    if X.shape[1]:
        slopes = post["beta"].values / um.x_sd
        post["beta"] = (post["beta"].dims, slopes)
        post["alpha"] = post["alpha"] + um.shift - slopes @ um.x_mean
    rescale(f, post, um.shift)
    return f


def marginal_user_comparison(plain: Fit, marginal: Fit) -> pd.DataFrame:
    a = user_table(plain)
    b = marginal.table().copy()
    b.index = [{"alpha": "Intercept", "sigma_gamma": f"sd({plain.design.cluster_names[0]})"
                }.get(i, name_of(i)) for i in b.index]
    b = b.reindex(a.index)
    out = pd.DataFrame({"plain mean": a["mean"], "marginal mean": b["mean"],
                        "plain sd": a["sd"], "marginal sd": b["sd"]})
    out["difference / combined MCSE"] = (a["mean"] - b["mean"]) / np.hypot(
        a["mcse_mean"], b["mcse_mean"])
    return out


@reference
def user_reml(um: UserModel) -> dict[str, float] | None:
    """The same model by least squares (no group terms) or REML (statsmodels MixedLM,
    one grouping factor, each varying coefficient its own variance component as in
    the program), keyed by :func:`user_table`'s names; None where statsmodels cannot
    fit it (two or more grouping factors)."""
    import statsmodels.formula.api as smf   # here: slow to import; a rebuild needs none
    import warnings
    fd, d = um.fd, um.d
    if len(fd.groups) > 1:
        return None
    free = [i for i, m in enumerate(d.has_mean) if m]
    fixed = [np.ones(len(fd.y))] * d.intercept + list(fd.X[:, um.common].T) + [
        fd.groups[0].Z[:, i] for i in free]
    names = um.fixed + [term_of(d.cluster_names[i]) for i in free]
    frame = pd.DataFrame({"y": fd.y, **{f"f{i}": c for i, c in enumerate(fixed)}})
    rhs = " + ".join(["0"] + [f"f{i}" for i in range(len(fixed))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not fd.groups:
            r = smf.ols(f"y ~ {rhs}", frame).fit()
            out = dict(zip(names, r.params))
        else:
            (g,) = fd.groups
            frame["g"] = g.index
            if g.coef_names == [f"1|{g.factor}"]:
                model = smf.mixedlm(f"y ~ {rhs}", frame, groups="g")
            else:
                for l in range(g.Z.shape[1]):
                    frame[f"z{l}"] = g.Z[:, l]
                model = smf.mixedlm(f"y ~ {rhs}", frame, groups="g", re_formula="0",
                                    vc_formula={f"v{l:03d}": f"0 + z{l}"
                                                for l in range(g.Z.shape[1])})
            try:
                r = best_reml(model)
            except RuntimeError:
                return None
            out = dict(zip(names, r.fe_params))
            var = ([r.cov_re.iloc[0, 0]] if g.coef_names == [f"1|{g.factor}"]
                   else r.vcomp)
            out.update({f"sd({c})": np.sqrt(v) for c, v in zip(g.coef_names, var)})
    out["sigma"] = np.sqrt(r.scale)
    return {k: float(v) for k, v in out.items()}


def analyse_user(data, formula_text: str, *, dropna: bool, prior_scale: float,
                 opts: RunOptions) -> Results:
    """The formula path of :func:`analyse`: the user's model, the same common terms
    with complete pooling (for LOO), the marginal program for y ~ x + (1 | g), and
    least squares or REML beside them."""
    frame, fd = user_design(data, formula_text, dropna)
    scales = user_priors(fd, prior_scale)
    um = user_model(fd)
    single = (len(fd.groups) == 1
              and fd.groups[0].coef_names == [f"1|{fd.groups[0].factor}"])
    programs.compile_all(PROGRAMS if single else (PROGRAM,), quiet=opts.quiet)
    fits = {FORMULA_FIT: fit_user(um, opts, scales)}
    pooled = user_model(fd, groups=False)
    if fd.groups and pooled.fixed:
        say(opts, "complete pooling: the common terms alone")
        fits[POOLED_FIT] = fit_user(pooled, opts, scales)
    every = dict(fits)
    if single:
        every[USER_MARGINAL] = user_marginal(um, opts, scales)
    tables = {k: user_table(f) for k, f in fits.items()}
    ref = user_reml(um)
    coef = tables[FORMULA_FIT].copy()
    if ref is not None:
        coef["REML" if fd.groups else "LS"] = pd.Series(ref)
    out = {"coefficients": coef, "priors": user_priors_table(um, scales, prior_scale),
           "centring": centring.table(um.choices)}
    loo, loo_notes = (loo_compare(fits) if len(fits) > 1 else (None, []))
    if loo is not None:
        out["loo"] = loo
        out["comparison"] = pd.concat({k: t[["mean", "sd", "2.5%", "97.5%"]]
                                       for k, t in tables.items()}, axis=1)
    if single:
        out["marginal"] = marginal_user_comparison(fits[FORMULA_FIT], every[USER_MARGINAL])
    out["efficiency"] = efficiency_table(every)
    problems = [f"{k}: {p}" for k, f in every.items() for p in f.problems]
    failed = [k for k, f in fits.items() if f.problems]
    text = user_answer(fd, coef, fits[FORMULA_FIT].problems, ref,
                       None if failed else loo, loo_notes)
    if failed and loo is not None and FORMULA_FIT not in failed:
        text += (" No LOO ranking is stated: the complete-pooling fit's diagnostics "
                 "failed.")
    if not opts.quiet:
        print(coef.round(3).to_string())
    return Results(
        "radon", f"Mixed effects on {Path(frame.attrs['source']).name}: {fd.formula}",
        opts, every, tables=out, answer=text, problems=problems, data={"data": frame},
        extras={"user": um, "loo_notes": loo_notes, "prior_scale": prior_scale,
                "predictor": user_predictor(
                    {FORMULA_FIT: um, **({POOLED_FIT: pooled} if POOLED_FIT in fits
                                         else {})}, every),
                "centring": um.choices})


def user_answer(fd: formula.Design, coef: pd.DataFrame, problems: list[str],
                ref: dict | None, loo: pd.DataFrame | None, loo_notes: list[str]) -> str:
    """The answer for a user's formula, from its posterior table (and REML / LS
    column), its diagnostics and the LOO comparison with complete pooling; with
    failed diagnostics no posterior number is given."""
    if problems:
        return ("The sampler diagnostics failed for the formula's fit ("
                + "; ".join(problems) + "). Draws that fail them need not represent "
                "the posterior, so no estimate is given here: run longer chains (e.g. "
                "--iter-warmup 1000 --iter-sampling 1000 or more) and check the "
                "problems listed below.")
    out = []
    for name in fd.common_names:
        row = coef.loc[name]
        zero = row["2.5%"] <= 0 <= row["97.5%"]
        out.append(f"{name}: {row['mean']:.3g} (95% interval {row['2.5%']:.3g} to "
                   f"{row['97.5%']:.3g}{', which includes 0' if zero else ''})")
    text = ((f"Change in {fd.response_name} per unit of each common term: "
             + "; ".join(out) + ".") if out else "")
    sds = [i for i in coef.index if i.startswith("sd(")]
    if sds:
        text += (" Group-level sds: " + "; ".join(
            f"{i} {coef.loc[i, 'mean']:.3g} ({coef.loc[i, '2.5%']:.3g} to "
            f"{coef.loc[i, '97.5%']:.3g})" for i in sds)
            + f", against a residual sd of {coef.loc['sigma', 'mean']:.3g}.")
    else:
        text += f" Residual sd {coef.loc['sigma', 'mean']:.3g}."
    if loo is not None:
        text += " " + loo_sentence(loo, loo_notes)
    if ref is not None:
        col = "REML" if fd.groups else "LS"
        gap = max(abs(coef.loc[k, "mean"] - v) / coef.loc[k, "sd"] for k, v in ref.items())
        text += (f" The posterior means sit within {gap:.2f} posterior sd of the "
                 f"{'REML' if fd.groups else 'least-squares'} fit of the same model "
                 f"(column {col}).")
    else:
        text += (" statsmodels' MixedLM fits one grouping factor only: no REML "
                 "comparison for this formula.")
    return text.strip()


def render_user(r: Results, rep: report.Report) -> None:
    """The report for a user's formula: data, model, priors, coefficients, LOO
    against complete pooling, the marginal program (y ~ x + (1 | g)), densities,
    traces and timing."""
    um, frame = r.extras["user"], r.data["data"]
    fd, fits = um.fd, r.fits
    groups = "; ".join(
        f"{g.factor}: {len(g.levels)} groups, {int(np.median(np.bincount(g.index)[1:]))}"
        f" rows per group (median, range {np.bincount(g.index)[1:].min()} to "
        f"{np.bincount(g.index)[1:].max()})" for g in fd.groups)
    rep.section("Data", report.para(
        f"{len(fd.y)} rows of {frame.attrs['source']} used"
        + (f" ({fd.dropped_rows} rows with empty cells dropped, --dropna)"
           if fd.dropped_rows else "") + f"; response {fd.response_name} (mean "
        f"{np.mean(fd.y):.4g}, sd {fd.y_sd:.4g}). " + (groups + "." if groups else
                                                       "No group terms.")))
    clusters = ", ".join(
        f"{c} ({'centred' if k else 'non-centred'}; mean "
        f"{'free' if m else 'in the common terms'})"
        for c, m, k in zip(um.d.cluster_names, um.d.has_mean, um.d.centred)) or "none"
    rep.section("Model", report.para(
        f"Formula {fd.formula}: common terms {', '.join(um.terms) or 'none'}; clusters "
        f"of varying coefficients {clusters}. Each varying coefficient is its own "
        "cluster with its own sd, independent of the others (lme4's (1 + x || g)): "
        "the program has no correlation between a group's intercept and slope. A "
        "non-centred cluster's mean is the coefficient of the common term it varies "
        "when the formula has that term, otherwise it is free; a centred cluster's "
        "mean is free wherever another cluster does not already hold it, and is then "
        "that term's coefficient (a fixed coefficient beside centred effects about 0 "
        "would be a ridge). The program's own description:"),
        report.models(fits.values()),
        *([report.para(centring.text(um.choices)),
           report.table(r.table("centring"), 2, index=False)] if um.choices else []))
    rep.section("Priors", report.table(r.table("priors"), index=False), report.para(
        "rstanarm's default priors (Gabry & Goodrich, 'Prior Distributions for rstanarm "
        "Models'), scaled to these data; the program takes them as normal(0, s) on the "
        "standardised predictors and y - mean(y), and half-normal sds of the same "
        "scale where rstanarm has exponential(1 / sd(y)). --prior-scale multiplies "
        "every scale.", "note"))
    ref = "REML" if fd.groups else "LS"
    rep.section("Coefficients", report.table(r.table("coefficients"), {
        "r_hat": 3, "ess_bulk": 0, "ess_tail": 0, "mcse_mean": 4}),
        report.para(f"{ref}: the same model by "
                    + ("REML (statsmodels MixedLM, one variance component per varying "
                       "coefficient)" if fd.groups else "least squares")
                    + ", where statsmodels can fit it (one grouping factor). A "
                    "posterior mean of a poorly determined sd sits above the REML "
                    "estimate, the mode of a skewed likelihood.", "note"))
    if "loo" in r.tables:
        rep.section("Complete pooling compared", report.table(r.table("comparison"), 3),
                    report.table(r.table("loo"), 2),
                    *[report.para(n, "problems") for n in r.extras["loo_notes"]],
                    report.para(LOO_NOTE, "note"))
    if "marginal" in r.tables:
        worst = float(r.table("marginal")["difference / combined MCSE"].abs().max())
        speed = r.table("efficiency")["min bulk ESS / s"]
        rep.section("Fast program: group effects integrated out", report.para(
            f"{MARGINAL}.stan fits the same model with the group effects integrated out "
            "(per-group sufficient statistics: each gradient costs O(groups)); the "
            f"posterior means differ by at most {worst:.1f} combined MCSEs. Minimum "
            f"bulk ESS per second is {speed[USER_MARGINAL] / speed[FORMULA_FIT]:.1f} "
            f"times the general program's ({speed[USER_MARGINAL]:.0f} vs "
            f"{speed[FORMULA_FIT]:.0f})."),
            report.table(r.table("marginal"), {"difference / combined MCSE": 2}),
            report.para(MCSE_NOTE, "note"))
    f = fits[FORMULA_FIT]
    names = f.main
    rep.section("Posterior densities", report.figure(report.density_figure(
        {k: fits[k] for k in (FORMULA_FIT, POOLED_FIT) if k in fits},
        [v for v in ("beta", "sigma") if v in names], "Posterior densities"),
        "densities"))
    rep.section("Trace plots", report.figure(report.trace_figure(
        f.idata, names, f"Trace plots: {fd.formula}"), "trace"))
    rep.section("Timing", report.table(r.table("efficiency"), {
        "compile (s)": 1, "sampling (s)": 1, "min bulk ESS": 0, "min bulk ESS / s": 1,
        "step size": 3, "leapfrog steps per draw": 1}))



def main(argv: list[str] | None = None) -> int:
    def extend(p):
        p.add_argument("--data", default=DATA, help="radon CSV (default: %(default)s)")
        p.add_argument("--counties", dest="figure_counties", default=",".join(FIGURE_COUNTIES),
                       help="comma-separated county names for the partial-pooling figure")
        cli.add_formula_options(p)
    return cli.main(sys.modules[__name__], __doc__.splitlines()[0], argv, extend, DEFAULTS)


if __name__ == "__main__":
    sys.exit(main())
