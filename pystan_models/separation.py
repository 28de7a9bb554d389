"""Separation in logistic regression, solved by weakly informative priors.

Data: Heinze & Schemper (2002) endometrial cancer, 79 patients; outcome hg
(histology grade high = 1) with inputs nv (neovasculization, 0/1), pi
(pulsatility index) and eh (endometrium height, mm).  All 13 patients with
nv = 1 have hg = 1: quasi-complete separation, so the maximum-likelihood
estimate of the NV coefficient is +infinity.

Three fits side by side:
  1. maximum likelihood (statsmodels GLM/IRLS and Logit/Newton): the NV
     coefficient and its standard error grow with every iteration;
  2. Stan with flat priors (logistic_flat.stan): the FAILING CASE, kept on
     purpose -- an improper posterior whose draws of beta_NV drift without bound;
  3. Stan with the weakly informative prior of Gelman et al. (2008)
     (logistic_weakly_informative.stan): inputs centred (binary) or scaled to
     sd 0.5, Cauchy(0, 2.5) on coefficients and Cauchy(0, 10) on the intercept,
     plus the Student-t(7, 0, 2.5) alternative.  Finite, sensible estimates,
     compared with Firth's penalized-likelihood estimates (Heinze & Schemper
     2002), computed here with scipy (they reproduce the published values).

On a user's data (``--formula``) the same three fits, with the 0/1 rows that share
a covariate pattern summed to binomial counts; ``y ~ x + (1 | g)`` fits the
varying-intercept logistic regression (logistic_varying_intercepts.stan) instead.

Library use: ``analyse(data)`` returns the engine's Results (fits, named tables,
the answer); ``render`` adds the report's sections.  The flat-prior fit is listed
in ``Results.expected``: it fails on purpose and is not counted as a problem.
"""
from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats
from scipy.special import expit

from . import centring, cli, formula, predict, programs, report
from .data import FRAME, Column, check_rows, data_file, prepare
from .errors import DataError, PystanModelsError
from .fitting import Fit, RunOptions, efficiency_table, reference, run_options, sample, say
from .probit import bernoulli_rows, expanded, term_scale, user_design  # noqa: F401 (separation.bernoulli_rows)
from .results import Results

DATA = data_file("endometrial.csv")
COLUMNS = [Column("nv", "binary"), Column("pi"), Column("eh", positive=True),
           Column("hg", "binary")]
INPUTS = {"nv": "NV", "pi": "PI", "eh": "EH"}   # column -> name in the notes
BINARY = {"nv": 1, "pi": 0, "eh": 0}             # centred only vs scaled to sd 0.5
PARAMS = ["alpha", "beta"]
ROWS = ["alpha"] + [f"beta[{v}]" for v in INPUTS.values()]
# Gelman, Jakulin, Pittau & Su (2008) defaults, and the Student-t(7) alternative.
PRIORS = {"Cauchy(0, 2.5)": {"prior_df": 1.0, "prior_scale": 2.5, "intercept_scale": 10.0},
          "Student-t(7, 0, 2.5)": {"prior_df": 7.0, "prior_scale": 2.5,
                                   "intercept_scale": 10.0}}
FLAT = "flat prior (failing case)"
# the programs this example fits (compiled together when the cache lacks them)
PROGRAMS = ("logistic_flat", "logistic_weakly_informative")
# the outcome's kind, for the report's predictive checks (report.predictive_checks)
OUTCOME = "binomial"
DEFAULTS = RunOptions()
TITLE = "The problem of separation: maximum likelihood, flat and weakly informative priors"
GROUPED_TITLE = "Varying-intercept logistic regression with weakly informative priors"
# Firth's penalized likelihood (Heinze & Schemper 2002), as printed by R's brglm
# for glm(HG ~ NV + PI + EH, binomial) on these data (livioivil/mbrglm README;
# the same values solve the Jeffreys-penalized likelihood equations).
FIRTH = {"alpha": 3.77456, "beta[NV]": 2.92927, "beta[PI]": -0.03475, "beta[EH]": -2.60416}
# R's glm() on the same data stops after its own iteration limit at NV = 18.19
# (se 1715.75): same README and brglm2/detectseparation documentation.
R_GLM_NV = (18.18556, 1715.75089)
# What the answer calls maximum likelihood "running off": IRLS multiplies the
# standard error of beta_NV by more than this at every further iteration.
DIVERGING_GROWTH = 1.2
# "Almost nothing left to gain": the profile log-likelihood rises by less than this
# from beta_NV = 3 to the end of the grid.
LITTLE_GAIN = 1.0
# "The other coefficients barely move": every posterior median within this many
# maximum-likelihood standard errors of its estimate.
BARELY_MOVED_SE = 0.5

# decimals of the posterior and efficiency tables
STATS_DIGITS = {"r_hat": 3, "ess_bulk": 0, "ess_tail": 0, "mcse_mean": 3}
EFFICIENCY_DIGITS = {"compile (s)": 1, "sampling (s)": 1, "min bulk ESS": 0,
                     "min bulk ESS / s": 1, "step size": 3, "leapfrog steps per draw": 0}


# ---------------------------------------------------------------- data

def _check(frame: pd.DataFrame, source: str) -> None:
    check_rows(source, frame, "pi", frame.pi < 0, "a pulsatility index cannot be negative")
    for col in ["hg", *INPUTS]:
        if frame[col].nunique() < 2:
            raise DataError(f"{source}, column '{col}': every row has the value "
                            f"{frame[col].iloc[0]}; the model needs it to vary")


def load(data=DATA) -> pd.DataFrame:
    """The validated patients: ``data`` is a CSV path (default: Heinze & Schemper's
    79 patients) or a DataFrame with columns nv, pi, eh, hg."""
    return prepare(data, DATA, COLUMNS, _check)


def separation_table(frame: pd.DataFrame) -> pd.DataFrame:
    """NV x HG counts: a zero cell is quasi-complete separation."""
    table = pd.crosstab(frame.nv, frame.hg)
    table.index = [f"nv = {v}" for v in table.index]
    table.columns = [f"hg = {v}" for v in table.columns]
    return table


def separating_cells(frame: pd.DataFrame) -> list[tuple[int, int, int]]:
    """The empty cells of the NV x HG table, as (nv, the only hg value seen, patients):
    (1, 1, 13) says every one of the 13 patients with nv = 1 has hg = 1."""
    out = []
    for v in (0, 1):
        grades = frame.hg[frame.nv == v]
        if len(grades) and grades.nunique() == 1:
            out.append((v, int(grades.iloc[0]), len(grades)))
    return out


def _cell_sentence(cells: list[tuple[int, int, int]]) -> str:
    v, g, count = cells[0]
    return (f"every one of the {count} patients with nv = {v} has hg = {g}")


def scaling(frame: pd.DataFrame) -> pd.DataFrame:
    """The Gelman et al. (2008) shift and scale of each input (as in the Stan programs)."""
    rows = {}
    for col, name in INPUTS.items():
        x = frame[col].to_numpy(float)
        rows[name] = {"centre": x.mean(),
                      "scale": 1.0 if BINARY[col] else 2 * x.std(ddof=1)}
    return pd.DataFrame(rows).T


def stan_data(frame: pd.DataFrame, prior: str | None = None, *, prior_only: bool = False,
              pointwise: bool = True) -> dict:
    """The collection's data contract, for both programs: ``X`` the inputs on their
    original scale (no intercept column), ``binary`` which of them are 0/1, ``y`` the
    grade; ``prior`` (a key of PRIORS) adds the weakly informative prior's constants.

    ``pointwise`` (default on: 79 rows are cheap) writes log_lik and y_rep;
    ``prior_only`` leaves the likelihood out (prior predictive draws; the flat-prior
    program has none)."""
    return program_data(frame[list(INPUTS)].to_numpy(float), frame.hg,
                        [BINARY[c] for c in INPUTS],
                        None if prior is None else PRIORS[prior],
                        prior_only=prior_only, pointwise=pointwise)


def program_data(x, y, binary, prior: dict | None = None, *, prior_only: bool = False,
                 pointwise: bool = True, trials=None) -> dict:
    """Both programs' data from inputs ``x`` (no intercept column), ``y`` (0/1, or
    successes of ``trials`` for aggregated rows), which inputs are ``binary`` and the
    weakly informative prior's constants."""
    x = np.asarray(x, dtype=float)
    data = {"N": len(x), "K": x.shape[1], "X": x.tolist(),
            "binary": [int(b) for b in binary], "y": np.asarray(y).astype(int).tolist(),
            "trials": (np.ones(len(x), int) if trials is None else np.asarray(trials))
            .astype(int).tolist(),
            "prior_only": int(prior_only), "pointwise": int(pointwise)}
    if prior is not None:
        data.update(prior)
    return data


# ---------------------------------------------------------------- maximum likelihood

def with_constant(x) -> np.ndarray:
    """``x`` (rows x inputs) with a first column of ones, as statsmodels' add_constant
    makes it, without importing statsmodels: a rebuild reads the fits that use it
    back (:func:`pystan_models.fitting.reference`) and needs no statsmodels."""
    x = np.asarray(x, dtype=float)
    return np.column_stack([np.ones(len(x)), x])


def _design(frame):
    return with_constant(frame[list(INPUTS)])


