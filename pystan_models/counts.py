"""Poisson, overdispersed and hurdle Poisson counts (roaches, epilepsy).

Roaches (Gelman & Hill 2007, 6.2 and 8.3): roaches trapped in 262 apartments
after a pest-management treatment, with the pre-treatment count, a
senior-building indicator and the number of trap-days (exposure, an offset).
A third of the counts are zero and the variance is a hundred times the mean.
Three programs are fitted: Poisson regression, the overdispersed Poisson
(a normal observation-level effect on the log rate) and the hurdle Poisson;
they are compared by posterior predictive checks of the share of zeros and of
the variance-to-mean ratio, and by PSIS-LOO.

Epilepsy (Thall & Vail 1990; BUGS "Epil", Breslow & Clayton model III):
seizure counts of 59 patients at 4 visits; the overdispersed Poisson with a
patient random effect, checked against the published BUGS posterior and
compared with a plain Poisson regression.

Predictor choice for the roaches: ``roach1 / 100`` (pre-treatment roaches in
hundreds), as in the rstanarm vignette; this is Gelman & Hill's model with the
coefficient per 100 roaches.  (``sqrt(roach1)``, used in some case studies,
tames the skew but is a different model.)

    from pystan_models import counts
    r = counts.analyse()                              # the bundled data sets
    r = counts.analyse(roaches_frame, epilepsy_frame, chains=4, seed=1)
    r.fits["roaches: overdispersed Poisson"].idata
    r.table("roaches_ppc"), r.answer
    r.write_report("counts.html")
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from . import centring, cli, predict, programs, report
from . import data as datasets
from . import formula as formulas
from .data import Column, check_rows, data_file, prepare, shown
from .errors import DataError, PystanModelsError
from .fitting import (LOO_NOTE, Fit, RunOptions, draws, efficiency_table, loo_compare,
                      pareto_k, reference, run_options, sample)
from .results import Results

# the programs this example fits (compiled together when the cache lacks them)
PROGRAMS = ("counts_poisson", "counts_overdispersed", "counts_hurdle",
            "counts_overdispersed_grouped")
# the outcome's kind, for the report's predictive checks (report.predictive_checks)
OUTCOME = "counts"
DEFAULTS = RunOptions()
TITLE = "Counts: Poisson, overdispersed and hurdle Poisson regression"
ROACHES = data_file("roaches.csv")
EPILEPSY = data_file("epilepsy.csv")
ROACH_COLUMNS = [Column("y", "count"), Column("roach1"), Column("treatment", "binary"),
                 Column("senior", "binary"), Column("exposure2", positive=True)]
EPILEPSY_COLUMNS = [Column("patient", "int", positive=True), Column("visit", "int", positive=True),
                    Column("count", "count"), Column("treatment", "binary"),
                    Column("base", "count", positive=True), Column("age", positive=True),
                    Column("v4", "binary"), Column("log_base4"), Column("log_age")]

# predictor coordinate -> what it is (the report's row labels)
ROACH_PREDICTORS = {"roach1": "pre-treatment roaches (per 100)",
                    "treatment": "pest-management treatment",
                    "senior": "senior building"}
# named as the BUGS Epil coefficients alpha.Base, alpha.Trt, ...
EPILEPSY_PREDICTORS = {"Base": "log(Base / 4), baseline seizures per 2 weeks",
                       "Trt": "progabide (Trt)",
                       "BT": "Trt x log(Base / 4)",
                       "Age": "log(Age)",
                       "V4": "fourth visit (V4)"}

# the parameters each program is diagnosed on
MAIN = {"counts_poisson": ["alpha", "beta"],
        "counts_overdispersed": ["alpha", "beta", "sigma"],
        "counts_hurdle": ["alpha_1", "beta_1", "alpha_2", "beta_2"],
        "counts_overdispersed_grouped": ["alpha", "beta", "sigma", "sigma_group"]}
# the fits of each data set: label -> program
ROACH_MODELS = {"Poisson": "counts_poisson", "overdispersed Poisson": "counts_overdispersed",
                "hurdle Poisson": "counts_hurdle"}
EPIL_MODEL = "overdispersed Poisson + patient effect"
EPILEPSY_MODELS = {"Poisson": "counts_poisson", EPIL_MODEL: "counts_overdispersed_grouped"}
# Gauss-Hermite nodes of the overdispersed programs' log_lik (their `int Q = 20`)
GH_NODES = 20
# Pareto k above this: PSIS-LOO is unreliable for the observation
K_BAD = 0.7
# the posterior predictive p-value column of the PPC tables
P_COL = "P(T(y_rep) >= T(y))"


# ---------------------------------------------------------------- data

def _check_roaches(frame: pd.DataFrame, source: str) -> None:
    check_rows(source, frame, "roach1", frame.roach1 < 0, "is a negative roach count")
    _check_varies(source, frame, ["roach1", "treatment", "senior"])


def _check_epilepsy(frame: pd.DataFrame, source: str) -> None:
    check_rows(source, frame, "log_base4",
               ~np.isclose(frame.log_base4, np.log(frame.base / 4), rtol=0, atol=1e-6),
               "is not log(base / 4)")
    check_rows(source, frame, "log_age",
               ~np.isclose(frame.log_age, np.log(frame.age), rtol=0, atol=1e-6),
               "is not log(age)")
    check_rows(source, frame, "v4", frame.v4 != (frame.visit == 4), "is not (visit == 4)")
    check_rows(source, frame, "visit", frame.duplicated(["patient", "visit"]),
               "repeats a visit already given for this patient")
    first = frame.groupby("patient").transform("first")
    for col in ("treatment", "base", "age"):
        check_rows(source, frame, col, frame[col] != first[col],
                   f"differs from this patient's first row (a patient has one {col})")
    _check_varies(source, frame, ["log_base4", "treatment", "log_age", "v4"])


def _check_varies(source, frame: pd.DataFrame, columns: list[str]) -> None:
    for col in columns:
        if frame[col].nunique() < 2:
            raise DataError(f"{source}, column '{col}': every row has the value "
                            f"{shown(frame[col].iloc[0])}, so its coefficient cannot be estimated")


def _prepare(name: str, data, default: Path, columns: list[Column], check) -> pd.DataFrame:
    """:func:`prepare`, with the data set named in the message when it is not a file
    (two data frames in memory would otherwise both be "data frame")."""
    try:
        return prepare(data, default, columns, check)
    except DataError as exc:
        if data is None or isinstance(data, (str, Path)):
            raise
        raise DataError(f"{name} {exc}") from None


def load_roaches(data=ROACHES) -> pd.DataFrame:
    """The validated roaches frame: ``data`` is a CSV path (default: the bundled
    file) or a DataFrame with columns y, roach1, treatment, senior, exposure2."""
    return _prepare("roaches", data, ROACHES, ROACH_COLUMNS, _check_roaches)


def load_epilepsy(data=EPILEPSY) -> pd.DataFrame:
    """The validated epilepsy frame (one row per patient and visit): ``data`` is a
    CSV path (default: the bundled file) or a DataFrame with columns patient, visit,
    count, treatment, base, age, v4, log_base4, log_age."""
    return _prepare("epilepsy", data, EPILEPSY, EPILEPSY_COLUMNS, _check_epilepsy)


def load(roaches=None, epilepsy=None) -> dict[str, pd.DataFrame]:
    """Both validated frames, {"roaches": ..., "epilepsy": ...} (as ``Results.data``);
    each argument is None (the bundled file), a CSV path or a DataFrame."""
    return {"roaches": load_roaches(roaches), "epilepsy": load_epilepsy(epilepsy)}


def roaches_data(frame: pd.DataFrame, **switches) -> dict:
    """Stan data for the roaches: y, X = (roach1/100, treatment, senior), log exposure."""
    X = np.column_stack([frame.roach1 / 100, frame.treatment, frame.senior])
    return _glm_data(frame.y, X, np.log(frame.exposure2), **switches)


def patients(frame: pd.DataFrame) -> np.ndarray:
    """The patient ids in the order of the programs' group index 1, ..., J."""
    return pd.factorize(frame.patient)[1].to_numpy()


def epilepsy_data(frame: pd.DataFrame, **switches) -> dict:
    """Stan data for Epil model III: X = (log(Base/4), Trt, Trt log(Base/4), log(Age),
    V4); no exposure (every period is 2 weeks); patients as groups."""
    X = np.column_stack([frame.log_base4, frame.treatment, frame.treatment * frame.log_base4,
                         frame.log_age, frame.v4])
    data = _glm_data(frame["count"], X, np.zeros(len(frame)), **switches)
    codes, uniques = pd.factorize(frame.patient)
    data.update(J=len(uniques), group=(codes + 1).tolist(), centred=0)   # non-centred
    return data


# the programs' prior fields as the notes set them: alpha_c ~ normal(0, 5),
# beta_std ~ normal(0, 2.5), sigma (and sigma_group) ~ exponential(1)
NOTES_PRIORS = {"alpha_prior_sd": 5.0, "beta_prior_sd": 2.5, "scale_prior_rate": 1.0}


def _glm_data(y, X: np.ndarray, log_exposure, *, prior_only: bool = False,
              pointwise: bool = True, priors: dict | None = None) -> dict:
    """The data every count program reads (the grouped one adds J and group):
    ``prior_only`` switches the likelihood off, ``pointwise`` writes log_lik and y_rep;
    ``priors``: the prior fields (default: the notes' :data:`NOTES_PRIORS`)."""
    return {"N": len(y), "K": X.shape[1], "X": np.asarray(X, dtype=float).tolist(),
            "log_exposure": np.asarray(log_exposure, dtype=float).tolist(),
            "y": [int(v) for v in y], "prior_only": int(prior_only),
            "pointwise": int(pointwise),
            **{k: float(v) for k, v in (priors or NOTES_PRIORS).items()}}


# ---------------------------------------------------------------- fits

def mle_poisson(frame: pd.DataFrame) -> pd.DataFrame:
    """Maximum-likelihood Poisson regression with offset log(exposure2) (statsmodels)."""
    data = roaches_data(frame)
    return poisson_mle(frame.y, data["X"], data["log_exposure"],
                       ["alpha"] + [f"beta[{k}]" for k in ROACH_PREDICTORS])


@reference
def poisson_mle(y, X, log_exposure, names: list[str]) -> pd.DataFrame:
    """statsmodels' Poisson GLM of y on [1, X] with offset log_exposure: estimates
    and standard errors, indexed by ``names`` (the intercept first)."""
    import statsmodels.api as sm   # here: slow to import; a rebuild needs none
    exog = sm.add_constant(np.asarray(X, dtype=float), has_constant="add")
    res = sm.GLM(np.asarray(y), exog, family=sm.families.Poisson(),
                 offset=np.asarray(log_exposure, dtype=float)).fit()
    return pd.DataFrame({"MLE": np.asarray(res.params), "MLE se": np.asarray(res.bse)},
                        index=names)


def _coords(frame: pd.DataFrame, predictors: dict) -> tuple[dict, dict]:
    coords = {"predictor": list(predictors), "obs": np.arange(len(frame))}
    dims = {"y": ["obs"], "z": ["obs"], "log_rate": ["obs"]}
    for name in ("beta", "beta_std", "beta_1", "beta_1std", "beta_2", "beta_2std"):
        dims[name] = ["predictor"]
    return coords, dims


def fit_roaches(frame: pd.DataFrame, opts: RunOptions) -> dict[str, Fit]:
    data = roaches_data(frame)
    coords, dims = _coords(frame, ROACH_PREDICTORS)
    return {label: sample(program, data, opts, main=MAIN[program], observed={"y": frame.y},
                          coords=coords, dims=dict(dims))
            for label, program in ROACH_MODELS.items()}


def fit_epilepsy(frame: pd.DataFrame, opts: RunOptions) -> dict[str, Fit]:
    data = epilepsy_data(frame)
    coords, dims = _coords(frame, EPILEPSY_PREDICTORS)
    coords["patient"] = patients(frame)          # unique ids, in the group order
    dims.update(u=["patient"], b1=["patient"])
    return {label: sample(program, data, opts, main=MAIN[program],
                          observed={"y": frame["count"]}, coords=coords, dims=dict(dims))
            for label, program in EPILEPSY_MODELS.items()}


# ---------------------------------------------------------------- checks

def log_rate_without_noise(fit: Fit, data: dict) -> np.ndarray:
    """Draws x N of log_exposure_i + alpha + X_i beta (+ b1 of the group), without
    epsilon_i."""
    idata = fit.idata
    eta = (draws(idata, "alpha")[:, None] + draws(idata, "beta") @ np.asarray(data["X"]).T
           + np.asarray(data["log_exposure"]))
    if "b1" in idata.posterior:
        eta = eta + draws(idata, "b1")[:, np.asarray(data["group"]) - 1]
    return eta


def conditional_log_lik(fit: Fit, data: dict) -> np.ndarray:
    """log Poisson(y_i | mu_i): the log-likelihood given epsilon_i (draws x N)."""
    if "log_rate" in fit.idata.posterior:   # sampled directly (roaches program)
        log_rate = draws(fit.idata, "log_rate")
    else:                                   # epsilon_i = sigma z_i (grouped program)
        log_rate = (log_rate_without_noise(fit, data)
                    + draws(fit.idata, "sigma")[:, None] * draws(fit.idata, "z"))
    return stats.poisson.logpmf(np.asarray(data["y"]), np.exp(log_rate))


def loo_results(fits: dict[str, Fit]) -> tuple[pd.DataFrame, list[str], dict[str, np.ndarray]]:
    """The engine's LOO comparison and Pareto-k notes, plus each fit's Pareto k
    (one PSIS-LOO per fit: the report needs the overdispersed fit's k again)."""
    table, notes = loo_compare(fits)
    return table, notes, table.attrs["pareto_k"]