def _captured(fit_call):
    """Run ``fit_call`` and return (result, list of 'Category: message')."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit_call()
    return result, [f"{w.category.__name__}: {w.message}" for w in caught]


def mle(frame: pd.DataFrame) -> dict:
    """The library fits as a user would run them, with every warning they raise."""
    return ml_fits(frame.hg.to_numpy(), _design(frame), ROWS)


def _endog(y, n):
    """statsmodels' binomial response: 0/1 ``y``, or (successes, failures) of ``n``."""
    return y if n is None else np.column_stack([y, n - y])


@reference
def ml_fits(y, X, rows: list[str], n=None) -> dict:
    """:func:`mle` for outcomes ``y`` (successes of ``n`` trials, if given) and a design
    ``X`` with its constant column, coefficients named ``rows``.  statsmodels' Logit
    takes 0/1 rows only, so aggregated rows are expanded for it."""
    import statsmodels.api as sm   # here: slow to import; a rebuild needs none
    glm, glm_warn = _captured(lambda: sm.GLM(_endog(y, n), X,
                                             family=sm.families.Binomial()).fit())
    yb, Xb = (y, X) if n is None else expanded(y, n, X)
    logit, logit_warn = _captured(lambda: sm.Logit(yb, Xb).fit(disp=0))
    table = pd.DataFrame({"GLM (IRLS) estimate": glm.params, "GLM se": glm.bse,
                          "Logit (Newton) estimate": logit.params, "Logit se": logit.bse},
                         index=rows)
    return {"table": table, "glm_fitted": np.asarray(glm.fittedvalues),
            "glm_iterations": int(glm.fit_history["iteration"]),
            "glm_warnings": glm_warn, "logit_warnings": logit_warn}


@reference
def mle_path(frame: pd.DataFrame, iterations=(2, 4, 6, 8, 10, 15, 20, 25, 30)) -> pd.DataFrame:
    """IRLS stopped after k iterations (no convergence test): the estimates run off.

    Lesaffre & Albert (1989): an infinite estimate shows as a standard error that
    keeps growing, relative to the first fit's, as iterations are added.
    """
    import statsmodels.api as sm
    y, X = frame.hg.to_numpy(), _design(frame)
    rows = []
    for k in iterations:
        res, _ = _captured(lambda k=k: sm.GLM(y, X, family=sm.families.Binomial())
                           .fit(maxiter=k, tol=0.0))
        rows.append({"IRLS iterations": k, "beta[NV]": res.params[1], "se(beta[NV])": res.bse[1],
                     "beta[EH]": res.params[3], "se(beta[EH])": res.bse[3],
                     "deviance": res.deviance})
    out = pd.DataFrame(rows)
    out["se ratio NV"] = out["se(beta[NV])"] / out["se(beta[NV])"].iloc[0]
    out["se ratio EH"] = out["se(beta[EH])"] / out["se(beta[EH])"].iloc[0]
    return out


def profile_loglik(frame: pd.DataFrame, grid: np.ndarray) -> np.ndarray:
    """Log-likelihood maximised over the other coefficients, at each fixed beta_NV.

    Computed with log1p-exp arithmetic (scipy BFGS): statsmodels' Binomial GLM clips
    fitted probabilities near 1 and returns nonsense once beta_NV exceeds about 13.
    """
    y, nv = frame.hg.to_numpy(float), frame.nv.to_numpy(float)
    X = with_constant(frame[["pi", "eh"]])

    def neg_loglik(gamma, b):
        eta = X @ gamma + b * nv
        return (np.logaddexp(0, eta).sum() - y @ eta), X.T @ (expit(eta) - y)

    out, start = [], np.zeros(X.shape[1])
    for b in grid:
        res = optimize.minimize(neg_loglik, start, args=(b,), jac=True, method="BFGS")
        out.append(-res.fun)
        start = res.x
    return np.array(out)


def firth(frame: pd.DataFrame) -> pd.Series:
    """Firth's (1993) penalized maximum likelihood, as Heinze & Schemper (2002) use it:
    maximise log L(b) + log|I(b)| / 2 (the Jeffreys prior), finite under separation.

    The gradient is Firth's modified score X'(y - p + h (1/2 - p)), h the diagonal of
    the hat matrix W^1/2 X (X'WX)^-1 X'W^1/2; log-likelihood in log1p-exp form."""
    return firth_fit(frame.hg.to_numpy(float), _design(frame), ROWS)


def firth_fit(y, X, rows: list[str], n=None) -> pd.Series:
    """:func:`firth` for outcomes ``y`` (successes of ``n`` trials, if given) and a
    design ``X`` with its constant column."""
    n = np.ones(len(y)) if n is None else np.asarray(n, float)

    def neg_penalized(b):
        eta = X @ b
        p = expit(eta)
        w = n * p * (1 - p)
        info = X.T @ (w[:, None] * X)
        _, logdet = np.linalg.slogdet(info)
        h = w * np.einsum("ij,jk,ik->i", X, np.linalg.inv(info), X)
        value = y @ eta - n @ np.logaddexp(0, eta) + logdet / 2
        return -value, -(X.T @ (y - n * p + h * (0.5 - p)))

    res = optimize.minimize(neg_penalized, np.zeros(X.shape[1]), jac=True, method="BFGS",
                            options={"gtol": 1e-8})
    return pd.Series(res.x, index=rows)


# ---------------------------------------------------------------- Bayesian fits

COORDS_DIMS = ({"input": list(INPUTS.values())},
               {"beta": ["input"], "beta_z": ["input"], "hg": ["patient"]})


def _fit(program: str, frame: pd.DataFrame, data: dict, opts: RunOptions) -> Fit:
    coords, dims = COORDS_DIMS
    return sample(program, data, opts, main=PARAMS, observed={"hg": frame.hg},
                  coords={**coords, "patient": np.arange(len(frame))}, dims=dict(dims))


def fit_flat(frame: pd.DataFrame, opts: RunOptions) -> Fit:
    """The failing case: flat priors, improper posterior."""
    return _fit("logistic_flat", frame, stan_data(frame), opts)


def fit_weakly_informative(frame: pd.DataFrame, prior: str, opts: RunOptions) -> Fit:
    return _fit("logistic_weakly_informative", frame, stan_data(frame, prior), opts)


def fit_all(frame: pd.DataFrame, opts: RunOptions) -> dict[str, Fit]:
    fits = {FLAT: fit_flat(frame, opts)}
    for name in PRIORS:
        fits[name] = fit_weakly_informative(frame, name, opts)
    return fits


def posterior_mode(frame: pd.DataFrame, prior: str, opts: RunOptions) -> pd.Series:
    """The posterior mode (what R's bayesglm reports), by L-BFGS in CmdStan; NaN
    (with a warning on stderr) when the optimizer fails."""
    return mode_of(stan_data(frame, prior), prior, ROWS, opts)


@reference
def mode_of(data: dict, prior: str, rows: list[str], opts: RunOptions) -> pd.Series:
    """:func:`posterior_mode` for the weakly informative program's ``data``."""
    model = programs.load("logistic_weakly_informative", quiet=opts.quiet)
    with programs.cmdstanpy_log_level(logging.ERROR if opts.quiet else logging.WARNING):
        try:
            opt = model.optimize(data=programs.with_no_predictions(
                "logistic_weakly_informative", data), seed=opts.seed)
        except RuntimeError as exc:
            print(f"  WARNING (posterior mode, {prior}): L-BFGS failed: "
                  f"{programs.clean_message(str(exc), model)}", file=sys.stderr)
            return pd.Series(np.nan, index=rows)
    values = opt.optimized_params_dict
    return pd.Series([values["alpha"]] + [values[f"beta[{k}]"] for k in range(1, len(rows))],
                     index=rows)


def summaries(fits: dict[str, Fit]) -> dict[str, pd.DataFrame]:
    """Each fit's posterior table (computed once per fit, cached by the engine)."""
    return {name: f.table(PARAMS) for name, f in fits.items()}


def side_by_side(glm: pd.DataFrame, tables: dict[str, pd.DataFrame],
                 modes: dict[str, pd.Series], firth_estimates: pd.Series) -> pd.DataFrame:
    rows = list(glm.index)
    out = pd.DataFrame(index=rows)
    out["ML estimate (se), statsmodels GLM"] = [
        f"{m:.2f} ({s:,.2f})" for m, s in zip(glm["GLM (IRLS) estimate"], glm["GLM se"])]
    for name, t in tables.items():
        label = "flat-prior posterior" if name == FLAT else f"{name} posterior"
        out[f"{label}: median [95% interval]"] = [
            f"{m:,.2f} [{lo:,.2f}, {hi:,.2f}]" for m, lo, hi in zip(t["50%"], t["2.5%"],
                                                                   t["97.5%"])]
    for name, mode in modes.items():
        out[f"{name} posterior mode"] = [f"{v:.2f}" for v in mode]
    out["Firth penalized likelihood"] = [f"{firth_estimates[r]:.2f}" for r in rows]
    return out


def _matches_published(firth_estimates: pd.Series) -> bool:
    return bool(np.allclose([firth_estimates[r] for r in ROWS], [FIRTH[r] for r in ROWS],
                            atol=1e-4))