def pareto_k_table(k: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per log-likelihood: observations with Pareto k above K_BAD, of how many, max k."""
    return pd.DataFrame({"observations with k > 0.7": [int((v > K_BAD).sum()) for v in k.values()],
                         "observations": [v.size for v in k.values()],
                         "max k": [float(v.max()) for v in k.values()]}, index=list(k))


def ppc_statistics(y_rep: np.ndarray) -> dict[str, np.ndarray]:
    """Share of zeros and variance-to-mean ratio of each replicated data set (rows);
    the ratio is NaN for a data set of zeros only."""
    y_rep = np.atleast_2d(y_rep)
    mean = y_rep.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(mean > 0, y_rep.var(axis=1, ddof=1) / mean, np.nan)
    return {"share of zeros": (y_rep == 0).mean(axis=1), "variance / mean": ratio}


def ppc_table(fits: dict[str, Fit], y) -> pd.DataFrame:
    observed = {k: v[0] for k, v in ppc_statistics(np.asarray(y)).items()}
    rows = []
    for label, f in fits.items():
        for stat, values in ppc_statistics(draws(f.idata, "y", "posterior_predictive")).items():
            lo, med, hi = np.nanquantile(values, [0.025, 0.5, 0.975])
            rows.append({"model": label, "statistic": stat, "observed": observed[stat],
                         "replicated median": med, "2.5%": lo, "97.5%": hi,
                         P_COL: (values >= observed[stat]).mean()})
    return pd.DataFrame(rows)


def ppc_figure(fits: dict[str, Fit], y, data_name: str):
    import matplotlib.pyplot as plt
    observed = {k: v[0] for k, v in ppc_statistics(np.asarray(y)).items()}
    fig, axes = plt.subplots(2, len(fits), figsize=(4.2 * len(fits), 6.5), squeeze=False)
    for col, (label, f) in enumerate(fits.items()):
        reps = ppc_statistics(draws(f.idata, "y", "posterior_predictive"))
        for row, (stat, values) in enumerate(reps.items()):
            ax = axes[row, col]
            if stat == "variance / mean":  # right-skewed: a log scale shows it whole
                values, obs = np.log10(values), np.log10(observed[stat])
                xlabel = "log10(variance / mean) of y_rep"
            else:
                obs, xlabel = observed[stat], "share of zeros in y_rep"
            with np.errstate(divide="ignore"):   # a ratio of 0 or NaN is not drawn
                values = values[np.isfinite(values)]
            lo, hi = min(values.min(), obs), max(values.max(), obs)
            pad = 0.08 * (hi - lo or 1)
            if stat == "share of zeros":  # one bin per possible number of zeros
                n = len(y)
                bins = (np.arange(np.floor(lo * n), np.ceil(hi * n) + 2) - 0.5) / n
            else:
                bins = np.linspace(lo - pad, hi + pad, 50)
            ax.hist(values, bins=bins, color="C0", alpha=0.7, label="replicated")
            ax.axvline(obs, color="C3", lw=2, label=f"observed ({observed[stat]:.3g})")
            ax.set(xlim=(lo - pad, hi + pad), xlabel=xlabel,
                   ylabel="number of draws", title=f"{label}: {stat}")
            ax.legend(fontsize=8)
    fig.suptitle(f"{data_name}: posterior predictive checks (observed value in red)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- tables

BUGS_EPIL = {"alpha": -1.288, "beta[Base]": 0.8725, "beta[Trt]": -0.9468,
             "beta[BT]": 0.3433, "beta[Age]": 0.4549, "beta[V4]": -0.1039,
             "sigma": 0.3629, "sigma_group": 0.4995}
BUGS_NAMES = {"alpha": "alpha0", "beta[Base]": "alpha.Base", "beta[Trt]": "alpha.Trt",
              "beta[BT]": "alpha.BT", "beta[Age]": "alpha.Age", "beta[V4]": "alpha.V4",
              "sigma": "sigma.b", "sigma_group": "sigma.b1"}


def ratio_summary(idata, name: str, predictors: dict) -> pd.Series:
    """exp(coefficient): posterior median [95% interval], one string per predictor."""
    ratios = np.exp(draws(idata, name))
    lo, med, hi = np.quantile(ratios, [0.025, 0.5, 0.975], axis=0)
    return pd.Series([f"{m:.3f} [{a:.3f}, {b:.3f}]" for m, a, b in zip(med, lo, hi)],
                     index=list(predictors.values()))


def roach_ratio_table(fits: dict[str, Fit], mle: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "Poisson RR": ratio_summary(fits["Poisson"].idata, "beta", ROACH_PREDICTORS),
        "Poisson RR, MLE": [f"{np.exp(mle.loc[f'beta[{k}]', 'MLE']):.3f}"
                            for k in ROACH_PREDICTORS],
        "overdispersed RR": ratio_summary(fits["overdispersed Poisson"].idata, "beta",
                                          ROACH_PREDICTORS),
        "hurdle: count part RR": ratio_summary(fits["hurdle Poisson"].idata, "beta_2",
                                               ROACH_PREDICTORS),
        "hurdle: zero part OR": ratio_summary(fits["hurdle Poisson"].idata, "beta_1",
                                              ROACH_PREDICTORS)})
    out.index.name = "predictor"
    return out


def treatment_ratios(fits: dict[str, Fit]) -> pd.DataFrame:
    """The treatment's rate ratio in each roaches model, posterior median and 95%
    interval (hurdle: the positive counts' Poisson rate), and the interval's width on
    the log scale."""
    rows = {}
    for label, f in fits.items():
        name = "beta_2" if "hurdle" in label else "beta"
        log_rr = f.idata.posterior[name].sel(predictor="treatment").values.ravel()
        lo, med, hi = np.quantile(log_rr, [0.025, 0.5, 0.975])
        rows[label] = {"median": np.exp(med), "2.5%": np.exp(lo), "97.5%": np.exp(hi),
                       "log width": hi - lo}
    return pd.DataFrame(rows).T


def epilepsy_table(f: Fit) -> pd.DataFrame:
    """The grouped fit's posterior table (computed once per fit) beside BUGS's means."""
    table = f.table(MAIN["counts_overdispersed_grouped"]).copy()
    table.insert(0, "BUGS name", [BUGS_NAMES[i] for i in table.index])
    table.insert(3, "BUGS mean", [BUGS_EPIL[i] for i in table.index])
    return table


def bugs_agreement(table: pd.DataFrame, sd_fraction: float = 0.2,
                   n_mcse: float = 3.0) -> pd.Series:
    """Whether each posterior mean is within ``sd_fraction`` posterior sd plus
    ``n_mcse`` Monte Carlo standard errors of the BUGS mean (the test's criterion)."""
    tol = sd_fraction * table["sd"] + n_mcse * table["mcse_mean"]
    return (table["mean"] - table["BUGS mean"]).abs() <= tol


def progabide_rate_ratio(f: Fit, frame: pd.DataFrame) -> np.ndarray:
    """Draws of exp(beta_Trt + beta_BT * mean log(Base/4)): progabide's rate ratio
    for a patient with the average baseline."""
    beta = f.idata.posterior["beta"]
    log_rr = beta.sel(predictor="Trt") + beta.sel(predictor="BT") * frame.log_base4.mean()
    return np.exp(log_rr.values.ravel())


def interval(values: np.ndarray) -> pd.Series:
    """Posterior median and 95% interval."""
    lo, med, hi = np.quantile(values, [0.025, 0.5, 0.975])
    return pd.Series({"median": med, "2.5%": lo, "97.5%": hi})


def _fmt_interval(row: pd.Series) -> str:
    return f"{row['median']:.2f} [{row['2.5%']:.2f}, {row['97.5%']:.2f}]"


# ---------------------------------------------------------------- the answer

def _ppc_row(table: pd.DataFrame, model: str, stat: str) -> pd.Series:
    return table[(table.model == model) & (table.statistic == stat)].iloc[0]


def _misfit(table: pd.DataFrame, model: str) -> list[str]:
    """How the model's replications miss the observed statistics (posterior
    predictive p outside [0.025, 0.975]); empty when they cover both."""
    words = {"share of zeros": ("too few zeros", "too many zeros"),
             "variance / mean": ("too little spread", "too much spread")}
    out = []
    for stat, (low, high) in words.items():
        p = _ppc_row(table, model, stat)[P_COL]
        if p < 0.025:
            out.append(low)
        elif p > 0.975:
            out.append(high)
    return out


def _ppc_sentence(table: pd.DataFrame, model: str) -> str:
    z, v = _ppc_row(table, model, "share of zeros"), _ppc_row(table, model, "variance / mean")
    misses = _misfit(table, model)
    verdict = "both cover the observed values" if not misses else " and ".join(misses)
    return (f"the {model}'s replications have {z['replicated median']:.1%} zeros (p = "
            f"{z[P_COL]:.2f}) and a variance-to-mean ratio of {v['replicated median']:,.0f} "
            f"(p = {v[P_COL]:.2f}): {verdict}")


def _failed_sentence(failed: dict[str, list[str]]) -> str:
    listed = "; ".join(f"{name} ({probs[0]}{', and more' if len(probs) > 1 else ''})"
                       for name, probs in failed.items())
    return (f"Sampler diagnostics failed for {listed}. Nothing below rests on "
            f"{'that fit' if len(failed) == 1 else 'those fits'}: the chains have not "
            "explored the posterior reliably (run longer chains, e.g. --iter-warmup 2000 "
            "--iter-sampling 2000, and see the list of failed diagnostics).")


def _loo_sentence(loo: pd.DataFrame, bad_k: dict[str, int], failed: list[str]) -> str:
    """The LOO ranking in words (no final full stop), only when every fit in it
    passed its diagnostics."""
    if failed:
        return (f"No LOO ranking is stated: it would rest on {', '.join(failed)}, whose "
                "diagnostics failed")
    best, second = loo.index[0], loo.index[1]
    diff, dse = loo.elpd_diff.iloc[1], loo.dse.iloc[1]
    margin = ("by a wide margin" if diff > 4 * dse else "clearly" if diff > 2 * dse
              else "but not decisively")
    gaps = ", ".join(f"{m} by {d:.0f} ± {s:.0f}" for m, d, s in
                     zip(loo.index[1:], loo.elpd_diff.iloc[1:], loo.dse.iloc[1:]))
    text = f"PSIS-LOO prefers the {best} {margin} (ahead of {gaps} elpd)"
    shaky = {m: k for m, k in bad_k.items() if k and m in (best, second)}
    if shaky:
        text += ("; PSIS-LOO is unreliable for " + ", ".join(
            f"{k} observations of the {m}" for m, k in shaky.items())
            + " (Pareto k > 0.7), so the margin is approximate")
    return text


def answer(r_ppc: pd.DataFrame, r_loo: pd.DataFrame, r_bad_k: dict[str, int],
           r_trt: pd.DataFrame, k_cond: np.ndarray, k_int: np.ndarray,
           e_ppc: pd.DataFrame, e_loo: pd.DataFrame, e_bad_k: dict[str, int],
           e_table: pd.DataFrame, e_rr: pd.Series,
           problems: dict[str, dict[str, list[str]]]) -> str:
    """The answer paragraph, every claim computed from the tables passed in.

    ``r_*``: roaches, ``e_*``: epilepsy; ``*_ppc``: :func:`ppc_table`; ``*_loo``:
    the LOO comparison and ``*_bad_k`` each model's count of Pareto k > 0.7;
    ``r_trt``: :func:`treatment_ratios`; ``k_int``, ``k_cond``: the overdispersed
    fit's Pareto k with epsilon integrated out and given epsilon; ``e_table``:
    :func:`epilepsy_table`; ``e_rr``: progabide's rate ratio (:func:`interval`);
    ``problems``: data set -> model -> failed diagnostics.  Nothing is said that
    rests on a fit whose diagnostics failed."""
    failed = {f"{data}: {m}": p for data, fits in problems.items()
              for m, p in fits.items() if p}
    ok = {data: [m for m, p in fits.items() if not p] for data, fits in problems.items()}
    parts = [_failed_sentence(failed)] if failed else []

    # roaches: the posterior predictive checks
    z_obs = _ppc_row(r_ppc, r_ppc.model.iloc[0], "share of zeros")["observed"]
    vm_obs = _ppc_row(r_ppc, r_ppc.model.iloc[0], "variance / mean")["observed"]
    r_ok = ok["roaches"]
    roach = f"Roaches ({z_obs:.0%} zeros, variance {vm_obs:.0f} times the mean)"
    if r_ok:
        parts.append(f"{roach}: " + "; ".join(_ppc_sentence(r_ppc, m) for m in r_ok) + ".")
        fitting = [m for m in r_ok if not _misfit(r_ppc, m)]
        if fitting:
            parts.append(f"Only the {' and the '.join(fitting)} "
                         f"{'covers' if len(fitting) == 1 else 'cover'} both statistics.")
        else:
            parts.append("None of "
                         + ("them" if len(r_ok) > 1 else "it")
                         + " gets both the zeros and the spread.")
            if "hurdle Poisson" in r_ok and (
                    "too little spread" in _misfit(r_ppc, "hurdle Poisson")):
                parts.append("A hurdle count part with its own overdispersion (e.g. a "
                             "hurdle negative binomial) is the natural next model.")
    else:
        parts.append(f"{roach}: no roaches fit passed its diagnostics.")

    # roaches: LOO
    loo_text = _loo_sentence(r_loo, r_bad_k,
                             [f"roaches: {m}" for m in r_loo.index if m not in r_ok])
    od = "overdispersed Poisson"
    if od in r_ok:
        n_int, n_cond = int((k_int > K_BAD).sum()), int((k_cond > K_BAD).sum())
        loo_text += (f". The overdispersed model's integrated log-likelihood leaves {n_int} "
                     f"Pareto k above 0.7, against {n_cond} of {k_cond.size} for the "
                     "log-likelihood given epsilon_i")
    parts.append(loo_text + ".")

    # roaches: the treatment's rate ratio
    trt_ok = [m for m in r_trt.index if m in r_ok]
    if trt_ok:
        rr = {m: _fmt_interval(r) for m, r in r_trt.loc[trt_ok].iterrows()}
        text = ("The treatment's rate ratio, median [95%], is "
                + ", ".join(f"{v} under the {m}" for m, v in rr.items()))
        below = [m for m in trt_ok if r_trt.loc[m, "97.5%"] < 1]
        if len(below) == len(trt_ok):
            text += (": " + ("every interval lies" if len(trt_ok) > 1 else "the interval lies")
                     + " below 1, so treatment lowers the counts")
        elif below:
            text += f": below 1 only under the {' and the '.join(below)}"
        else:
            text += ": no interval lies wholly below 1"
        if od in trt_ok:
            narrower = {m: r_trt.loc[od, "log width"] / r_trt.loc[m, "log width"]
                        for m in trt_ok if m != od}
            narrower = {m: w for m, w in narrower.items() if w >= 1.5}
            if narrower:
                text += ("; on the log scale the " + " and the ".join(
                    f"{m}'s interval is {w:.1f} times narrower" for m, w in narrower.items())
                    + " than the overdispersed model's")
                under = [m for m in narrower if "too little spread" in _misfit(r_ppc, m)]
                if under:
                    text += (f", overconfident where the {' and the '.join(under)} "
                             f"{'underplays' if len(under) == 1 else 'underplay'} the spread")
        parts.append(text + ".")

    # epilepsy
    e_ok = ok["epilepsy"]
    if EPIL_MODEL in e_ok:
        close = bugs_agreement(e_table)
        trt = e_table.loc["beta[Trt]"]
        nums = (f"alpha.Trt {trt['mean']:.2f} ± {trt['sd']:.2f} vs BUGS "
                f"{trt['BUGS mean']:.2f}; sigma.b1 {e_table.loc['sigma_group', 'mean']:.2f} "
                f"vs {e_table.loc['sigma_group', 'BUGS mean']:.2f}; sigma.b "
                f"{e_table.loc['sigma', 'mean']:.2f} vs {e_table.loc['sigma', 'BUGS mean']:.2f}")
        if close.all():
            text = ("Epilepsy: the overdispersed Poisson with a patient effect agrees with "
                    "the published BUGS Epil posterior means (each within 0.2 posterior sd "
                    f"plus 3 MCSE; {nums})")
        else:
            off = ", ".join(e_table.loc[~close, "BUGS name"])
            text = ("Epilepsy: the overdispersed Poisson with a patient effect differs from "
                    f"the published BUGS Epil posterior means for {off} (by more than 0.2 "
                    f"posterior sd plus 3 MCSE; {nums})")
        text += (f"; progabide's rate ratio at the average baseline is "
                 f"{_fmt_interval(e_rr)} (median [95%])")
        v = _ppc_row(e_ppc, EPIL_MODEL, "variance / mean")
        covered = "too little spread" not in _misfit(e_ppc, EPIL_MODEL) and (
            "too much spread" not in _misfit(e_ppc, EPIL_MODEL))
        text += (f". Its replications {'cover' if covered else 'miss'} the observed "
                 f"variance-to-mean ratio (p = {v[P_COL]:.2f})")
        if "Poisson" in e_ok:
            pv = _ppc_row(e_ppc, "Poisson", "variance / mean")[P_COL]
            pois_covered = 0.025 <= pv <= 0.975
            text += ("; a plain Poisson regression's replications "
                     f"{'also do' if pois_covered else 'do not'} (p = {pv:.2f})")
        parts.append(text + ".")
    else:
        parts.append("Epilepsy: the overdispersed Poisson with a patient effect failed its "
                     "diagnostics; its comparison with BUGS is not stated.")
    e_loo_text = _loo_sentence(e_loo, e_bad_k,
                               [f"epilepsy: {m}" for m in e_loo.index if m not in e_ok])
    parts.append(e_loo_text.replace("PSIS-LOO prefers", "For epilepsy, PSIS-LOO prefers", 1)
                 + ".")
    return " ".join(parts)


# ---------------------------------------------------------------- analysis

def analyse(roaches=None, epilepsy=None, *, data=None, formula=None, exposure=None,
            dropna: bool = False, prior_scale: float = 1.0, **run) -> Results:
    """Fit the three roaches programs and the two epilepsy programs, check them and
    compare them.  ``roaches``, ``epilepsy``: None (the bundled data), a CSV path or
    a DataFrame.  ``run``: chains, iter_warmup, iter_sampling, seed, quiet, quick
    (see :class:`RunOptions`).

    With a ``formula`` (lme4 syntax, e.g. ``"visits ~ age + C(sex)"`` or ``"seizures
    ~ treat * base + (1 | patient)"``), the same programs are fitted to a user's data
    set instead: ``data`` (or the first argument) a CSV path or DataFrame, ``exposure``
    a column of positive exposure times (an offset), ``dropna`` drops rows with empty
    cells, ``prior_scale`` multiplies the default prior scales (see
    :func:`analyse_formula`)."""
    opts = run_options(DEFAULTS, run)
    if formula is not None:
        if epilepsy is not None or (roaches is not None and data is not None):
            raise PystanModelsError("with a formula give one data set (data=, --data); "
                                    "roaches and epilepsy are the notes' data sets")
        return analyse_formula(data if data is not None else roaches, formula, opts,
                               exposure=exposure, dropna=dropna, prior_scale=prior_scale)
    unused = [name for name, v in (("data", data), ("exposure", exposure),
                                   ("dropna", dropna)) if v not in (None, False)]
    unused += ["prior_scale"] if prior_scale != 1.0 else []
    if unused:
        raise PystanModelsError(f"{', '.join(unused)} go(es) with a formula (--formula); "
                                "without one counts fits the notes' models to the "
                                "roaches and epilepsy data")
    frames = load(roaches, epilepsy)
    r_frame, e_frame = frames["roaches"], frames["epilepsy"]
    programs.compile_all(PROGRAMS, quiet=opts.quiet)   # at once, up to a core each
    r_fits = fit_roaches(r_frame, opts)
    e_fits = fit_epilepsy(e_frame, opts)

    r_ppc = ppc_table(r_fits, r_frame.y)
    e_ppc = ppc_table(e_fits, e_frame["count"])
    r_loo, r_notes, r_k = loo_results(r_fits)          # one PSIS-LOO per fit
    e_loo, e_notes, e_k = loo_results(e_fits)
    od = r_fits["overdispersed Poisson"]
    k_int = r_k["overdispersed Poisson"]
    k_cond = pareto_k(od.idata, conditional_log_lik(od, roaches_data(r_frame)))
    mle = mle_poisson(r_frame)
    trt = treatment_ratios(r_fits)
    e_table = epilepsy_table(e_fits[EPIL_MODEL])
    e_rr = interval(progabide_rate_ratio(e_fits[EPIL_MODEL], e_frame))
    problems = {"roaches": {m: f.problems for m, f in r_fits.items()},
                "epilepsy": {m: f.problems for m, f in e_fits.items()}}
    text = answer(r_ppc, r_loo, {m: int((k > K_BAD).sum()) for m, k in r_k.items()},
                  trt, k_cond, k_int, e_ppc, e_loo,
                  {m: int((k > K_BAD).sum()) for m, k in e_k.items()}, e_table, e_rr,
                  problems)

    fits = {f"roaches: {m}": f for m, f in r_fits.items()} | {
        f"epilepsy: {m}": f for m, f in e_fits.items()}
    coefficients = pd.concat({m: f.table() for m, f in r_fits.items()},
                             names=["model", "parameter"])
    if not opts.quiet:
        print_summary(fits)
    return Results(
        "counts", TITLE, opts, fits,
        tables={"roaches_ppc": r_ppc, "roaches_loo": r_loo,
                "roaches_pareto_k": pareto_k_table(
                    {**{f"{m}": k for m, k in r_k.items()},
                     "overdispersed Poisson, given epsilon_i": k_cond}),
                "roaches_rate_ratios": roach_ratio_table(r_fits, mle),
                "roaches_treatment": trt, "roaches_coefficients": coefficients,
                "roaches_mle": mle, "epilepsy_bugs": e_table,
                "epilepsy_progabide": e_rr.to_frame("progabide rate ratio").T,
                "epilepsy_ppc": e_ppc, "epilepsy_loo": e_loo,
                "efficiency": efficiency_table(fits)},
        answer=text,
        problems=[f"{label}: {p}" for label, f in fits.items() for p in f.problems],
        data=frames, extras={"roaches_loo_notes": r_notes, "epilepsy_loo_notes": e_notes,
                             "predictor": lambda: _notes_predictors(r_frame, e_frame)})


# the notes' models as formulas: how --predict reads new rows for the notes' fits
# (the same X as roaches_data and epilepsy_data build)
ROACHES_FORMULA = "y ~ I(roach1 / 100) + treatment + senior"
EPILEPSY_FORMULA = "count ~ log_base4 * treatment + log_age + v4 + (1 | patient)"


def _notes_predictors(r_frame: pd.DataFrame, e_frame: pd.DataFrame
                      ) -> list[predict.Predictor]:
    """New rows of either data set: the roaches' columns (with exposure2) or the
    epilepsy data's (a patient not in the data is a new patient)."""
    def design(frame, formula, **kw):
        return formulas.design(frame, formula, family="poisson", check_rank=False,
                               source=frame.attrs.get("source", datasets.FRAME), **kw)
    return [_predictor(design(r_frame, ROACHES_FORMULA, exposure="exposure2"),
                       [f"roaches: {m}" for m in ROACH_MODELS], "roaches"),
            _predictor(design(e_frame, EPILEPSY_FORMULA),
                       [f"epilepsy: {m}" for m in EPILEPSY_MODELS], "epilepsy")]


def predictor(roaches=None, epilepsy=None, *, data=None, formula=None, exposure=None,
              dropna: bool = False, **_) -> predict.Predictor | list[predict.Predictor]:
    """How new rows are read (``--predict``; checked before any sampling)."""
    if formula is None:
        frames = load(roaches, epilepsy)
        return _notes_predictors(frames["roaches"], frames["epilepsy"])
    _, d = user_design(data if data is not None else roaches, formula,
                       exposure=exposure, dropna=dropna)
    return _predictor(d, formula_models(d))


def _predictor(d: formulas.Design, fits, label: str = "") -> predict.Predictor:
    def inputs(rows: formulas.NewRows) -> dict:   # as formula_data fills them in
        out = predict.standard_inputs(rows)
        if rows.X.shape[1] == 0:
            out["X_pred"] = np.zeros((len(rows.X), 1))
        if rows.log_exposure is None:
            out["log_exposure_pred"] = np.zeros(len(rows.X))
        return out
    return predict.Predictor(d, {name: inputs for name in fits}, "rate", label=label)


# ---------------------------------------------------------------- a user's formula

# what the formula path fits: no group term -> the roaches' three programs; one
# (1 | g) -> a Poisson regression and the grouped overdispersed program, as for
# the epilepsy data
def _grouped_label(factor: str) -> str:
    return f"overdispersed Poisson + {factor} effect"


def formula_models(d: formulas.Design) -> dict[str, str]:
    """label -> program for a user's design."""
    if d.groups:
        return {"Poisson": "counts_poisson",
                _grouped_label(d.groups[0].factor): "counts_overdispersed_grouped"}
    return dict(ROACH_MODELS)


def _bundled_for(formula: str) -> Path:
    """The bundled file whose columns the formula names (roaches first), for a
    formula given without data."""
    from formulae import model_description
    try:
        names = {v for v in model_description(formula).var_names if v} - set(
            formulas.ENCODINGS)
    except Exception:          # formula.design says what is wrong with it
        return ROACHES
    for path in (ROACHES, EPILEPSY):
        if names <= set(pd.read_csv(path, nrows=0).columns):
            return path
    return ROACHES


def user_design(data, formula: str, *, exposure: str | None = None,
                dropna: bool = False) -> tuple[pd.DataFrame, formulas.Design]:
    """The user's frame and its checked design: Poisson counts, at most one group
    intercept (1 | g), an intercept in the formula (the programs always have
    one), or one clear error before anything compiles."""
    frame = datasets.read_table(_bundled_for(formula) if data is None else data)
    d = formulas.design(frame, formula, family="poisson", source=frame.attrs["source"],
                        exposure=exposure, dropna=dropna)
    formulas.checked_structure(d, example="counts")
    if not d.intercept:
        raise formulas.FormulaError(
            f"counts' programs always have an intercept; the formula {formula!r} "
            "removes it (0 + ... or - 1): drop that part")
    return frame, d


def formula_priors(d: formulas.Design, prior_scale: float = 1.0
                   ) -> tuple[dict, pd.DataFrame]:
    """The programs' prior fields for a user's design and the report's Priors table.

    :func:`formula.default_priors` (rstanarm's GLM defaults) times ``prior_scale``:
    normal(0, 2.5 s) on the intercept(s) at the predictors' means, normal(0, 2.5 s /
    sd(x)) on each coefficient, which is normal(0, 2.5 s) on the programs'
    standardised coefficients (beta_prior_sd), exponential(1 / s) on the group sd
    and, as rstanarm's group-sd scale, on the observation-level sd."""
    p = formulas.default_priors(d, prior_scale)
    sx = np.where(d.x_sd > 0, d.x_sd, 1.0)
    per_sd = p["beta"]["scale"] * sx            # every column: 2.5 s per sd of x
    beta_sd = float(per_sd[0]) if per_sd.size else 2.5 * prior_scale
    rate = p["sd"]["rate"] if "sd" in p else 1 / prior_scale
    fields = {"alpha_prior_sd": p["intercept"]["scale"], "beta_prior_sd": beta_sd,
              "scale_prior_rate": rate}
    s = f"s = {prior_scale:g}"
    where = "--prior-scale / prior_scale (data field {})"
    hurdle = "" if d.groups else " (and both hurdle parts)"
    rows = [("Intercept" + hurdle, f"normal(0, {fields['alpha_prior_sd']:.3g})",
             f"2.5 s, {s}; at the predictors' means", where.format("alpha_prior_sd"))]
    rows += [(name, f"normal(0, {scale:.3g})", f"2.5 s / sd(x), sd(x) = {x:.3g}",
              where.format("beta_prior_sd = 2.5 s, per sd of x"))
             for name, scale, x in zip(d.common_names, p["beta"]["scale"], sx)]
    rows.append(("sigma (observation-level sd, overdispersed programs)",
                 f"exponential({rate:.3g})", f"1 / s, {s}",
                 where.format("scale_prior_rate")))
    if d.groups:
        rows.append((f"sd({d.groups[0].name})", f"exponential({rate:.3g})",
                     f"1 / s, {s}", where.format("scale_prior_rate")))
    table = pd.DataFrame(rows, columns=["parameter", "prior", "scale used",
                                        "where it is set"])
    return fields, table


def formula_data(d: formulas.Design, priors: dict, **switches) -> dict:
    """Stan data for a user's design.  An intercept-only formula (no common terms)
    gets one column of zeros, since the programs need K >= 1: its coefficient meets
    no data, follows its prior and is not reported.  A group term's effects are
    non-centred here (centred = 0; :func:`analyse_formula` sets it by
    :func:`group_choice`)."""
    X = d.X if d.X.shape[1] else np.zeros((len(d.y), 1))
    log_exposure = d.log_exposure if d.log_exposure is not None else np.zeros(len(d.y))
    data = _glm_data(d.y, X, log_exposure, priors=priors, **switches)
    if d.groups:
        g = d.groups[0]
        data.update(J=len(g.levels), group=g.index.tolist(), centred=0)
    return data


def group_choice(d: formulas.Design, mle: pd.DataFrame, log_exposure
                 ) -> centring.Choice:
    """Centred or not for the group term (:func:`centring.poisson`): each group's log
    rate about the common terms' Poisson fit ``mle`` (:func:`poisson_mle`)."""
    mu = np.exp(np.asarray(log_exposure) + mle["MLE"].iloc[0]
                + d.X @ mle["MLE"].iloc[1:].to_numpy())
    g = d.groups[0]
    return centring.poisson(g.name, d.y, mu, g.index)


def _main(program: str, d: formulas.Design) -> list[str]:
    """The parameters diagnosed: without common terms, no coefficients."""
    return [v for v in MAIN[program] if d.X.shape[1] or not v.startswith("beta")]


def fit_formula(d: formulas.Design, data: dict, opts: RunOptions) -> dict[str, Fit]:
    coords = {"predictor": d.common_names or ["(none)"], "obs": np.arange(len(d.y))}
    dims = {"y": ["obs"], "z": ["obs"], "log_rate": ["obs"]}
    for name in ("beta", "beta_std", "beta_1", "beta_1std", "beta_2", "beta_2std"):
        dims[name] = ["predictor"]
    if d.groups:   # levels are distinct labels, as the epilepsy patients' ids
        coords["group"] = d.groups[0].levels
        dims.update(u=["group"], b1=["group"])
    return {label: sample(program, data, opts, main=_main(program, d),
                          observed={"y": d.y}, coords=coords, dims=dict(dims))
            for label, program in formula_models(d).items()}


def named_table(table: pd.DataFrame, d: formulas.Design) -> pd.DataFrame:
    """A posterior table with the programs' names replaced by the formula's:
    alpha -> Intercept, beta[age] -> age, hurdle parts prefixed, sigma_group ->
    sd(1|g)."""
    part = {"": "", "_1": "zero part: ", "_2": "count part: "}

    def name(i: str) -> str:
        m = re.fullmatch(r"(alpha|beta)(_[12])?(?:\[(.*)\])?", i)
        if m:
            return part[m[2] or ""] + ("Intercept" if m[1] == "alpha" else m[3])
        return {"sigma": "sigma (observation-level sd)",
                "sigma_group": f"sd({d.groups[0].name})" if d.groups else i}.get(i, i)
    return table.rename(index=name)


def _count_coefficients(label: str) -> str:
    """The coefficient vector on the expected count's log scale in a fit."""
    return "beta_2" if "hurdle" in label else "beta"


def formula_ratio_table(fits: dict[str, Fit], d: formulas.Design,
                        mle: pd.DataFrame) -> pd.DataFrame:
    """exp(coefficient) of each term in each model, median [95%], beside the
    Poisson MLE's rate ratio."""
    names = {n: n for n in d.common_names}
    cols = {}
    for label, f in fits.items():
        if label == "hurdle Poisson":
            cols["hurdle: count part RR"] = ratio_summary(f.idata, "beta_2", names)
            cols["hurdle: zero part OR"] = ratio_summary(f.idata, "beta_1", names)
            continue
        cols[f"{label} RR"] = ratio_summary(f.idata, "beta", names)
        if label == "Poisson":
            cols["Poisson RR, MLE"] = [f"{np.exp(mle.loc[n, 'MLE']):.3f}" for n in names]
    out = pd.DataFrame(cols, index=list(names))
    out.index.name = "term"
    return out


def formula_answer(d: formulas.Design, ppc: pd.DataFrame, loo: pd.DataFrame,
                   bad_k: dict[str, int], coefficients: dict[str, pd.DataFrame],
                   problems: dict[str, list[str]]) -> str:
    """The answer paragraph for a user's data, every claim computed from the tables
    passed in (``coefficients``: each model's :func:`named_table`); nothing rests on
    a fit whose diagnostics failed."""
    failed = {m: p for m, p in problems.items() if p}
    ok = [m for m in problems if not problems[m]]
    parts = [_failed_sentence(failed)] if failed else []
    z = _ppc_row(ppc, ppc.model.iloc[0], "share of zeros")["observed"]
    vm = _ppc_row(ppc, ppc.model.iloc[0], "variance / mean")["observed"]
    head = (f"{d.response_name} ({len(d.y)} rows, {z:.0%} zeros, variance "
            f"{vm:.3g} times the mean)")
    if not ok:
        return " ".join(parts + [f"{head}: no fit passed its diagnostics."])
    parts.append(f"{head}: " + "; ".join(_ppc_sentence(ppc, m) for m in ok) + ".")
    covering = [m for m in ok if not _misfit(ppc, m)]
    parts.append(f"Only the {' and the '.join(covering)} "
                 f"{'covers' if len(covering) == 1 else 'cover'} both statistics."
                 if covering and len(covering) < len(ok) else
                 "Every model that passed covers both statistics." if covering else
                 f"None of {'them' if len(ok) > 1 else 'it'} gets both the zeros and "
                 "the spread.")
    parts.append(_loo_sentence(loo, bad_k, [m for m in loo.index if m not in ok]) + ".")
    # the terms under the model LOO ranks first among those that passed and whose
    # replications cover both statistics (else among those that passed, with a caveat)
    best = next(m for m in loo.index if m in (covering or ok))
    table = coefficients[best]
    prefix = "count part: " if "hurdle" in best else ""
    terms = []
    for name in d.common_names:
        row = table.loc[prefix + name]
        lo, med, hi = np.exp(row[["2.5%", "50%", "97.5%"]].astype(float))
        side = ("above 1" if lo > 1 else "below 1" if hi < 1 else "includes 1")
        terms.append(f"{name} {med:.3g} [{lo:.3g}, {hi:.3g}] ({side})")
    if terms:
        what = "rate ratios of the positive counts" if prefix else "rate ratios"
        caveat = ("" if best in covering else
                  f" (its replications show {' and '.join(_misfit(ppc, best))}: read "
                  "these intervals with caution)")
        parts.append(f"Under the {best}{caveat}, the {what}, median [95%], are: "
                     + "; ".join(terms) + ".")
    if d.groups and best in coefficients and f"sd({d.groups[0].name})" in table.index:
        row = table.loc[f"sd({d.groups[0].name})"]
        parts.append(f"The sd of the {d.groups[0].factor} effects on the log rate is "
                     f"{row['50%']:.2f} [{row['2.5%']:.2f}, {row['97.5%']:.2f}].")
    return " ".join(parts)


def analyse_formula(data, formula: str, opts: RunOptions, *, exposure: str | None = None,
                    dropna: bool = False, prior_scale: float = 1.0) -> Results:
    """The counts programs fitted to a user's data set: the Poisson, overdispersed
    and hurdle programs when the formula has no group term, a Poisson regression
    and the grouped overdispersed program for one ``(1 | g)``; compared by the
    posterior predictive checks of zeros and dispersion and by PSIS-LOO, with the
    coefficients named after the formula's terms (see :func:`analyse`)."""
    frame, d = user_design(data, formula, exposure=exposure, dropna=dropna)
    priors, prior_table = formula_priors(d, prior_scale)
    stan = formula_data(d, priors)
    mle = poisson_mle(d.y, d.X, stan["log_exposure"], ["Intercept"] + d.common_names)
    choices = [group_choice(d, mle, stan["log_exposure"])] if d.groups else []
    if choices:
        stan["centred"] = int(choices[0].centred)
    models = formula_models(d)
    programs.compile_all(tuple(models.values()), quiet=opts.quiet)
    fits = fit_formula(d, stan, opts)
    ppc = ppc_table(fits, d.y)
    loo, notes, k = loo_results(fits)
    coefficients = {m: named_table(f.table(), d) for m, f in fits.items()}
    coefficients["Poisson"] = coefficients["Poisson"].join(mle)
    text = formula_answer(d, ppc, loo, {m: int((v > K_BAD).sum()) for m, v in k.items()},
                          coefficients, {m: f.problems for m, f in fits.items()})
    if not opts.quiet:
        print_summary(fits)
    return Results(
        "counts", TITLE, opts, fits,
        tables={"ppc": ppc, "loo": loo, "pareto_k": pareto_k_table(k),
                "rate_ratios": formula_ratio_table(fits, d, mle),
                "coefficients": pd.concat(coefficients, names=["model", "parameter"]),
                "mle": mle, "priors": prior_table, "efficiency": efficiency_table(fits),
                **({"centring": centring.table(choices)} if choices else {})},
        answer=text,
        problems=[f"{label}: {p}" for label, f in fits.items() for p in f.problems],
        data={"data": frame}, extras={"design": d, "loo_notes": notes,
                                      "centring": choices,
                                      "predictor": _predictor(d, models)})


def print_summary(fits: dict[str, Fit]) -> None:
    rows = [{"fit": label, "parameter": p, "mean": r["mean"], "sd": r["sd"],
             "r_hat": r["r_hat"]} for label, f in fits.items() for p, r in f.table().iterrows()]
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


# ---------------------------------------------------------------- report

_PPC_DIGITS = {"observed": 3, "replicated median": 3, "2.5%": 3, "97.5%": 3, P_COL: 3}


def _digits():
    return {"r_hat": 3, "ess_bulk": 0, "ess_tail": 0, "mcse_mean": 4, "mean": 3, "sd": 3,
            "2.5%": 3, "50%": 3, "97.5%": 3, "BUGS mean": 3, "MLE": 3, "MLE se": 3}


def _source(frame: pd.DataFrame, bundled: Path) -> str:
    source = frame.attrs.get("source", "")
    if Path(source).is_file() and Path(source).resolve() == bundled.resolve():
        return f"{bundled.name}; see data/README.md"
    return Path(source).name if Path(source).is_file() else source


def render(r: Results, rep: report.Report) -> None:
    """The report's sections: data, models, roaches checks, LOO, rate ratios and
    coefficients, epilepsy against BUGS, sampling speed (figures drawn here)."""
    if "design" in r.extras:        # a user's data and formula
        return render_formula(r, rep)
    roaches, epilepsy = r.data["roaches"], r.data["epilepsy"]
    r_fits = {m: r.fits[f"roaches: {m}"] for m in ROACH_MODELS}
    e_fits = {m: r.fits[f"epilepsy: {m}"] for m in EPILEPSY_MODELS}
    rep.section("Data", report.para(
        f"Roaches ({_source(roaches, ROACHES)}): {len(roaches)} apartments, "
        f"{int((roaches.y == 0).sum())} with no roaches trapped; mean count "
        f"{roaches.y.mean():.1f}, variance {roaches.y.var():.0f}. Predictors: roach1 / 100, "
        f"treatment, senior; offset log(exposure2). Epilepsy ({_source(epilepsy, EPILEPSY)}): "
        f"{epilepsy.patient.nunique()} patients, {len(epilepsy)} patient-visits, seizure "
        "counts per 2 weeks. Epilepsy predictors: log(Base / 4), Trt, their product, "
        "log(Age), V4."))
    rep.section("Models", report.para(
        "Roaches: the Poisson, overdispersed Poisson and hurdle Poisson programs; "
        "epilepsy: the Poisson program and the overdispersed Poisson with a patient "
        "effect (BUGS Epil model III). Each program's own description:"),
        report.models(r.fits.values()),
        report.para(
            "The overdispersed programs' log_lik integrates epsilon_i out (adaptive "
            f"Gauss-Hermite quadrature, {GH_NODES} nodes) and their y_rep draws a new "
            "epsilon_i: replicated data are new observations with the same predictors "
            "(and, for epilepsy, the same patients).", "note"))

    k = r.table("roaches_pareto_k")
    k_int = k.loc["overdispersed Poisson"]
    k_cond = k.loc["overdispersed Poisson, given epsilon_i"]
    share_cond = k_cond["observations with k > 0.7"] / k_cond["observations"]
    rep.section("Roaches: posterior predictive checks",
                report.para("Each replicated data set y_rep gives a share of zeros and a "
                            "variance-to-mean ratio; a model that describes the data puts "
                            "the observed value (red) inside its replicated distribution."),
                report.figure(ppc_figure(r_fits, roaches.y, "Roaches"),
                              "roaches posterior predictive checks"),
                report.table(r.table("roaches_ppc"), _PPC_DIGITS, index=False))
    rep.section("Roaches: LOO comparison", report.table(r.table("roaches_loo"), 1),
                *[report.para(n, "problems") for n in r.extras["roaches_loo_notes"]],
                report.para(LOO_NOTE, "note"),
                report.para(
                    "The overdispersed model's log_lik integrates epsilon_i out: with it, "
                    f"{k_int['observations with k > 0.7']} of {k_int['observations']} "
                    f"observations have Pareto k > 0.7 (max {k_int['max k']:.2f}); the "
                    "log-likelihood conditional on epsilon_i would have "
                    f"{k_cond['observations with k > 0.7']} (max {k_cond['max k']:.2f})"
                    + (", making PSIS-LOO useless for it." if share_cond > 0.1 else "."),
                    "note"))
    rep.section("Roaches: rate ratios",
                report.para("exp(coefficient): posterior median [95% interval]. RR: rate "
                            "ratio of the expected count (count part: of the positive "
                            "counts' Poisson rate); OR: odds ratio of a zero count."),
                report.table(r.table("roaches_rate_ratios")),
                report.figure(_ratio_figure(r_fits), "roaches rate ratios"))
    coef, mle = r.table("roaches_coefficients"), r.table("roaches_mle")
    rep.section("Roaches: coefficients by model", *[
        f"<h3>{report.esc(label)}</h3>" + report.table(coef.loc[label], _digits())
        for label in r_fits],
        report.para("Log scale, original predictor units. Poisson MLE (statsmodels, offset "
                    "log(exposure2)): " + ", ".join(
                        f"{i} {row.MLE:.3f} (se {row['MLE se']:.3f})"
                        for i, row in mle.iterrows()) + ".", "note"))
    rr = r.table("epilepsy_progabide").iloc[0]
    mean_base = epilepsy.log_base4.mean()
    rep.section("Epilepsy: BUGS Epil model III",
                report.para("Overdispersed Poisson with a patient random effect, against "
                            "the published BUGS posterior means (MultiBUGS Epil example, "
                            "20,000 draws)."),
                report.table(r.table("epilepsy_bugs"), _digits()),
                report.para(
                    f"Progabide's rate ratio at the mean log(Base/4) ({mean_base:.2f}, i.e. "
                    f"{4 * np.exp(mean_base):.0f} baseline seizures in 8 weeks), "
                    f"exp(beta_Trt + beta_BT x mean log(Base/4)): {_fmt_interval(rr)} "
                    "(posterior median [95% interval]). alpha is the intercept on the "
                    "original, uncentred scale (BUGS alpha0); sigma and sigma_group are "
                    "BUGS sigma.b and sigma.b1.", "note"),
                report.figure(ppc_figure(e_fits, epilepsy["count"], "Epilepsy"),
                              "epilepsy posterior predictive checks"),
                report.table(r.table("epilepsy_ppc"), _PPC_DIGITS, index=False),
                "<h3>LOO comparison</h3>", report.table(r.table("epilepsy_loo"), 1),
                *[report.para(n, "problems") for n in r.extras["epilepsy_loo_notes"]])
    rep.section("Sampling speed", report.table(r.table("efficiency"), {
        "compile (s)": 1, "sampling (s)": 1, "min bulk ESS": 0, "min bulk ESS / s": 1,
        "step size": 3, "leapfrog steps per draw": 1}),
        report.para("Minimum bulk ESS over each program's main parameters (intercepts, "
                    "coefficients, scales), per second of sampling wall time.", "note"))


def render_formula(r: Results, rep: report.Report) -> None:
    """The report for a user's data: data, models, priors, posterior predictive
    checks, LOO, rate ratios and coefficients named after the formula's terms,
    sampling speed (no published references: they are the notes' data's)."""
    d: formulas.Design = r.extras["design"]
    frame, y = r.data["data"], d.y
    source = Path(d.source).name if Path(d.source).is_file() else d.source
    groups = (f"; group term {d.groups[0].name} with {len(d.groups[0].levels)} "
              f"levels of {d.groups[0].factor}" if d.groups else "")
    dropped = (f" --dropna dropped {d.dropped_rows} of {len(frame)} rows with empty "
               "cells in the formula's columns." if d.dropped_rows else "")
    rep.section("Data", report.para(
        f"{source}: {len(y)} rows used, formula {d.formula!r}; response "
        f"{d.response_name}: {int((y == 0).sum())} zeros, mean {y.mean():.3g}, variance "
        f"{y.var(ddof=1) if len(y) > 1 else 0:.3g}. Common terms: "
        f"{', '.join(d.common_names) or 'none (intercept only)'}{groups}; offset "
        + ("log of the exposure column." if d.log_exposure is not None else "none.")
        + dropped))
    models = formula_models(d)
    rep.section("Models", report.para(
        "The programs fitted (" + ", ".join(f"{m}: {p}.stan" for m, p in models.items())
        + "); " + ("with one group intercept the example fits, as for the epilepsy "
                   "data, a Poisson regression without the group and the overdispersed "
                   "Poisson with the group effect. " + centring.text(r.extras["centring"])
                   if d.groups else "as for the roaches data.")
        + " Each program's own description:"), report.models(r.fits.values()),
        report.para("The overdispersed programs' log_lik integrates epsilon_i out "
                    f"(Gauss-Hermite quadrature, {GH_NODES} nodes) and their y_rep draws "
                    "a new epsilon_i.", "note"))
    rep.section("Priors", report.table(r.table("priors"), index=False), report.para(
        "rstanarm's default priors for a GLM (formula.default_priors) times "
        "--prior-scale s, on the programs' standardised predictors; the notes' run "
        "keeps its own (normal(0, 5), normal(0, 2.5), exponential(1)).", "note"))
    rep.section("Posterior predictive checks",
                report.para("Each replicated data set y_rep gives a share of zeros and a "
                            "variance-to-mean ratio; a model that describes the data puts "
                            "the observed value (red) inside its replicated distribution."),
                report.figure(ppc_figure(r.fits, y, source), "posterior predictive checks"),
                report.table(r.table("ppc"), _PPC_DIGITS, index=False))
    rep.section("LOO comparison", report.table(r.table("loo"), 1),
                *[report.para(n, "problems") for n in r.extras["loo_notes"]],
                report.para(LOO_NOTE, "note"),
                report.table(r.table("pareto_k"), {"max k": 2}))
    parts = []
    if d.common_names:
        series = [(m, "beta", m) for m in r.fits if m != "hurdle Poisson"]
        if "hurdle Poisson" in r.fits:
            series += [("hurdle Poisson", "beta_2", "hurdle, count part (RR)"),
                       ("hurdle Poisson", "beta_1", "hurdle, zero part (OR)")]
        parts = [report.table(r.table("rate_ratios")),
                 report.figure(_ratio_figure(r.fits, series, d.common_names, source,
                                             1.5 + 0.8 * len(d.common_names)),
                               "rate ratios")]
    rep.section("Rate ratios", report.para(
        "exp(coefficient) per unit of each term: posterior median [95% interval]. RR: "
        "rate ratio of the expected count (hurdle count part: of the positive counts' "
        "Poisson rate); OR: odds ratio of a zero count; MLE: statsmodels' Poisson GLM."
        if d.common_names else "The formula has no common terms."), *parts)
    coef = r.table("coefficients")
    rep.section("Coefficients by model", *[
        f"<h3>{report.esc(label)}</h3>" + report.table(coef.loc[label], _digits())
        for label in r.fits],
        report.para("Log scale, in the units of your columns. Poisson: beside the "
                    "posterior, the maximum-likelihood estimate (statsmodels GLM"
                    + (", offset log(exposure)" if d.log_exposure is not None else "")
                    + ").", "note"))
    rep.section("Posterior densities", report.figure(report.density_figure(
        {m: f for m, f in r.fits.items() if "alpha" in f.main},
        [v for v in ("alpha", "beta") if v in _main("counts_poisson", d)],
        f"Posterior densities: {d.formula}"), "densities"))
    rep.section("Trace plots", *[report.figure(report.trace_figure(
        f.idata, f.main, f"Trace plots: {m}"), f"trace: {m}") for m, f in r.fits.items()])
    rep.section("Sampling speed", report.table(r.table("efficiency"), {
        "compile (s)": 1, "sampling (s)": 1, "min bulk ESS": 0, "min bulk ESS / s": 1,
        "step size": 3, "leapfrog steps per draw": 1}))


# (fit, coefficient vector, legend) of the roaches' rate-ratio figure
ROACH_SERIES = [("Poisson", "beta", "Poisson"),
                ("overdispersed Poisson", "beta", "overdispersed"),
                ("hurdle Poisson", "beta_2", "hurdle, count part (RR)"),
                ("hurdle Poisson", "beta_1", "hurdle, zero part (OR)")]


def _ratio_figure(fits: dict[str, Fit], series=ROACH_SERIES,
                  labels=tuple(ROACH_PREDICTORS.values()), title: str = "Roaches",
                  height: float = 4.5):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, height))
    n = len(labels)
    for j, (label, name, legend) in enumerate(series):
        r = np.exp(draws(fits[label].idata, name))
        lo, med, hi = np.quantile(r, [0.025, 0.5, 0.975], axis=0)
        pos = np.arange(n) + (j - (len(series) - 1) / 2) * 0.18
        ax.errorbar(med, pos, xerr=[med - lo, hi - med], fmt="o", capsize=3, label=legend)
    ax.axvline(1, color="grey", lw=1, ls="--")
    ax.set_xscale("log")
    ax.set_yticks(np.arange(n), list(labels))
    ax.invert_yaxis()
    ax.set(xlabel="ratio (log scale): rate ratio, or odds ratio of a zero count",
           title=f"{title}: exp(coefficient), median and 95% interval")
    ax.legend(fontsize=8, loc="best")
    return fig


def main(argv: list[str] | None = None) -> int:
    def extend(p):
        # None: the bundled file (so a --formula run can tell it was not given)
        p.add_argument("--roaches", help=f"roaches CSV (default: {ROACHES})")
        p.add_argument("--epilepsy", help=f"epilepsy CSV (default: {EPILEPSY})")
        p.add_argument("--data", help="your own CSV, fitted with --formula")
        cli.add_formula_options(p, exposure=True)
    return cli.main(sys.modules[__name__], __doc__.splitlines()[0], argv, extend, DEFAULTS)


if __name__ == "__main__":
    sys.exit(main())