def firth_comparison(tables: dict[str, pd.DataFrame], firth_estimates: pd.Series,
                     problems: dict[str, list[str]]) -> str:
    """Which of Firth's estimates lie inside the 95% intervals of the weakly
    informative posteriors (those whose diagnostics passed), in words."""
    ok = [k for k in PRIORS if not problems[k]]
    if not ok:
        return ("The weakly informative fits failed their diagnostics, so they are not "
                "compared with Firth's estimates.")
    outside = [f"{r} ({k})" for k in ok for r in ROWS
               if not tables[k].loc[r, "2.5%"] <= firth_estimates[r] <= tables[k].loc[r, "97.5%"]]
    if not outside:
        text = (f"Every Firth estimate lies inside the 95% interval of the "
                f"{' and the '.join(ok)} posterior: the same ballpark, though not the same "
                "numbers, since they are different estimators and the medians of the "
                "skewed NV posteriors sit above the modes.")
    else:
        text = ("Firth's estimate lies outside the 95% posterior interval for "
                + ", ".join(outside) + ".")
    skipped = [k for k in PRIORS if problems[k]]
    if skipped:
        text += f" Not compared (failed diagnostics): {' and '.join(skipped)}."
    return text


def nv_draws(f: Fit) -> np.ndarray:
    return f.idata.posterior["beta"].sel(input="NV").values


# ---------------------------------------------------------------- figures

def profile_figure(grid, prof):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.5))
    top = prof.max()
    ax.plot(grid, prof - top, color="k", label="profile log-likelihood (flat prior)")
    for (name, spec), colour in zip(PRIORS.items(), ["C0", "C2"]):
        log_prior = stats.t.logpdf(grid, spec["prior_df"], scale=spec["prior_scale"])
        log_prior -= log_prior.max()
        ax.plot(grid, log_prior, color=colour, ls=":", label=f"log prior {name}")
        total = prof - top + log_prior
        ax.plot(grid, total - total.max(), color=colour,
                label=f"profile log-likelihood + log prior {name}")
    ax.set(xlabel="beta_NV (log odds ratio for neovasculization)",
           ylabel="log density, relative to its maximum",
           title="What the prior does: the likelihood has no peak in beta_NV", ylim=(-8, 0.5))
    ax.legend(fontsize="small", loc="lower right")
    return fig


def flat_trace_figure(f: Fit):
    import matplotlib.pyplot as plt
    draws = nv_draws(f)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    for c, chain in enumerate(draws):
        ax.plot(np.arange(1, len(chain) + 1), chain, lw=0.8, label=f"chain {c + 1}")
    ax.set_yscale("symlog", linthresh=10)
    ax.set(xlabel="draw (after warmup)", ylabel="beta_NV (symmetric log scale)",
           title="FAILING CASE: flat prior, draws of beta_NV wander off without bound")
    ax.legend(fontsize="small", ncol=4)
    return fig


def nv_figure(fits: dict[str, Fit], glm: pd.DataFrame, firth_nv: float):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.2))
    grid = np.linspace(-2, 30, 400)
    for (name, spec), colour in zip(PRIORS.items(), ["C0", "C2"]):
        d = nv_draws(fits[name]).ravel()
        ax.hist(d[d < 30], bins=np.linspace(-2, 30, 81), density=True, alpha=0.35,
                color=colour, label=f"posterior, {name} ({100 * (d >= 30).mean():.1f}% of "
                                    "draws beyond 30)")
        ax.plot(grid, stats.t.pdf(grid, spec["prior_df"], scale=spec["prior_scale"]),
                color=colour, ls=":", label=f"prior {name}")
    ax.axvline(firth_nv, color="k", ls="--", label=f"Firth estimate {firth_nv:.2f}")
    ax.annotate(f"ML estimate: +infinity\n(statsmodels stops at "
                f"{glm.loc['beta[NV]', 'GLM (IRLS) estimate']:.1f})",
                xy=(29.5, 0.02), ha="right", fontsize="small")
    ax.set(xlabel="beta_NV (log odds ratio for neovasculization)",
           ylabel="density (histogram truncated at 30)",
           title="Weakly informative priors give a finite posterior for beta_NV")
    ax.legend(fontsize="small")
    return fig


# ---------------------------------------------------------------- analysis

def analyse(data=None, *, formula: str | None = None, dropna: bool = False,
            prior_scale: float = 1.0, **run) -> Results:
    """Maximum likelihood, the flat-prior fit (the failing case) and the two weakly
    informative fits on ``data`` (None: Heinze & Schemper's 79 patients; a CSV path;
    a DataFrame with nv, pi, eh, hg).  ``formula`` (e.g. ``"response ~ dose +
    C(arm)"``): the same on a user's CSV or DataFrame (None: the bundled file); see
    :func:`analyse_formula`.  ``run``: chains, iter_warmup, iter_sampling, seed,
    quiet, quick (see :class:`RunOptions`)."""
    opts = run_options(DEFAULTS, run)
    if formula is not None:
        return analyse_formula(DATA if data is None else data, formula, opts,
                               dropna=dropna, prior_scale=prior_scale)
    if dropna or prior_scale != 1.0:
        raise PystanModelsError("--dropna and --prior-scale go with --formula (your own "
                                "data); the notes' model keeps Gelman et al.'s scales")
    frame = load(data)
    programs.compile_all(PROGRAMS, quiet=opts.quiet)   # at once, up to a core each
    ml = mle(frame)
    path = mle_path(frame)
    grid = np.linspace(-2, 30, 161)
    prof = profile_loglik(frame, grid)
    firth_estimates = firth(frame)
    fits = fit_all(frame, opts)
    say(opts, "posterior modes (L-BFGS)")
    modes = {name: posterior_mode(frame, name, opts) for name in PRIORS}
    tables = summaries(fits)
    cells = separating_cells(frame)
    n = key_numbers(ml, path, grid, prof, tables, fits, firth_estimates)
    text = answer(n, cells, {k: f.problems for k, f in fits.items()})
    if not opts.quiet:
        print_summary(tables)
    return Results(
        "separation", TITLE, opts, fits,
        tables={"separation": separation_table(frame), "scaling": scaling(frame),
                "mle": ml["table"], "mle_path": path,
                "profile": pd.DataFrame({"beta_nv": grid, "profile_loglik": prof}),
                "posterior": pd.concat(tables, names=["fit", "parameter"]),
                "modes": pd.DataFrame(modes), "firth": firth_estimates.to_frame("Firth"),
                "side_by_side": side_by_side(ml["table"], tables, modes, firth_estimates),
                "efficiency": efficiency_table(fits, PARAMS)},
        answer=text,
        problems=[f"{k}: {p}" for k, f in fits.items() if k != FLAT for p in f.problems],
        expected=[f"{FLAT} (the posterior is improper): {p}" for p in fits[FLAT].problems],
        data={"endometrial": frame},
        extras={"numbers": n, "cells": cells, "glm_warnings": ml["glm_warnings"],
                "logit_warnings": ml["logit_warnings"],
                "predictor": lambda: _predictor(notes_design(frame), list(PRIORS))})


# the notes' model as a formula: how --predict reads new patients (X = nv, pi, eh)
NOTES_FORMULA = "hg ~ nv + pi + eh"


def notes_design(frame: pd.DataFrame) -> formula.Design:
    return formula.design(frame, NOTES_FORMULA, family="bernoulli", check_rank=False,
                          source=frame.attrs.get("source", FRAME))


def predictor(data=None, *, formula: str | None = None, dropna: bool = False,
              prior_scale: float = 1.0, **_) -> predict.Predictor:
    """How new rows are read (``--predict``; checked before any sampling): every
    fit with a proper posterior predicts (the flat-prior fit only when the outcomes
    are not separated)."""
    if formula is None:
        return _predictor(notes_design(load(data)), list(PRIORS))
    d = user_design(DATA if data is None else data, formula, dropna, "separation")
    priors = list(scaled_priors(prior_scale))
    return _predictor(d, priors[:1] if d.groups else [FLAT, *priors])


def _predictor(d: formula.Design, fits: list[str]) -> predict.Predictor:
    """X_pred on the user's scale (the programs shift and scale it as they did X);
    trials 1 for a 0/1 row; the group of each row for ``(1 | g)``."""
    def inputs(rows: formula.NewRows) -> dict:
        out = predict.standard_inputs(rows)
        if rows.trials is None:
            out["trials_pred"] = np.ones(len(rows.X), np.int64)
        return out
    return predict.Predictor(d, {name: inputs for name in fits}, "probability")


# ---------------------------------------------------------------- a user's data (formula)

def separation_check(x, y, rows: list[str], n=None) -> pd.Series:
    """A direction b in which the outcomes are separated, or zeros if there is none
    (Konis 2007, as R's detectseparation does it): the linear programme
    max sum_i s_i w_i'b subject to s_i w_i'b >= 0 for every row and -1 <= b_j <= 1,
    s_i = 2 y_i - 1, w_i = (1, x_i), on columns divided by their sd.  A positive
    optimum is (quasi-)complete separation: the log-likelihood rises without bound
    along b, so the maximum-likelihood estimate is infinite in the coefficients
    where b is not 0.  Returned on the scale of the user's columns, largest |b_j| = 1.
    Rows of ``n`` trials with ``y`` successes stand for y rows with s = 1 and n - y
    with s = -1: one constraint for each sign present, weighted by its count."""
    y = np.asarray(y, float)
    n = np.ones(len(y)) if n is None else np.asarray(n, float)
    w = with_constant(x)
    mean = n @ w / n.sum()
    sd = np.sqrt(n @ (w - mean) ** 2 / n.sum())
    scale = np.where(sd > 0, sd, 1.0)
    scale[0] = 1.0
    sign = np.r_[np.ones(len(y)), -np.ones(len(y))]
    count = np.r_[y, n - y]
    a = (sign[:, None] * np.vstack([w, w]) / scale)[count > 0]
    res = optimize.linprog(-(count[count > 0] @ a), A_ub=-a, b_ub=np.zeros(len(a)),
                           bounds=[(-1, 1)] * w.shape[1], method="highs")
    if res.status != 0 or -res.fun <= 1e-7 * n.sum():
        return pd.Series(0.0, index=rows)
    b = np.where(np.abs(res.x) > 1e-7, res.x / scale, 0.0)
    return pd.Series(b / np.abs(b).max(), index=rows)


@reference
def ml_path(y, X, rows: list[str], iterations=(2, 4, 6, 8, 10, 15, 20, 25, 30), n=None
            ) -> pd.DataFrame:
    """:func:`mle_path` for every coefficient of a design ``X`` (with its constant
    column): estimate and standard error after k IRLS iterations."""
    import statsmodels.api as sm
    out = []
    for k in iterations:
        res, _ = _captured(lambda k=k: sm.GLM(_endog(y, n), X,
                                              family=sm.families.Binomial())
                           .fit(maxiter=k, tol=0.0))
        out.append({"IRLS iterations": k, **dict(zip(rows, res.params)),
                    **{f"se({r})": v for r, v in zip(rows, res.bse)},
                    "deviance": res.deviance})
    return pd.DataFrame(out)


def se_growth(path: pd.DataFrame, rows: list[str]) -> pd.Series:
    """Each coefficient's standard error growth per IRLS iteration over the last
    three rows of ``path`` (Lesaffre and Albert 1989: > DIVERGING_GROWTH runs off)."""
    late = path.iloc[-3:]
    iters = late["IRLS iterations"].iloc[-1] - late["IRLS iterations"].iloc[0]
    return pd.Series({r: float((late[f"se({r})"].iloc[-1] / late[f"se({r})"].iloc[0])
                               ** (1 / iters)) for r in rows})


def scaled_priors(prior_scale: float) -> dict[str, dict]:
    """Gelman et al. (2008) and the Student-t(7) alternative, scales times
    ``prior_scale`` (named by the scale used)."""
    if not (np.isfinite(prior_scale) and prior_scale > 0):
        raise PystanModelsError(f"the prior scale must be positive, not "
                                        f"{prior_scale}")
    out = {}
    for spec in PRIORS.values():
        scale, df = spec["prior_scale"] * prior_scale, spec["prior_df"]
        name = (f"Cauchy(0, {scale:g})" if df == 1 else f"Student-t({df:g}, 0, {scale:g})")
        out[name] = {**spec, "prior_scale": scale,
                     "intercept_scale": spec["intercept_scale"] * prior_scale}
    return out


def priors_table(priors: dict[str, dict], names: list[str], prior_scale: float
                 ) -> pd.DataFrame:
    where = (f"Gelman et al. (2008) defaults; --prior-scale (here {prior_scale:g}) "
             "multiplies every scale")
    rows = [{"parameter": "all", "prior": "flat (improper), the failing case",
             "scale used": np.nan, "where it is set": "logistic_flat.stan"}]
    for name, spec in priors.items():
        rows.append({"parameter": "Intercept", "prior": f"Cauchy(0, "
                     f"{spec['intercept_scale']:g}) with the inputs centred ({name} fit)",
                     "scale used": spec["intercept_scale"], "where it is set": where})
        rows += [{"parameter": n, "prior": f"{name} on the input scaled as in Scaling",
                  "scale used": spec["prior_scale"], "where it is set": where}
                 for n in names]
    return pd.DataFrame(rows)


def analyse_formula(data, text: str, opts: RunOptions, *, dropna: bool = False,
                    prior_scale: float = 1.0) -> Results:
    """The example on a user's data and formula: maximum likelihood, a separation
    check, the flat-prior fit and the two weakly informative fits, with the inputs
    shifted and scaled as Gelman et al. (2008) do (binary columns centred, others
    to sd 0.5: the programs do it from ``binary``).  Binomial rows p(successes,
    trials) and the 0/1 rows that share a covariate pattern are summed to binomial
    counts (the same likelihood up to a constant: sufficient statistics).  A group
    intercept (1 | g) fits the varying-intercept program instead
    (:func:`analyse_grouped`)."""
    priors = scaled_priors(prior_scale)
    d = user_design(data, text, dropna, "separation")
    if d.groups:
        return analyse_grouped(d, opts, priors, prior_scale)
    agg = formula.aggregate_bernoulli(d)
    x, y, n = agg.X, agg.y, agg.trials
    names, rows = d.common_names, ["Intercept", *d.common_names]
    binary = binary_inputs(x)
    X = with_constant(x)
    programs.compile_all(PROGRAMS, quiet=opts.quiet)
    ml = ml_fits(y, X, rows, n)
    path = ml_path(y, X, rows, n=n)
    growth = se_growth(path, rows)
    sep = separation_check(x, y, rows, n)
    separated = bool((sep != 0).any())
    firth_estimates = firth_fit(y.astype(float), X, rows, n)
    coords = {"input": names, "row": np.arange(len(y))}
    dims = {"beta": ["input"], "beta_z": ["input"], "y": ["row"]}
    zero, one = np.zeros(len(names)), np.ones(len(names))
    fits = {}
    for name, spec in [(FLAT, None), *priors.items()]:
        program = "logistic_flat" if spec is None else "logistic_weakly_informative"
        f = sample(program, program_data(x, y, binary, spec, trials=n), opts, main=PARAMS,
                   observed={"y": y}, coords=coords, dims=dict(dims))
        fits[name] = term_scale(f, names, zero, one, opts.quick)
    say(opts, "posterior modes (L-BFGS)")
    modes = {name: mode_of(program_data(x, y, binary, spec, trials=n), name, rows, opts)
             for name, spec in priors.items()}
    tables = {name: f.table() for name, f in fits.items()}
    problems = {k: f.problems for k, f in fits.items()}
    text_answer = formula_answer(sep, ml, growth, tables, problems, list(priors))
    if d.dropped_rows:
        text_answer += (f" {d.dropped_rows} row(s) with empty cells were dropped "
                        f"(--dropna) before fitting.")
    if not opts.quiet:
        print_summary(tables)
    scaling_table = input_scaling(x, n, binary, names)
    flat_expected = separated and bool(problems[FLAT])
    return Results(
        "separation", TITLE, opts, fits,
        tables={"separation": sep.to_frame("separating direction"),
                "scaling": scaling_table, "mle": ml["table"], "mle_path": path,
                "se_growth": growth.to_frame("se growth per IRLS iteration"),
                "posterior": pd.concat(tables, names=["fit", "parameter"]),
                "modes": pd.DataFrame(modes), "firth": firth_estimates.to_frame("Firth"),
                "side_by_side": side_by_side(ml["table"], tables, modes, firth_estimates),
                "efficiency": efficiency_table(fits),
                "priors": priors_table(priors, names, prior_scale)},
        answer=text_answer,
        problems=[f"{k}: {p}" for k, f in fits.items()
                  if k != FLAT or not flat_expected for p in f.problems],
        expected=[f"{FLAT} (the outcomes are separated: the posterior is improper): {p}"
                  for p in fits[FLAT].problems] if flat_expected else [],
        extras={"formula": text, "design": d, "rows": rows, "priors": list(priors),
                "predictor": _predictor(d, ([] if flat_expected else [FLAT])
                                        + list(priors)),
                "separated": separated, "glm_warnings": ml["glm_warnings"],
                "logit_warnings": ml["logit_warnings"],
                "glm_iterations": ml["glm_iterations"], "bernoulli_rows": int(n.sum()),
                "patterns": len(y), "ones": int(y.sum())})


def binary_inputs(x) -> list[bool]:
    """Which input columns hold only 0 and 1 (centred, not scaled, by the programs)."""
    return [bool(np.isin(col, (0, 1)).all()) for col in np.asarray(x).T]


def input_scaling(x, n, binary, names) -> pd.DataFrame:
    """The programs' input scaling over the 0/1 rows (pattern i counted n[i] times):
    binary inputs centred, the others centred and divided by 2 sd."""
    centre = n @ x / n.sum()
    sd = np.sqrt(n @ (x - centre) ** 2 / max(n.sum() - 1, 1))
    return pd.DataFrame({"centre": centre, "scale": np.where(binary, 1.0, 2 * sd),
                         "binary": binary}, index=names)


# ---------------------------------------------------------------- a group intercept (1 | g)

GROUPED = "logistic_varying_intercepts"
# the likelihood runs in reduce_sum slices, in parallel within a chain when cores allow
THREADS = {"STAN_THREADS": True}
# at most this many groups get a panel in the group intercepts figure
FOREST_GROUPS = 40
# up to this many (aggregated) rows the grouped fit writes log_lik and y_rep (the
# predictive checks); beyond, they would cost more than the sampling
POINTWISE_ROWS = 20_000


def threading(chains: int, rows: int, cores: int | None = None) -> dict:
    """How the grouped program runs: the cores shared out among the chains
    (threads per chain, chains at once) and reduce_sum slices of a quarter of a
    thread's rows (one slice when a chain has one thread)."""
    cores = cores or os.cpu_count() or 1
    threads = max(1, cores // chains)
    return {"threads_per_chain": threads,
            "parallel_chains": max(1, min(chains, cores // threads)),
            "grainsize": rows if threads == 1 else max(1, rows // (4 * threads))}


def group_choice(agg: formula.Design, ml=None) -> centring.Choice:
    """Centred or not for the group intercepts (:func:`centring.binomial`, about the
    fitted probabilities of the pooled GLM in ``ml``, :func:`ml_fits` of the rows,
    fitted here when not given)."""
    if ml is None:
        ml = ml_fits(agg.y, with_constant(agg.X), ["Intercept", *agg.common_names],
                     agg.trials)
    g = agg.groups[0]
    return centring.binomial(g.name, agg.y, agg.trials, ml["glm_fitted"], g.index)


def grouped_data(agg: formula.Design, spec: dict, prior_scale: float, centred: bool,
                 grainsize: int, pointwise: bool = False) -> dict:
    """logistic_varying_intercepts.stan's data: the inputs, counts and groups of the
    (aggregated) rows, the Gelman et al. prior ``spec`` and exponential(1 / s) on tau."""
    binary = binary_inputs(agg.X)
    return {**program_data(agg.X, agg.y, binary, spec, trials=agg.trials,
                           pointwise=pointwise),
            "J": len(agg.groups[0].levels), "group": agg.groups[0].index.tolist(),
            "tau_rate": 1 / prior_scale, "centred": int(centred), "grainsize": grainsize}


def fit_grouped(agg: formula.Design, opts: RunOptions, spec: dict, prior_scale: float,
                centred: bool) -> Fit:
    """The varying-intercept fit, its draws named after the formula's terms:
    Intercept (the mean group intercept), the common terms, sd(1|g) and the group
    intercepts (1|g, one per level)."""
    g, names = agg.groups[0], agg.common_names
    run = threading(opts.chains, len(agg.y))
    pointwise = len(agg.y) <= POINTWISE_ROWS
    data = grouped_data(agg, spec, prior_scale, centred, run.pop("grainsize"), pointwise)
    f = sample(GROUPED, data, opts, main=["alpha", "beta", "tau"],
               observed={"y": agg.y} if pointwise else None,
               coords={"input": names, "group": g.levels, "row": np.arange(len(agg.y))},
               dims={"beta": ["input"], "beta_z": ["input"], "alpha_group": ["group"],
                     "alpha_z": ["group"], "u": ["group"], "y": ["row"]},
               cpp_options=THREADS, **run)
    f = term_scale(f, names, np.zeros(len(names)), np.ones(len(names)), opts.quick,
                   extra={f"sd({g.name})": "tau", g.name: "alpha_group"})
    return f


def grouped_priors_table(name: str, spec: dict, names: list[str], g: formula.GroupTerm,
                         prior_scale: float) -> pd.DataFrame:
    """``name``, ``spec``: one of :func:`scaled_priors`' priors."""
    where = (f"Gelman et al. (2008) defaults, rstanarm's on the group sd; --prior-scale "
             f"(here {prior_scale:g}) multiplies every scale")
    return pd.DataFrame(
        [{"parameter": "Intercept", "prior": f"Cauchy(0, {spec['intercept_scale']:g}) on "
          "the mean group intercept, inputs centred", "where it is set": where}]
        + [{"parameter": n, "prior": f"{name} on the input scaled as in Scaling",
            "where it is set": where} for n in names]
        + [{"parameter": f"sd({g.name})", "prior": f"exponential({1 / prior_scale:g})",
            "where it is set": where},
           {"parameter": g.name, "prior": f"normal(Intercept, sd({g.name})) for each of "
            f"the {len(g.levels)} {g.factor} groups", "where it is set": GROUPED + ".stan"}])


def analyse_grouped(d: formula.Design, opts: RunOptions, priors: dict[str, dict],
                    prior_scale: float) -> Results:
    """``y ~ x + (1 | g)`` on a user's data: the 0/1 rows that share a covariate
    pattern and group summed to binomial counts, the group intercepts centred or
    not by :mod:`centring`'s rule, one fit of the varying-intercept program under
    Gelman et al.'s default prior (the first of ``priors``), and maximum likelihood
    ignoring the groups beside it."""
    g, names = d.groups[0], d.common_names
    rows = ["Intercept", *names]
    agg = formula.aggregate_bernoulli(d)
    name, spec = next(iter(priors.items()))
    ml = ml_fits(agg.y, with_constant(agg.X), rows, agg.trials)
    choice = group_choice(agg, ml)
    f = fit_grouped(agg, opts, spec, prior_scale, choice.centred)
    table = f.table()
    per_group = pd.DataFrame({"rows": np.bincount(agg.groups[0].index - 1, agg.trials,
                                                  len(g.levels)).astype(int),
                              "ones": np.bincount(agg.groups[0].index - 1, agg.y,
                                                  len(g.levels)).astype(int)},
                             index=g.levels)
    same = int(((per_group.ones == 0) | (per_group.ones == per_group.rows)).sum())
    binary = binary_inputs(agg.X)
    if not opts.quiet:
        print_summary({name: table})
    return Results(
        "separation", GROUPED_TITLE, opts, {name: f},
        tables={"posterior": table, "groups": f.table([g.name]).set_index(
                    pd.Index(g.levels, name=g.factor)).join(per_group),
                "pooled_ml": ml["table"], "scaling": input_scaling(
                    agg.X, agg.trials, binary, names),
                "centring": centring.table([choice]),
                "priors": grouped_priors_table(name, spec, names, g, prior_scale),
                "efficiency": efficiency_table({name: f})},
        answer=grouped_answer(d, agg, table, ml["table"], choice, same, f.problems),
        problems=[f"{name}: {p}" for p in f.problems],
        extras={"formula": d.formula, "design": d, "grouped": True, "choice": choice,
                "predictor": _predictor(d, [name]),
                "prior": name, "rows": rows, "patterns": len(agg.y),
                "bernoulli_rows": int(agg.trials.sum()), "ones": int(agg.y.sum()),
                "uniform_groups": same})


def grouped_answer(d: formula.Design, agg: formula.Design, table: pd.DataFrame,
                   ml: pd.DataFrame, choice: centring.Choice, same: int,
                   problems: list[str]) -> str:
    g = d.groups[0]
    sd = table.loc[f"sd({g.name})"]
    terms = "; ".join(f"{n} {table.loc[n, '50%']:.3g} ({table.loc[n, '2.5%']:.3g} to "
                      f"{table.loc[n, '97.5%']:.3g}; ignoring the groups, ML "
                      f"{ml.loc[n, 'GLM (IRLS) estimate']:.3g})" for n in d.common_names)
    n = int(agg.trials.sum())
    text = (f"On {n:,} outcomes ({int(agg.y.sum()):,} ones) in {len(g.levels)} {g.factor} "
            f"groups, the varying-intercept logistic regression with Gelman et al.'s "
            f"(2008) prior puts the groups' sd on the logit scale at {sd['50%']:.2f} "
            f"(95% interval {sd['2.5%']:.2f} to {sd['97.5%']:.2f}). Posterior medians "
            f"(95% intervals) of the common terms: {terms}. ")
    if same:
        text += (f"{same} group(s) have all outcomes the same (0 or 1): maximum likelihood "
                 "would put their intercepts at infinity; here the group prior holds "
                 "them. ")
    text += (f"The {n:,} outcomes were fitted as {len(agg.y):,} binomial counts (rows "
             "sharing a covariate pattern and group summed: the same posterior). "
             if len(agg.y) < n else "")
    text += f"Group intercepts {choice.sentence.split(': ', 1)[1]}. "
    text += (f"Sampler diagnostics: {'; '.join(problems)}." if problems else
             "Every sampler diagnostic passed.")
    return text


def formula_answer(sep: pd.Series, ml: dict, growth: pd.Series,
                   tables: dict[str, pd.DataFrame], problems: dict[str, list[str]],
                   priors: list[str]) -> str:
    """The answer paragraph for a user's data, every claim computed from the
    numbers passed in: :func:`separation_check`, :func:`ml_fits`, :func:`se_growth`,
    each fit's posterior table and failed diagnostics (FLAT and ``priors``)."""
    glm = ml["table"]
    infinite = [r for r, v in sep.items() if v != 0]
    runs_off = growth[growth > DIVERGING_GROWTH]
    parts = []
    if infinite:
        parts.append(
            "The outcomes are separated: a linear programme (Konis 2007) finds a "
            f"direction in {_names(infinite)} that predicts every outcome without error, "
            "so the likelihood keeps rising along it and the maximum-likelihood estimate "
            "is infinite.")
    else:
        parts.append("The outcomes are not separated: a linear programme (Konis 2007) "
                     "finds no direction that predicts them all, so the maximum-"
                     "likelihood estimate is finite.")
    if len(runs_off):
        worst = runs_off.idxmax()
        parts.append(
            f"Maximum likelihood {'shows it' if infinite else 'still runs off'}: "
            f"statsmodels' GLM stops after {ml['glm_iterations']} IRLS iterations at "
            f"{worst} = {glm.loc[worst, 'GLM (IRLS) estimate']:.1f} with standard error "
            f"{glm.loc[worst, 'GLM se']:,.0f} and {_warned(ml['glm_warnings'])}, and each "
            f"further IRLS iteration multiplies that standard error by "
            f"{growth[worst]:.2f}.")
    else:
        parts.append(f"Maximum likelihood converges (statsmodels' GLM, "
                     f"{ml['glm_iterations']} IRLS iterations; standard errors stop "
                     f"growing).")
    flat = tables[FLAT]
    if problems[FLAT]:
        worst = flat["r_hat"].idxmax()
        parts.append(
            f"With flat priors Stan fails (kept as the failing case; its diagnostics "
            f"fail on purpose): the draws of {worst} have median {flat.loc[worst, '50%']:,.1f}"
            f", R-hat {flat.loc[worst, 'r_hat']:.2f} and bulk ESS "
            f"{flat.loc[worst, 'ess_bulk']:.0f}." if infinite else
            "The flat-prior fit failed its diagnostics (listed below), so its estimates "
            "are not given: run longer chains and check again.")
    elif infinite:
        parts.append("The flat-prior fit passed its diagnostics, but with separated data "
                     "its posterior is improper: this run was too short to show the "
                     "drift, and its draws estimate nothing.")
    else:
        moved = _moved(flat, glm)
        parts.append(f"With flat priors the posterior medians are within {moved:.2f} "
                     f"maximum-likelihood standard errors of the estimates.")
    ok = [k for k in priors if not problems[k]]
    bad = [k for k in priors if problems[k]]
    if ok and infinite:
        parts.append("The weakly informative prior of Gelman et al. (2008) gives finite "
                     "estimates: posterior median " + "; ".join(
                         f"of {r} {tables[k].loc[r, '50%']:.2f} (95% interval "
                         f"{tables[k].loc[r, '2.5%']:.2f} to {tables[k].loc[r, '97.5%']:.2f})"
                         f" under {k}" for r in infinite for k in ok) + ".")
    elif ok:
        parts.append("Under the weakly informative priors of Gelman et al. (2008) the "
                     "posterior medians are within " + " and ".join(
                         f"{_moved(tables[k], glm):.2f} (under {k})" for k in ok)
                     + " maximum-likelihood standard errors of the estimates.")
    if bad:
        parts.append(f"Sampler diagnostics failed for the {' and '.join(bad)} "
                     f"fit{'s' if len(bad) > 1 else ''} (listed below), so "
                     f"{'their' if len(bad) > 1 else 'its'} estimates are not given here."
                     " Run longer chains (raise --iter-warmup and --iter-sampling) and "
                     "check again.")
    return " ".join(parts)


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _moved(table: pd.DataFrame, glm: pd.DataFrame) -> float:
    return float(((table["50%"] - glm["GLM (IRLS) estimate"]) / glm["GLM se"]).abs().max())


def render_formula(r: Results, rep: report.Report) -> None:
    """The report for a user's data: data and separation check, priors, model,
    maximum likelihood, the flat-prior fit, the weakly informative fits, side by
    side, efficiency (the endometrial paper's numbers and the NV profile are left
    out)."""
    fits, x, d = r.fits, r.extras, r.extras["design"]
    rows, priors = x["rows"], x["priors"]
    tables = {name: f.table() for name, f in fits.items()}
    rep.section("Data", report.para(
        f"Source: {Path(d.source).name or d.source}; formula {x['formula']}. "
        f"{len(d.y)} data row(s) used"
        + (f" ({d.dropped_rows} row(s) with empty cells dropped, --dropna)"
           if d.dropped_rows else "")
        + (f", expanded to {x['bernoulli_rows']} 0/1 rows (one per trial)"
           if x["bernoulli_rows"] != len(d.y) else "")
        + f"; {x['ones']} of {x['bernoulli_rows']} outcomes are 1. "
        + ("Separation check (Konis 2007 linear programme): the outcomes are separated "
           "along the direction below (0: not involved), so maximum likelihood has no "
           "finite estimate." if x["separated"] else
           "Separation check (Konis 2007 linear programme): no separating direction; "
           "the maximum-likelihood estimate is finite.")),
        report.table(r.table("separation"), 3) if x["separated"] else "")
    rep.section("Priors", report.para(
        "The example's default is the weakly informative prior of Gelman et al. (2008) "
        "on inputs shifted and scaled by the programs (binary inputs centred, others "
        "centred and scaled to sd 0.5), with its Student-t(7) alternative and the "
        "flat-prior failing case:"), report.table(r.table("priors"), 3, index=False))
    rep.section("Model", report.para(
        "Two programs that differ only in the prior, on the same shifted and scaled "
        "inputs, coefficients reported on the scale of your columns. Their own "
        "descriptions:"), report.models(fits.values()), report.table(r.table("scaling"), 3))
    rep.section("1. Maximum likelihood", report.table(r.table("mle"), 3),
        report.para("Warnings raised by statsmodels' GLM (IRLS): "
                    + ("; ".join(x["glm_warnings"]) or
                       f"none ({x['glm_iterations']} iterations)") + "."),
        report.para("Warnings raised by statsmodels' Logit (Newton): "
                    + ("; ".join(x["logit_warnings"]) or "none") + "."),
        report.para("IRLS stopped after a fixed number of iterations (Lesaffre and "
                    "Albert 1989): a standard error that keeps growing marks an infinite "
                    "estimate."),
        report.table(r.table("mle_path"), 3, index=False),
        report.table(r.table("se_growth"), 3))
    flat = fits[FLAT]
    worst = tables[FLAT]["r_hat"].idxmax()
    rep.section("2. FAILING CASE: flat priors in Stan" if x["separated"] else
                "2. Flat priors in Stan", report.para(
        ("The outcomes are separated, so with a flat prior the posterior is as improper "
         "as the likelihood is unbounded. " if x["separated"] else
         "The outcomes are not separated, so the flat-prior posterior is proper here. ")
        + f"Sampler diagnostics: {'; '.join(flat.problems) or 'none failed'}.",
        "problems" if flat.problems else None),
        report.table(tables[FLAT], STATS_DIGITS),
        report.figure(report.trace_figure(flat.idata, [worst], f"Flat prior: draws of "
                                          f"{worst} (largest R-hat)"), "flat prior trace"))
    rep.section("3. Weakly informative priors (Gelman et al. 2008)", *[
        f"<h3>{report.esc(name)}</h3>" + report.table(tables[name], STATS_DIGITS)
        for name in priors],
        report.para(
            "Under a Cauchy prior and separation the posterior of a separated coefficient "
            "is proper but its tail is the prior's Cauchy tail, so its mean does not exist "
            "(Ghosh, Li and Mitra 2018): read its median and interval, not 'mean' and "
            "'mcse_mean'. The Student-t(7) prior has lighter tails and a finite mean."
            if x["separated"] else
            "No separation: the priors matter little where the data are informative.",
            "note"),
        report.figure(report.density_figure({k: fits[k] for k in priors}, rows,
                                            "Weakly informative posteriors",
                                            figsize=(10, 3.5 * (-(-len(rows) // 4)))),
                      "weakly informative posteriors"))
    rep.section("Side by side", report.table(r.table("side_by_side")), report.para(
        "Posterior mode: the maximum of the posterior density found by L-BFGS in "
        "CmdStan, the point estimate R's bayesglm reports. Firth: the Jeffreys-prior "
        "penalized likelihood (Firth 1993; Heinze and Schemper 2002), maximised here "
        "with scipy; finite under separation.", "note"))
    rep.section("Sampling efficiency", report.table(
        r.table("efficiency"), EFFICIENCY_DIGITS))


def print_summary(tables: dict[str, pd.DataFrame]) -> None:
    for name, t in tables.items():
        print(f"{name}:\n{t[['50%', '2.5%', '97.5%', 'r_hat', 'ess_bulk']].round(3)}")


# ---------------------------------------------------------------- report

def render_grouped(r: Results, rep: report.Report) -> None:
    """The report for y ~ x + (1 | g) on a user's data."""
    x, d = r.extras, r.extras["design"]
    g, f = d.groups[0], next(iter(r.fits.values()))
    rep.section("Data", report.para(
        f"Source: {Path(d.source).name or d.source}; formula {x['formula']}. "
        f"{len(d.y):,} data row(s) used"
        + (f" ({d.dropped_rows} row(s) with empty cells dropped, --dropna)"
           if d.dropped_rows else "")
        + f": {x['ones']:,} of {x['bernoulli_rows']:,} outcomes are 1, in "
        f"{len(g.levels)} {g.factor} groups; {x['uniform_groups']} group(s) have all "
        "outcomes the same."))
    rep.section("Priors", report.para(
        "The example's default for a user's data: the weakly informative prior of Gelman "
        "et al. (2008) on the common terms (inputs shifted and scaled by the program), a "
        "normal population of group intercepts and an exponential prior on its sd:"),
        report.table(r.table("priors"), 3, index=False))
    rep.section("Model and program", report.para(
        f"Program {GROUPED}.stan, chosen for a binary or binomial response with one group "
        f"intercept. Rows: the {x['bernoulli_rows']:,} outcomes are "
        + (f"fitted as {x['patterns']:,} binomial counts, the 0/1 rows that share a "
           "covariate pattern and group summed (sufficient statistics: the binomial "
           "likelihood equals the 0/1 rows' up to a constant, so the posterior is the "
           "same at a fraction of the cost)." if x["patterns"] < x["bernoulli_rows"] else
           "fitted row by row with the Bernoulli GLM function (no two rows share a "
           "covariate pattern and group).")
        + f" {centring.text([x['choice']])} The likelihood runs in reduce_sum slices, "
        "on several threads per chain when there are more cores than chains."),
        report.table(r.table("centring"), 3, index=False), report.models(r.fits.values()),
        report.table(r.table("scaling"), 3))
    rep.section("Posterior", report.table(r.table("posterior"), STATS_DIGITS),
        report.figure(report.trace_figure(f.idata, x["rows"] + [f"sd({g.name})"],
                                          "Draws of the common terms and the groups' sd"),
                      "trace"),
        report.para("Maximum likelihood ignoring the groups (statsmodels GLM), for "
                    "comparison:"), report.table(r.table("pooled_ml"), 3))
    shown = g.levels[:FOREST_GROUPS]
    rep.section("Group intercepts", report.para(
        "Each group's intercept (logit scale, the inputs at zero), with its rows and "
        "ones" + (f"; the figure shows the first {FOREST_GROUPS} groups" if len(
            g.levels) > FOREST_GROUPS else "") + "."),
        report.figure(report.forest_figure(
            r.fits, [g.name], f"Group intercepts ({g.factor})",
            figsize=(8, 1.5 + 0.25 * len(shown)), coords={"group": shown}),
            "group intercepts"),
        report.table(r.table("groups"), STATS_DIGITS))
    rep.section("Sampling efficiency", report.table(
        r.table("efficiency"), EFFICIENCY_DIGITS))


def render(r: Results, rep: report.Report) -> None:
    """The report's sections: data, model, maximum likelihood, the failing case, the
    weakly informative fits, side by side, what the prior did, efficiency (for a
    formula, :func:`render_formula`)."""
    if "formula" in r.extras:
        return (render_grouped if r.extras.get("grouped") else render_formula)(r, rep)
    frame, fits, x = r.data["endometrial"], r.fits, r.extras
    n, cells, glm = x["numbers"], x["cells"], r.table("mle")
    tables = {name: f.table(PARAMS) for name, f in fits.items()}
    firth_estimates, profile = r.table("firth")["Firth"], r.table("profile")
    source = frame.attrs.get("source", "")
    bundled = Path(source).is_file() and Path(source).resolve() == DATA.resolve()
    separated = (f"The NV x HG table has an empty cell: {_cell_sentence(cells)} "
                 "(quasi-complete separation)." if cells else
                 "The NV x HG table has no empty cell.")
    rep.section("Data", report.para(
        f"Heinze and Schemper (2002): histology grade (hg: 1 = high) of {len(frame)} "
        f"endometrial cancer patients with neovasculization (nv, 0/1), pulsatility index of "
        f"the arteria uterina (pi) and endometrium height (eh, mm). Source: {DATA.name} "
        f"(from brglm2); see data/README.md. {separated}" if bundled else
        f"Source: {Path(source).name or source}: {len(frame)} patients with hg (0/1), "
        f"nv (0/1), pi and eh. {separated}"),
        report.table(r.table("separation"), 0), report.table(frame.describe().T, 2))
    rep.section("Model", report.para(
        "Two programs that differ only in the prior, on the same shifted and scaled "
        "inputs (Gelman et al. 2008), coefficients reported on the original scale of "
        "the inputs (for nv, centring leaves beta_NV unchanged); the weakly informative "
        "one runs twice, with Cauchy(0, 2.5) and with Student-t(7, 0, 2.5) on the "
        "coefficients. Their own descriptions:"), report.models(fits.values()),
        report.table(r.table("scaling"), 3))
    rep.section("1. Maximum likelihood: the estimate runs off to infinity", report.para(
        "Fitted as a user would, with the library defaults:"),
        report.table(glm, 3),
        report.para("Warnings raised by statsmodels' GLM (IRLS): "
                    + ("; ".join(x["glm_warnings"]) or
                       f"none. It reports convergence after {n['glm_iterations']} "
                       f"iterations, because the deviance stopped changing.")),
        report.para("Warnings raised by statsmodels' Logit (Newton): "
                    + ("; ".join(x["logit_warnings"]) or "none") + "."),
        report.para(
            (f"R's glm() stops elsewhere again, at beta_NV = {R_GLM_NV[0]} with standard "
             f"error {R_GLM_NV[1]:,.2f} (brglm2 documentation): each program reports "
             f"wherever its stopping rule happened to fire. " if bundled else "")
            + (f"IRLS stopped after a fixed number of iterations shows the divergence "
               f"(Lesaffre and Albert 1989): beta_NV grows by {n['step']:.2f} per "
               f"iteration and its standard error by a factor {n['growth']:.2f}, while "
               f"beta_EH and the deviance settle." if n["growth"] > DIVERGING_GROWTH else
               f"IRLS stopped after a fixed number of iterations (Lesaffre and Albert "
               f"1989) shows no divergence: the standard error of beta_NV grows by a "
               f"factor of only {n['growth']:.2f} per iteration at the end.")),
        report.table(r.table("mle_path"), {"beta[NV]": 2, "se(beta[NV])": 1,
                                           "beta[EH]": 3, "se(beta[EH])": 3,
                                           "deviance": 4, "se ratio NV": 1,
                                           "se ratio EH": 3}, index=False))
    flat_fit = fits[FLAT]
    rep.section("2. FAILING CASE: flat priors in Stan", report.para(
        "This fit is expected to fail and is kept to show the failure. With a flat prior the "
        "posterior is as improper as the likelihood is unbounded: nothing stops beta_NV. "
        f"Sampler diagnostics: {'; '.join(flat_fit.problems) or 'none failed (unexpected)'}.",
        "problems"),
        report.table(tables[FLAT], {"r_hat": 2, "ess_bulk": 0, "ess_tail": 0,
                                    "mcse_mean": 2}),
        report.figure(flat_trace_figure(flat_fit), "flat prior trace of beta_NV"),
        report.para("The intercept, PI and EH look reasonable only because their draws are "
                    "conditioned on an ever larger beta_NV; none of these numbers is an "
                    "estimate.", "note"))
    rep.section("3. Weakly informative priors (Gelman et al. 2008)", *[
        f"<h3>{report.esc(name)}</h3>" + report.table(
            tables[name], {"r_hat": 3, "ess_bulk": 0, "ess_tail": 0, "mcse_mean": 3})
        for name in PRIORS],
        report.para(
            "Under Cauchy(0, 2.5) and separation the posterior of beta_NV is proper but its "
            "right tail is the prior's Cauchy tail, so its mean does not exist (Ghosh, Li and "
            "Mitra 2018): the 'mean' and 'mcse_mean' shown for beta[NV] under Cauchy are not "
            "estimates of anything; read the median and the interval. NUTS explores that "
            "heavy tail slowly (lower bulk ESS and R-hat a little above 1 for beta[NV] in "
            "short runs; run longer chains if they are flagged). The Student-t(7) prior "
            "has lighter tails, a finite mean and mixes well.", "note"),
        report.figure(nv_figure(fits, glm, n["firth_nv"]), "posterior of beta_NV"))
    rep.section("Side by side", report.table(r.table("side_by_side")),
                report.para(
                    "Posterior mode: the maximum of the posterior density found by L-BFGS in "
                    "CmdStan, the point estimate R's bayesglm reports. Firth: the "
                    "Jeffreys-prior penalized likelihood (Firth 1993; Heinze and Schemper "
                    "2002), maximised here with scipy"
                    + (" (these are the values R's brglm prints for these data)"
                       if _matches_published(firth_estimates) else "")
                    + ". " + firth_comparison(tables, firth_estimates,
                                              {k: f.problems for k, f in fits.items()}),
                    "note"))
    gain = n["gain"][3.0]
    ok = [k for k in PRIORS if not fits[k].problems]
    moved = max((n["moved"][k] for k in ok), default=None)
    rep.section("What the prior did", report.para(
        f"The profile log-likelihood of beta_NV (the other coefficients at their best for "
        f"each value) gains {gain:.2f} from beta_NV = 3 to the end of the grid (30) and "
        f"{n['gain'][5.0]:.2f} from 5"
        + (": it rises steeply up to about 3 and is then almost flat. A flat prior adds "
           "nothing to stop it, so the posterior mass escapes to infinity. "
           if gain < LITTLE_GAIN and cells else ". ")
        + f"The Cauchy(0, 2.5) log density falls by {n['drop']:.1f} between 3 and 30: a "
        f"log odds ratio of 30 (an odds ratio of 10^13) is judged implausible a priori"
        + (", and that small, reasonable judgment is enough to pin the posterior down "
           "where the data cannot." if cells and ok else ".")
        + ("" if moved is None else
           f" Where the data are informative (PI, EH) the prior is negligible against the "
           f"likelihood: those posterior medians stay within {moved:.2f} standard errors "
           f"of maximum likelihood." if moved <= BARELY_MOVED_SE else
           f" The posterior medians of the other coefficients move up to {moved:.2f} "
           f"standard errors from maximum likelihood.")
        + ("" if ok else " The weakly informative fits failed their diagnostics, so "
           "their posteriors are not described here.")),
        report.figure(profile_figure(profile.beta_nv.to_numpy(),
                                     profile.profile_loglik.to_numpy()),
                      "profile likelihood and priors"))
    rep.section("Sampling efficiency", report.table(
        r.table("efficiency"), EFFICIENCY_DIGITS),
        report.para(_flat_speed_note(fits[FLAT]), "note"))


def _flat_speed_note(flat: Fit) -> str:
    """Why the flat-prior run is slow, from its tree depths."""
    depth = flat.stat("tree_depth")
    if depth is None:
        return ""
    share = float((depth >= depth.max()).mean()) if depth.size else 0.0
    if flat.problems and share > 0.5:
        return (f"The flat-prior run is slow because {100 * share:.0f}% of its transitions "
                "reach the largest tree depth while chasing beta_NV along a flat ridge.")
    return ""


def key_numbers(ml, path, grid, prof, tables, fits, firth_estimates) -> dict:
    """The numbers the report's answer is written from."""
    late = path.iloc[-3:]  # the last IRLS rows: growth per iteration
    iters = late["IRLS iterations"].iloc[-1] - late["IRLS iterations"].iloc[0]
    se = late["se(beta[NV])"]
    others = ["alpha", "beta[PI]", "beta[EH]"]
    glm = ml["table"]
    moved = {name: float(((tables[name].loc[others, "50%"]
                           - glm.loc[others, "GLM (IRLS) estimate"])
                          / glm.loc[others, "GLM se"]).abs().max()) for name in PRIORS}
    return {
        "glm_nv": float(glm.loc["beta[NV]", "GLM (IRLS) estimate"]),
        "glm_se": float(glm.loc["beta[NV]", "GLM se"]),
        "glm_iterations": ml["glm_iterations"], "glm_warned": _warned(ml["glm_warnings"]),
        "logit_nv": float(glm["Logit (Newton) estimate"].iloc[1]),
        "logit_warned": _warned(ml["logit_warnings"]),
        "growth": float((se.iloc[-1] / se.iloc[0]) ** (1 / iters)),
        "step": float((late["beta[NV]"].iloc[-1] - late["beta[NV]"].iloc[0]) / iters),
        "nv": {name: t.loc["beta[NV]"] for name, t in tables.items()},
        "flat_max": float(nv_draws(fits[FLAT]).max()),
        "gain": {b: float(prof[-1] - np.interp(b, grid, prof)) for b in (3.0, 5.0)},
        "drop": float(np.log1p((30 / 2.5) ** 2) - np.log1p((3 / 2.5) ** 2)),
        "moved": moved, "firth_nv": float(firth_estimates["beta[NV]"])}


def answer(n: dict, cells: list[tuple[int, int, int]], problems: dict[str, list[str]]
           ) -> str:
    """The answer paragraph, every claim computed from the numbers passed in.

    ``n``: :func:`key_numbers`; ``cells``: :func:`separating_cells`; ``problems``: the
    failed diagnostics of each fit (FLAT and the keys of PRIORS).  The flat-prior fit
    is meant to fail (it is the failing case); a weakly informative fit that failed
    its diagnostics is not summarised: the paragraph says so and what to do.
    """
    up = bool(cells) and cells[0][0] == cells[0][1]   # beta_NV -> +infinity
    diverges = n["growth"] > DIVERGING_GROWTH
    parts = []
    if cells:
        v, g, count = cells[0]
        parts.append(
            f"All {count} patients {'with' if v else 'without'} neovasculization (nv = "
            f"{v}) have {'high' if g else 'low'}-grade histology (hg = {g}), so the "
            f"likelihood keeps rising as beta_NV {'grows' if up else 'falls'} and its "
            f"maximum is at {'+' if up else '-'}infinity.")
    else:
        parts.append("No cell of the NV x HG table is empty, so NV alone does not "
                     "separate the outcomes.")
    if diverges:
        parts.append(
            f"{'Maximum likelihood shows it' if cells else 'Yet maximum likelihood runs off'}"
            f": statsmodels' GLM stops after {n['glm_iterations']} IRLS iterations at "
            f"beta_NV = {n['glm_nv']:.1f} with standard error {n['glm_se']:,.0f} and "
            f"{n['glm_warned']}, its Logit fit stops at {n['logit_nv']:.1f} with "
            f"{n['logit_warned']}, and each further IRLS iteration adds {n['step']:.2f} "
            f"to beta_NV and multiplies its se by {n['growth']:.2f}.")
    else:
        parts.append(f"Maximum likelihood converges: beta_NV = {n['glm_nv']:.2f} "
                     f"(standard error {n['glm_se']:.2f}).")
    flat = n["nv"][FLAT]
    if problems[FLAT]:
        parts.append(
            f"With flat priors Stan fails{' in the same way' if diverges else ''} (kept as "
            f"the failing case; its diagnostics fail on purpose): the draws of beta_NV "
            f"drift to a median of {flat['50%']:,.0f} (largest {n['flat_max']:,.0f}), "
            f"R-hat {flat['r_hat']:.2f}, bulk ESS {flat['ess_bulk']:.0f}.")
    elif cells or diverges:
        parts.append("The flat-prior fit passed its diagnostics, but with separated data "
                     "its posterior is improper: this run was too short to show the "
                     "drift, and its draws estimate nothing.")
    else:
        parts.append(f"With flat priors the posterior median of beta_NV is "
                     f"{flat['50%']:.2f} (95% interval {flat['2.5%']:.2f} to "
                     f"{flat['97.5%']:.2f}).")
    ok = [name for name in PRIORS if not problems[name]]
    bad = [name for name in PRIORS if problems[name]]
    if ok:
        lead = ("The weakly informative prior of Gelman et al. (2008) gives finite "
                "estimates: posterior median of beta_NV " if cells or diverges else
                "Under the weakly informative prior of Gelman et al. (2008) the posterior "
                "median of beta_NV is ")
        parts.append(lead + " and ".join(
            f"{n['nv'][k]['50%']:.2f} (95% interval {n['nv'][k]['2.5%']:.2f} to "
            f"{n['nv'][k]['97.5%']:.1f}) under {k}" for k in ok) + ".")
        parts.append(_firth_sentence(n, ok))
    if bad:
        parts.append(
            f"Sampler diagnostics failed for the {' and '.join(bad)} "
            f"fit{'s' if len(bad) > 1 else ''} (listed below), so "
            f"{'their' if len(bad) > 1 else 'its'} estimates are not given here"
            + (": under Cauchy(0, 2.5) the posterior tail of beta_NV is the prior's "
               "heavy Cauchy tail, which NUTS explores slowly" if "Cauchy(0, 2.5)" in bad
               else "")
            + ". Run longer chains (raise --iter-warmup and --iter-sampling) and check "
              "again.")
    if up:
        gain = n["gain"]
        little = gain[3.0] < LITTLE_GAIN
        start = ("The prior works because the likelihood" if ok else "The likelihood")
        parts.append(
            f"{start} has {'almost nothing' if little else 'little'} left to gain: going "
            f"from beta_NV = 3 to infinity raises the profile log-likelihood by only "
            f"{gain[3.0]:.2f} (from 5, by {gain[5.0]:.2f}), while the Cauchy(0, 2.5) log "
            f"density falls by {n['drop']:.1f} between 3 and 30."
            if little else
            f"{start} still gains {gain[3.0]:.2f} in log-likelihood from beta_NV = 3 to "
            f"30 (from 5, {gain[5.0]:.2f}), against a fall of {n['drop']:.1f} in the "
            "Cauchy(0, 2.5) log density.")
    if ok:
        worst = max(n["moved"][k] for k in ok)
        parts.append(
            "The other coefficients barely move: their posterior medians are within "
            f"{worst:.2f} standard errors of their maximum-likelihood estimates."
            if worst <= BARELY_MOVED_SE else
            "The other coefficients move too: their posterior medians are up to "
            f"{worst:.2f} standard errors from their maximum-likelihood estimates.")
    return " ".join(parts)


def _firth_sentence(n: dict, ok: list[str]) -> str:
    f = n["firth_nv"]
    inside = [k for k in ok if n["nv"][k]["2.5%"] <= f <= n["nv"][k]["97.5%"]]
    text = f"Firth's penalized-likelihood estimate of beta_NV, {f:.2f}, lies "
    if len(inside) == len(ok):
        return text + ("inside both 95% intervals." if len(ok) > 1 else
                       "inside that 95% interval.")
    if not inside:
        return text + ("outside both 95% intervals." if len(ok) > 1 else
                       "outside that 95% interval.")
    out = [k for k in ok if k not in inside]
    return text + (f"inside the {' and '.join(inside)} interval but outside the "
                   f"{' and '.join(out)} one.")


def _warned(caught: list[str]) -> str:
    names = sorted({w.split(":")[0] for w in caught})
    return "a " + " and a ".join(names) if names else "no warning"


def main(argv: list[str] | None = None) -> int:
    def extend(p):
        p.add_argument("--data", default=DATA, help="endometrial CSV, or with --formula "
                       "your own data (default: %(default)s)")
        cli.add_formula_options(p)
    return cli.main(sys.modules[__name__], __doc__.splitlines()[0], argv, extend,
                    DEFAULTS)


if __name__ == "__main__":
    sys.exit(main())
