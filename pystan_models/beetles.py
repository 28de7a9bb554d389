"""Beetle mortality: which link? Binomial regression with logit, probit and cloglog.

Bliss (1935): adult flour beetles killed after 5 hours' exposure to carbon
disulphide at 8 doses.  Three programs differ only in the link; flat priors on
(alpha, beta) as in the notes, so when the maximum-likelihood estimate exists the
posterior means should sit close to it (Dobson 1990); the answer checks that.
"""
from __future__ import annotations

import functools
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from . import cli, predict, programs, report
from . import data as datasets
from . import formula as formulas
from .data import Column, check_rows, data_file, prepare
from .errors import DataError
from .errors import PystanModelsError
from .fitting import (LOO_NOTE, Fit, RunOptions, draws, loo_compare, reference, run_options,
                      sample)
from .results import Results

DATA = data_file("beetles.csv")
COLUMNS = [Column("dose"), Column("killed", "count"), Column("exposed", "count", positive=True)]
LINKS = {"logit": "Logit", "probit": "Probit", "cloglog": "CLogLog"}   # statsmodels' names
PARAMS = ["alpha", "beta"]
GRID_SIZE = 101       # points on the drawn dose-response curve
GRID_MARGIN = 0.02    # the curve runs this far (log10 dose) beyond the data

# What the answer calls "next to the MLE": every posterior mean within this many
# posterior sd of the maximum-likelihood estimate (under a flat prior the mode is
# the MLE; skewness puts the mean about 0.1 sd away for these data).
NEAR_MLE_SD = 0.25
# Fitted probabilities of two links are "close" when they differ by less than this
# at every observed dose.
CLOSE_PROBABILITY = 0.1
# LOO prefers one link clearly when each other trails by more than this many
# standard errors of the difference.
LOO_CLEAR_SE = 2.0


# the programs this example fits (compiled together when the cache lacks them)
PROGRAMS = ("beetles_logit", "beetles_probit", "beetles_cloglog")
# the outcome's kind, for the report's predictive checks (report.predictive_checks)
OUTCOME = "binomial"
DEFAULTS = RunOptions()
# the notes' model as a formula: how --predict reads new rows for the notes' fits
NOTES_FORMULA = "p(killed, exposed) ~ dose"
TITLE = "Beetle mortality: logit, probit and complementary log-log links"


def _check(frame: pd.DataFrame, source: str) -> None:
    check_rows(source, frame, "killed", frame.killed > frame.exposed,
               "more beetles killed than exposed")


def load(data=DATA) -> pd.DataFrame:
    """The validated frame: ``data`` is a CSV path (default: Bliss's data) or a
    DataFrame with columns dose, killed, exposed."""
    return prepare(data, DATA, COLUMNS, _check)


def dose_grid(frame: pd.DataFrame, grid_size: int = GRID_SIZE) -> np.ndarray:
    """Evenly spaced doses across the data (and a little beyond), for the curves."""
    return np.linspace(frame.dose.min() - GRID_MARGIN, frame.dose.max() + GRID_MARGIN,
                       grid_size)


def stan_data(frame: pd.DataFrame, grid_size: int = GRID_SIZE, *,
              prior_sd: float = 0.0, prior_only: bool = False,
              pointwise: bool = True) -> dict:
    """The collection's data contract: ``X`` is the N x 1 design matrix of log dose
    (no intercept column), ``trials`` the beetles exposed, ``y`` those killed.
    ``prior_sd`` 0 is the notes' flat prior; > 0 puts alpha_c, beta ~ N(0,
    prior_sd^2) (a proper prior, for prior predictive draws and calibration)."""
    return _data(frame.dose.to_numpy(float)[:, None], frame.exposed, frame.killed,
                 dose_grid(frame, grid_size)[:, None], prior_sd, np.ones(1),
                 prior_only, pointwise)


def _data(X, trials, y, X_grid, prior_sd, beta_scale, prior_only=False,
          pointwise=True) -> dict:
    """The programs' data for any N x K design ``X`` (K >= 1, no intercept column):
    the prior is flat when ``prior_sd`` is 0, else alpha_c ~ N(0, prior_sd^2) and
    beta[k] ~ N(0, (prior_sd * beta_scale[k])^2)."""
    if not (np.isfinite(prior_sd) and prior_sd >= 0):
        raise DataError(f"prior_sd must be 0 (flat) or positive, not {prior_sd!r}")
    X, X_grid = np.asarray(X, float), np.asarray(X_grid, float)
    return {"N": len(X), "K": X.shape[1], "X": X.tolist(),
            "trials": [int(v) for v in trials], "y": [int(v) for v in y],
            "G": len(X_grid), "X_grid": X_grid.tolist(),
            "prior_sd": float(prior_sd),
            "beta_scale": [float(v) for v in beta_scale],
            "prior_only": int(prior_only), "pointwise": int(pointwise)}


def mle_problem(frame: pd.DataFrame) -> str | None:
    """Why the maximum-likelihood estimate of (alpha, beta) does not exist for these
    data, or None when it does.

    It exists (finite and unique) exactly when there are at least two distinct doses
    and no dose splits the beetles into none killed on one side and all killed on
    the other (quasi-complete separation; all or none killed is the extreme case).
    Under the notes' flat prior the posterior is then improper too.
    """
    by_dose = frame.groupby("dose", sort=True)[["killed", "exposed"]].sum()
    doses = by_dose.index.to_numpy()
    dead, n = by_dose.killed.to_numpy(), by_dose.exposed.to_numpy()
    if dead.sum() == 0:
        return "no beetle died, so the likelihood keeps growing as the probability of " \
               "death goes to 0"
    if dead.sum() == n.sum():
        return "every beetle died, so the likelihood keeps growing as the probability " \
               "of death goes to 1"
    if len(doses) < 2:
        what = "there is one dose group" if len(frame) == 1 else \
            f"all {len(frame)} rows have the same dose ({doses[0]:g})"
        return f"{what}, so the data say nothing about the slope"
    none, every = dead == 0, dead == n
    for j, x in enumerate(doses):
        for low, high, below, above in ((none, every, "none", "every"),
                                        (every, none, "every", "none")):
            if low[:j].all() and high[j + 1:].all():
                said = {"none": "no beetle died at any dose {} {:g}",
                        "every": "every beetle died at each dose {} {:g}"}
                sides = ([said[below].format("below", x)] if j > 0 else []) + \
                        ([said[above].format("above", x)] if j < len(doses) - 1 else [])
                return (f"{' and '.join(sides)}: the doses separate the outcomes, so "
                        "the likelihood keeps growing as the slope grows in size")
    return None


@reference
def mle(frame: pd.DataFrame, link: str) -> pd.DataFrame:
    """Maximum-likelihood (IRLS) estimates and standard errors, via statsmodels;
    NaN when the estimate does not exist (see :func:`mle_problem`)."""
    if mle_problem(frame) is not None:
        return pd.DataFrame({"MLE": np.nan, "MLE se": np.nan}, index=PARAMS)
    res = _glm(frame.killed, frame.exposed, frame.dose.to_numpy()[:, None], link)
    return pd.DataFrame({"MLE": res.params, "MLE se": res.bse}, index=PARAMS)


def _glm(y, n, X, link: str):
    """statsmodels' binomial GLM of y successes in n trials on [1, X]."""
    import statsmodels.api as sm   # here: slow to import; a rebuild needs none
    endog = np.column_stack([np.asarray(y), np.asarray(n) - np.asarray(y)])
    exog = sm.add_constant(np.asarray(X, float), has_constant="add")
    # the callers rule out separation; with as many rows as coefficients the fit
    # is exact (no residual df), which statsmodels warns about, wrongly
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        family = sm.families.Binomial(getattr(sm.families.links, LINKS[link])())
        return sm.GLM(endog, exog, family=family).fit()


def fit_links(frame: pd.DataFrame, opts: RunOptions, grid_size: int = GRID_SIZE
              ) -> dict[str, Fit]:
    data = stan_data(frame, grid_size)
    # row positions, not dose values, as coordinates: a repeated dose would make
    # the coordinate ambiguous and ArviZ's summary fail (the doses stay in the tables)
    coords = {"row": np.arange(len(frame)), "grid": np.arange(data["G"])}
    dims = {"p_hat": ["row"], "p_grid": ["grid"], "killed": ["row"], "beta": ["coef"]}
    coords["coef"] = ["dose"]
    return {link: _scalar_beta(sample(f"beetles_{link}", data, opts,
                                      main=PARAMS + ["p_hat"],
                                      observed={"killed": frame.killed},
                                      coords=coords, dims=dims))
            for link in LINKS}


def _scalar_beta(f: Fit) -> Fit:
    """The notes' one slope as the scalar ``beta`` (the programs' vector[K] beta
    with K = 1), so tables and figures name it as the notes do."""
    post = f.idata["posterior"].to_dataset()
    f.idata["posterior"] = post.assign(beta=post["beta"].isel(coef=0, drop=True))
    f.summaries.clear()
    return f


def fitted_table(frame: pd.DataFrame, fits: dict[str, Fit]) -> pd.DataFrame:
    """Observed proportions and each link's posterior mean fitted probability [95%]."""
    return _fitted(frame[["dose"]], frame.killed, frame.exposed, fits,
                   "killed / exposed")


def _fitted(rows: pd.DataFrame, y, n, fits: dict[str, Fit],
            label: str = "successes / trials") -> pd.DataFrame:
    out = rows.reset_index(drop=True).assign(**{
        label: [f"{k}/{m}" for k, m in zip(y, n)],
        "observed": np.asarray(y) / np.asarray(n)})
    for link, f in fits.items():
        p = draws(f.idata, "p_hat")
        lo, hi = np.quantile(p, [0.025, 0.975], axis=0)
        out[link] = [f"{m:.3f} [{a:.3f}, {b:.3f}]" for m, a, b in zip(p.mean(0), lo, hi)]
    return out


def max_fitted_difference(fits: dict[str, Fit]) -> tuple[float, str, int]:
    """Largest |difference| in posterior-mean fitted probability between two links."""
    means = {k: f.idata.posterior["p_hat"].mean(("chain", "draw")).values
             for k, f in fits.items()}
    best = (0.0, "", 0)
    names = list(means)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = np.abs(means[a] - means[b])
            if d.max() > best[0]:
                best = (float(d.max()), f"{a} vs {b}", int(d.argmax()))
    return best


def curves_figure(frame: pd.DataFrame, fits: dict[str, Fit], *, x=None,
                  observed=None, xlabel="dose: log10 CS2 concentration (log10 mg/l)",
                  ylabel="probability of death", what="killed"):
    """Each link's curve (median, 95% band) over its grid, with the observed
    proportions; ``x``, ``observed``: a formula's one predictor and y / trials."""
    import matplotlib.pyplot as plt
    pad = GRID_MARGIN if x is None else GRID_MARGIN * (np.max(x) - np.min(x))
    x = frame.dose.to_numpy() if x is None else np.asarray(x)
    observed = frame.killed / frame.exposed if observed is None else observed
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (link, f), colour in zip(fits.items(), ["C0", "C1", "C2"]):
        p = draws(f.idata, "p_grid")
        grid = np.linspace(x.min() - pad, x.max() + pad, p.shape[1])
        lo, med, hi = np.quantile(p, [0.025, 0.5, 0.975], axis=0)
        ax.fill_between(grid, lo, hi, color=colour, alpha=0.2)
        ax.plot(grid, med, color=colour, label=f"{link} (median, 95% band)")
    ax.scatter(x, observed, color="k", zorder=3, label=f"observed proportion {what}")
    ax.set(xlabel=xlabel, ylabel=ylabel, title="Dose-response curves by link")
    ax.legend(loc="upper left")
    return fig


def fitted_figure(observed, fits: dict[str, Fit]):
    """Observed proportion against each link's fitted probability (posterior mean,
    95% interval), one point per row: the check when there is no single dose."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 5.5))
    for (link, f), colour in zip(fits.items(), ["C0", "C1", "C2"]):
        p = draws(f.idata, "p_hat")
        lo, hi = np.quantile(p, [0.025, 0.975], axis=0)
        ax.errorbar(p.mean(0), observed, xerr=[p.mean(0) - lo, hi - p.mean(0)],
                    fmt="o", ms=3, color=colour, alpha=0.6, label=link)
    ax.plot([0, 1], [0, 1], color="grey", ls=":", label="fitted = observed")
    ax.set(xlabel="fitted probability (posterior mean, 95% interval)",
           ylabel="observed proportion", title="Fitted vs observed, per row",
           xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    return fig


def _listed(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _dose_at(frame: pd.DataFrame, row: int) -> str:
    """A row's dose, with its row number when the dose appears more than once
    (for a formula's data, which has no dose column: the row number)."""
    if "dose" not in frame:
        return f"row {row + 1}"
    dose = frame.dose.iloc[row]
    repeated = int((frame.dose == dose).sum()) > 1
    return f"dose {dose:.4f}" + (f", row {row + 1}" if repeated else "")


_NOTES = object()    # answer's default: the MLE problem of the notes' frame


def answer(frame: pd.DataFrame, coef: dict[str, pd.DataFrame],
           problems: dict[str, list[str]], fitted: tuple[float, str, int] | None,
           loo: pd.DataFrame | None, loo_notes: list[str], *,
           slopes: tuple[str, ...] = ("beta",), no_mle=_NOTES, flat: bool = True) -> str:
    """The answer paragraph, every claim computed from the numbers passed in.

    ``coef``: per link, the posterior table (mean, sd) beside the MLE; ``problems``:
    per link, its failed diagnostics; ``fitted``: :func:`max_fitted_difference`;
    ``loo``, ``loo_notes``: :func:`loo_compare`.  When a fit failed its diagnostics,
    or the maximum-likelihood estimate (hence, under the flat prior, a proper
    posterior) does not exist, no conclusion is drawn from the draws.  For a
    formula: ``slopes`` the coefficient rows (the terms), ``no_mle`` why no MLE
    exists (or None), ``flat`` False under the data-scaled default prior.
    """
    failed = [k for k, p in problems.items() if p]
    no_mle = mle_problem(frame) if no_mle is _NOTES else no_mle
    if failed or (no_mle and flat):
        text = _no_conclusion(coef, failed, no_mle if flat else None, slopes)
        if no_mle and not flat:
            text += (f" No maximum-likelihood estimate exists for these data ({no_mle})"
                     ": the default prior keeps the posterior proper, but along that "
                     "direction only the prior holds it, which can make it hard to "
                     "sample; a smaller --prior-scale (a stronger prior) or more data "
                     "help.")
        return text

    text = _slope_sentence(coef, slopes)
    if fitted is not None:
        diff, pair, row = fitted
        where = f"{pair}, at {_dose_at(frame, row)}"
        if diff < CLOSE_PROBABILITY:
            unit = "observed dose" if "dose" in frame else "row"
            text += (f" Yet the fitted probabilities are close: at every {unit} "
                     "the links' posterior-mean fitted probabilities differ by less than "
                     f"{CLOSE_PROBABILITY:g}, at most by {diff:.3f} ({where}).")
        else:
            text += (" The fitted probabilities differ too: by as much as "
                     f"{diff:.3f} in posterior-mean fitted probability ({where}).")
    if loo is not None and len(loo):
        text += _loo_sentence(loo, loo_notes)
    gaps = {(k, p): abs(c.loc[p, "mean"] - c.loc[p, "MLE"]) / c.loc[p, "sd"]
            for k, c in coef.items() for p in c.index}
    (link, param), worst = max(gaps.items(), key=lambda kv: kv[1])
    if not flat:
        if np.isfinite(worst):
            text += (" Under the weakly informative default prior the posterior means "
                     f"lie within {worst:.2f} posterior sd of the maximum-likelihood "
                     f"estimates (the furthest: {param}, {link}).")
        else:
            text += (" No maximum-likelihood estimate exists for these data "
                     f"({no_mle}); the proper default prior keeps the posterior "
                     "proper, and it carries the estimates in that direction.")
    elif worst <= NEAR_MLE_SD:
        text += (" With flat priors the posterior means sit next to the "
                 "maximum-likelihood estimates: each is within "
                 f"{worst:.2f} posterior sd of it.")
    else:
        text += (" The posterior means are not all next to the maximum-likelihood "
                 f"estimates: {param} ({link}) is {worst:.2f} posterior sd away.")
    return text


def _slope_sentence(coef: dict[str, pd.DataFrame], slopes) -> str:
    """How the coefficients (posterior means) differ between the links."""
    means = {s: np.array([c.loc[s, "mean"] for c in coef.values()]) for s in slopes}
    shown = {s: ", ".join(f"{v:.2f} ({k})" for k, v in zip(coef, m))
             for s, m in means.items()}
    if list(slopes) == ["beta"]:
        text = "The posterior mean slope is " + shown["beta"]
    elif len(slopes) == 1:
        text = f"The posterior mean coefficient of {slopes[0]} is {shown[slopes[0]]}"
    else:
        text = "The posterior mean coefficients are " + "; ".join(
            f"{s}: {v}" for s, v in shown.items())
    mixed = [s for s, m in means.items() if not (np.all(m > 0) or np.all(m < 0))]
    if mixed:
        what = "the slope" if list(slopes) == ["beta"] else _listed(mixed)
        return text + f": the links do not even agree on the sign of {what}."
    ratios = {s: np.abs(m).max() / np.abs(m).min() for s, m in means.items()}
    worst = max(ratios, key=ratios.get)
    ratio = ratios[worst]
    strength = ("strongly on" if ratio >= 1.5 else "on" if ratio >= 1.1
                else "only a little on")
    return text + (f": the coefficients depend {strength} the link, a ratio of "
                   f"{ratio:.2f} between the largest and smallest"
                   + (f" ({worst})." if len(slopes) > 1 else "."))


def _loo_sentence(loo: pd.DataFrame, loo_notes: list[str]) -> str:
    best, rest = loo.index[0], loo.iloc[1:]
    trail = ", ".join(f"{d:.1f} ± {s:.1f} ({k})"
                      for k, d, s in zip(rest.index, rest.elpd_diff, rest.dse))
    near = [k for k, d, s in zip(rest.index, rest.elpd_diff, rest.dse)
            if not d > LOO_CLEAR_SE * s]
    if near:
        text = (f" By LOO, {best} has the highest elpd ({loo.elpd_loo.iloc[0]:.1f}), but "
                f"{_listed(near)} trail{'s' if len(near) == 1 else ''} it by no more than "
                f"{LOO_CLEAR_SE:g} standard errors (elpd differences {trail}), so LOO does "
                "not single out one link.")
    else:
        text = (f" By LOO, {best} fits best (elpd {loo.elpd_loo.iloc[0]:.1f}); the others "
                f"trail by {trail} elpd, each by more than {LOO_CLEAR_SE:g} standard "
                "errors.")
    if loo_notes:
        text += (" PSIS-LOO is unreliable for some observations (see the LOO section), "
                 "so treat that comparison with caution.")
    return text


def _no_conclusion(coef: dict[str, pd.DataFrame], failed: list[str],
                   no_mle: str | None, slopes=("beta",)) -> str:
    """The answer when the draws cannot be trusted: why, and what would help."""
    parts = []
    if failed:
        parts.append(f"Sampler diagnostics failed for the {_listed(failed)} "
                     f"fit{'s' if len(failed) > 1 else ''} (listed below), so this run "
                     "supports no conclusion about the links: posterior means, fitted "
                     "probabilities and the LOO comparison are not summarised here.")
    if no_mle:
        lead = "" if failed else ("The sampler diagnostics passed, but no conclusion is "
                                  "drawn: ")
        parts.append(
            f"{lead}{'t' if lead else 'T'}he maximum-likelihood estimate does not exist "
            f"for these data ({no_mle}). Under the notes' flat prior the posterior is "
            "then improper: there is no distribution for the draws to describe, and "
            "longer chains will not help. These data need a proper prior on "
            "(alpha, beta), or more data.")
    else:
        parts.append("The run may be too short: run longer chains (raise --iter-warmup "
                     "and --iter-sampling) and check again.")
        mles = {s: ", ".join(f"{c.loc[s, 'MLE']:.2f} ({k})" for k, c in coef.items())
                for s in slopes
                if all(np.isfinite(c.loc[s, "MLE"]) for c in coef.values())}
        if list(mles) == ["beta"]:
            parts[-1] += (" The maximum-likelihood slopes, which do not depend on the "
                          f"sampler, are {mles['beta']}.")
        elif mles:
            parts[-1] += (" The maximum-likelihood estimates, which do not depend on "
                          "the sampler, are " + "; ".join(f"{s}: {v}" for s, v in
                                                         mles.items()) + ".")
    return " ".join(parts)


def analyse(data=None, *, formula: str | None = None, dropna: bool = False,
            prior_scale: float = 1.0, grid_size: int = GRID_SIZE, **run) -> Results:
    """Fit the three links to ``data`` (None: Bliss's data; a CSV path; a DataFrame
    with dose, killed, exposed) and compare them.  ``run``: chains, iter_warmup,
    iter_sampling, seed, quiet, quick (see :class:`RunOptions`).

    With a ``formula`` (``p(successes, trials) ~ terms``, no group terms) ``data``
    is any table (None: Bliss's file); ``dropna`` drops rows with empty cells in
    the formula's columns; the prior is the data-scaled default of
    :func:`pystan_models.formula.default_priors` times ``prior_scale`` (0: the
    notes' flat prior)."""
    opts = run_options(DEFAULTS, run)
    if not isinstance(grid_size, int) or grid_size < 2:
        raise PystanModelsError(f"grid-size must be a whole number of at least 2 "
                                f"(got {grid_size!r})")
    if formula is not None:
        return _analyse_formula(data, formula, dropna, prior_scale, grid_size, opts)
    if dropna or prior_scale != 1.0:
        raise PystanModelsError("--dropna and --prior-scale apply to a --formula "
                                "(without one, the notes' model and flat prior)")
    frame = load(data)
    programs.compile_all(PROGRAMS, quiet=opts.quiet)   # at once, up to a core each
    fits = fit_links(frame, opts, grid_size)
    coef = {link: pd.concat([f.table(PARAMS), mle(frame, link)], axis=1)
            for link, f in fits.items()}
    loo, loo_notes = loo_compare(fits)
    fitted = max_fitted_difference(fits)
    text = answer(frame, coef, {k: f.problems for k, f in fits.items()}, fitted, loo,
                  loo_notes)
    if not opts.quiet:
        print_summary(coef)
    return Results(
        "beetles", TITLE, opts, fits,
        tables={"coefficients": pd.concat(coef, names=["link", "parameter"]),
                "fitted": fitted_table(frame, fits), "loo": loo},
        answer=text, problems=[f"{k}: {p}" for k, f in fits.items() for p in f.problems],
        data={"beetles": frame}, extras={"loo_notes": loo_notes,
                                         "predictor": lambda: _predictor(notes_design(frame))})


def notes_design(frame: pd.DataFrame) -> formulas.Design:
    """The notes' data as the design of :data:`NOTES_FORMULA` (X = dose, as the
    notes' fits have it)."""
    return formulas.design(frame, NOTES_FORMULA, family="binomial", check_rank=False,
                           source=frame.attrs.get("source", datasets.FRAME))


def predictor(data=None, *, formula: str | None = None, dropna: bool = False,
              **_) -> predict.Predictor:
    """How new rows are read (``--predict``; checked before any sampling)."""
    if formula is None:
        return _predictor(notes_design(load(data)))
    d = term_design(data, formula, dropna)
    return _predictor(d, _column_scale(d))


def _column_scale(d: formulas.Design) -> np.ndarray:
    return np.where(d.X.std(0) > 0, d.X.std(0), 1.0)


def _predictor(d: formulas.Design, scale=None) -> predict.Predictor:
    """Every link predicts; X_pred divided by ``scale`` as the fits' X was."""
    inputs = functools.partial(predict.standard_inputs, x_scale=scale)
    return predict.Predictor(d, {link: inputs for link in LINKS}, "probability")


# --- a user's data and formula ----------------------------------------------------

def term_design(data, formula: str, dropna: bool = False) -> formulas.Design:
    """The validated design of ``formula`` on ``data`` (None: Bliss's file), or one
    clear error when the formula is not a binomial regression these programs fit
    (p(successes, trials) on K >= 1 common terms and an intercept)."""
    frame = datasets.read_table(DATA if data is None else data)
    d = formulas.design(frame, formula, family="binomial",
                        source=frame.attrs["source"], dropna=dropna)
    formulas.checked_structure(d, example="beetles")
    what = formulas.EXAMPLES["beetles"].what
    if not d.intercept:
        raise formulas.FormulaError(f"beetles fits {what}, with an intercept; the "
                                    f"formula {formula!r} has none (drop the '0 +' "
                                    "or '- 1')")
    if d.X.shape[1] == 0:
        raise formulas.FormulaError(f"beetles fits {what}, with at least one common "
                                    f"term; the formula "
                                    f"{formula!r} has only the intercept")
    return d


def design_prior(d: formulas.Design, prior_scale: float) -> tuple[float, np.ndarray]:
    """(prior_sd, beta_scale) for the programs: 0 and ones (the notes' flat prior)
    when ``prior_scale`` is 0, else formula.default_priors times ``prior_scale``:
    alpha_c ~ N(0, (2.5 s)^2), beta_k ~ N(0, (2.5 s / sd(x_k))^2)."""
    if not (np.isfinite(prior_scale) and prior_scale >= 0):
        raise PystanModelsError(f"--prior-scale must be 0 (the notes' flat prior) or "
                                f"positive, not {prior_scale!r}")
    if prior_scale == 0:
        return 0.0, np.ones(d.X.shape[1])
    priors = formulas.default_priors(d, prior_scale)
    sd = priors["intercept"]["scale"]
    return float(sd), priors["beta"]["scale"] / sd


def priors_table(d: formulas.Design, prior_sd: float, beta_scale) -> pd.DataFrame:
    """The Priors table of the report: parameter, prior, scale, where it is set."""
    if prior_sd == 0:
        return pd.DataFrame({"parameter": ["Intercept", *d.common_names],
                             "prior": "flat (improper), the notes' prior",
                             "scale": np.nan, "set by": "--prior-scale 0"})
    where = ("formula.default_priors (rstanarm's default for GLMs): 2.5 x "
             "--prior-scale, divided by sd(x) for a coefficient")
    return pd.DataFrame({
        "parameter": ["Intercept, at the predictors' means (alpha_c)",
                      *d.common_names],
        "prior": ["normal(0, scale)"] * (1 + len(d.common_names)),
        "scale": [prior_sd, *(prior_sd * np.asarray(beta_scale))], "set by": where})


def curve_term(d: formulas.Design) -> str | None:
    """The one numeric predictor to draw dose-response curves against, or None
    (several terms, or one that is a category's indicator)."""
    if d.X.shape[1] != 1:
        return None
    name = d.common_names[0]
    return None if "[" in name or len(np.unique(d.X[:, 0])) <= 2 else name


def _term_variables(f: Fit, names: list[str], scale: np.ndarray) -> Fit:
    """The coefficients as variables named after the formula's terms
    (``Intercept``, ``log_dose``, ``C(sex)[M]``), for every table and figure, on the
    scale of the user's columns (the program saw each column divided by ``scale``)."""
    post = f.idata["posterior"].to_dataset()
    post["beta"] = post["beta"] / xr.DataArray(scale, dims="coef",
                                               coords={"coef": names})
    terms = {"Intercept": post["alpha"]}
    terms.update({n: post["beta"].sel(coef=n, drop=True) for n in names})
    f.idata["posterior"] = post.assign(terms)
    f.summaries.clear()
    f.main = ["Intercept", *names, "p_hat"]     # the parameters as the tables name them
    renamed = {"alpha": "Intercept", **{f"beta[{n}]": n for n in names}}
    f.problems = [re.sub(r"\b(alpha|beta\[[^\]]*\])",
                         lambda m: renamed.get(m.group(0), m.group(0)), p)
                  for p in f.problems]
    return f


def _mle_terms(d: formulas.Design, link: str, problem: str | None) -> pd.DataFrame:
    index = ["Intercept", *d.common_names]
    if problem is not None:
        return pd.DataFrame({"MLE": np.nan, "MLE se": np.nan}, index=index)
    res = _glm(d.y, d.trials, d.X, link)
    return pd.DataFrame({"MLE": res.params, "MLE se": res.bse}, index=index)


def ml_inits(X: np.ndarray, d: formulas.Design, link: str, problem: str | None,
             opts: RunOptions) -> list[dict] | None:
    """Where the chains start on a user's data (the program's inputs ``X``): Stan's
    own rule (uniform(-2, 2) on the unconstrained scale) on the scale of the ML fit,
    around it: each coefficient the ML estimate plus uniform(-2, 2) of its standard
    error, a different draw per chain.  That is overdispersed against the posterior
    (whose sd is about the ML se), so R-hat still compares chains from different
    starts; Stan's default starts where the linear predictor can be in the tens, the
    probabilities round to 0 or 1 and a cloglog chain can stay stuck (star98, 303
    school districts: R-hat 1.6, E-BFMI 0.01).  Stan's default when there is no ML
    fit (separation)."""
    if problem is not None:
        return None
    res = _glm(d.y, d.trials, X - X.mean(0), link)     # alpha_c: at the mean
    if not np.all(np.isfinite(res.bse)):
        return None
    draws = res.params + np.random.default_rng(opts.seed).uniform(
        -2, 2, (opts.chains, len(res.params))) * res.bse
    return [{"alpha_c": float(c[0]), "beta": c[1:].tolist()} for c in draws]


def separation(d: formulas.Design) -> str | None:
    """Why the maximum-likelihood estimate does not exist for ``d`` (None if it
    does): a direction b != 0 of the coefficients, intercept included, along which
    every row with a success has x.b >= 0 and every row with a failure x.b <= 0
    ((quasi-)complete separation; Albert and Anderson 1984), found by a linear
    programme as in Konis (2007, safeBinaryRegression).  The design has full rank
    (formula.design checks it), so a feasible b != 0 moves the likelihood up."""
    from scipy.optimize import linprog
    X = np.column_stack([np.ones(len(d.X)), d.X])
    scale = np.where(X.std(0) > 0, X.std(0), 1.0)
    Xs = X / scale
    signed = np.vstack([Xs[d.y > 0], -Xs[d.y < d.trials]])
    res = linprog(-signed.sum(0), A_ub=-signed, b_ub=np.zeros(len(signed)),
                  bounds=[(-1, 1)] * X.shape[1], method="highs")
    if res.status != 0 or -res.fun < 1e-7 * len(signed):
        return None
    if not (d.y > 0).any() or not (d.y < d.trials).any():
        return ("no trial succeeded" if not (d.y > 0).any() else
                "every trial succeeded") + ", so the likelihood keeps growing as " \
            "the probability goes to " + ("0" if not (d.y > 0).any() else "1")
    names = ["Intercept", *d.common_names]
    along = [n for n, b in zip(names, res.x) if abs(b) > 1e-6 and n != "Intercept"]
    who = (f"the term {along[0]} separates" if len(along) == 1 else
           f"the terms {_listed(along)} separate")
    return (f"{who} the successes from the failures "
            "((quasi-)complete separation), so the likelihood keeps growing along "
            "that direction")


def _analyse_formula(data, formula: str, dropna: bool, prior_scale: float,
                     grid_size: int, opts: RunOptions) -> Results:
    d = term_design(data, formula, dropna)
    prior_sd, beta_scale = design_prior(d, prior_scale)
    names, curve = d.common_names, curve_term(d)
    if curve:
        x = d.X[:, 0]
        pad = GRID_MARGIN * (x.max() - x.min())
        grid = np.linspace(x.min() - pad, x.max() + pad, grid_size)[:, None]
    else:
        grid = np.zeros((0, d.X.shape[1]))
    # the program sees each column divided by its sd: the same model and prior, but
    # coefficients of order 1, which NUTS's step size and metric adapt to (star98's
    # percentages: step size 0.04 -> 0.26, leapfrog steps 38 -> 14, ESS x 4-10);
    # the draws are scaled back to the user's columns in _term_variables
    scale = _column_scale(d)
    X = d.X / scale
    stan = _data(X, d.trials, d.y, grid / scale, prior_sd, beta_scale * scale)
    programs.compile_all(PROGRAMS, quiet=opts.quiet)
    coords = {"row": np.arange(len(d.y)), "grid": np.arange(len(grid)), "coef": names}
    dims = {"p_hat": ["row"], "p_grid": ["grid"], "y": ["row"], "beta": ["coef"]}
    params = ["Intercept", *names]
    problem = separation(d)
    fits = {link: _term_variables(sample(f"beetles_{link}", stan, opts,
                                         main=["alpha", "beta", "p_hat"],
                                         observed={"y": d.y}, coords=coords, dims=dims,
                                         inits=ml_inits(X, d, link, problem, opts)),
                                  names, scale)
            for link in LINKS}
    coef = {link: pd.concat([f.table(params), _mle_terms(d, link, problem)], axis=1)
            for link, f in fits.items()}
    rows = pd.DataFrame(d.X, columns=names).assign(successes=d.y, trials=d.trials)
    rows.insert(0, "row", d.rows + 1)
    rows.attrs["source"] = d.source
    loo, loo_notes = loo_compare(fits)
    fitted = max_fitted_difference(fits)
    text = answer(rows, coef, {k: f.problems for k, f in fits.items()}, fitted, loo,
                  loo_notes, slopes=tuple(names), no_mle=problem, flat=prior_sd == 0)
    if d.dropped_rows:
        text += (f" {d.dropped_rows} row(s) with empty cells were dropped (--dropna) "
                 f"before fitting; {len(d.y)} remain.")
    if not opts.quiet:
        print_summary(coef, params)
    observed = d.y / d.trials
    return Results(
        "beetles", TITLE, opts, fits,
        tables={"coefficients": pd.concat(coef, names=["link", "parameter"]),
                "fitted": _fitted(rows[["row", *names[:4]]], d.y, d.trials, fits),
                "loo": loo, "priors": priors_table(d, prior_sd, beta_scale)},
        answer=text, problems=[f"{k}: {p}" for k, f in fits.items() for p in f.problems],
        data={"beetles": rows},
        extras={"loo_notes": loo_notes, "formula": formula, "params": params,
                "curve": curve, "mle_problem": problem, "flat": prior_sd == 0,
                "dropped": d.dropped_rows, "observed": observed,
                "response": d.response_name, "predictor": _predictor(d, scale)})


def render(r: Results, rep: report.Report) -> None:
    """The report's sections: data, model, coefficients, fitted curves, densities,
    traces, LOO."""
    if "formula" in r.extras:
        return _render_formula(r, rep)
    frame, fits = r.data["beetles"], r.fits
    source = frame.attrs.get("source", "")
    bundled = Path(source).is_file() and Path(source).resolve() == DATA.resolve()
    rep.section("Data", report.para(
        "Bliss (1935): adult flour beetles exposed to gaseous carbon disulphide for 5 "
        f"hours. Source: {DATA.name}; see data/README.md." if bundled else
        f"Source: {Path(source).name or source} (dose, killed, exposed per dose group)."),
        report.table(frame, 4, index=False))
    rep.section("Model", report.para(
        "Three programs that differ only in the link g, each with the notes' flat prior; "
        "their own descriptions:"), report.models(fits.values()))
    coef = r.table("coefficients")
    problem = mle_problem(frame)
    rep.section("Coefficients by link", *[
        f"<h3>{link}</h3>" + report.table(coef.loc[link], {
            "r_hat": 3, "ess_bulk": 0, "ess_tail": 0, "mcse_mean": 3}) for link in fits],
        report.para("MLE and MLE se: maximum likelihood by IRLS (statsmodels GLM)"
                    + (". Published (Dobson 1990): logit (-60.72, 34.27), probit "
                       "(-34.94, 19.73), cloglog (-39.57, 22.04)." if bundled else
                       f"; blank: none exists for these data ({problem})." if problem
                       else "."), "note"))
    rep.section("Fitted probabilities", report.para(
        "Posterior mean of E(r_i/n_i | x_i) with 95% credible interval, per link, "
        "beside the observed proportion."),
        report.table(r.table("fitted"), {"dose": 4, "observed": 3}, index=False),
        report.figure(curves_figure(frame, fits), "dose-response curves"))
    rep.section("Posterior densities", report.figure(report.density_figure(
        fits, PARAMS, "Posterior densities of alpha and beta by link"),
        "posterior densities"))
    rep.section("Trace plots", *[report.figure(report.trace_figure(
        f.idata, PARAMS, f"Trace plots: {k} link", figsize=(10, 4)), f"trace {k}")
                                 for k, f in fits.items()])
    rep.section("LOO comparison", report.table(r.table("loo"), 2),
                *[report.para(n, "problems") for n in r.extras["loo_notes"]],
                report.para(LOO_NOTE, "note"))


def _render_formula(r: Results, rep: report.Report) -> None:
    """The report for a user's data: no Bliss, no Dobson; the formula's terms."""
    rows, fits, params = r.data["beetles"], r.fits, r.extras["params"]
    source = rows.attrs.get("source", "")
    dropped = r.extras["dropped"]
    rep.section("Data", report.para(
        f"Source: {Path(source).name or source}; formula {r.extras['formula']!r}, "
        f"{len(rows)} rows" + (f" ({dropped} row(s) with empty cells dropped by "
                               "--dropna)" if dropped else "") + ": the response "
        f"{r.extras['response']} (successes, trials) and the formula's common terms."),
        report.table(rows.head(200), 4, index=False),
        report.para("First 200 rows shown." if len(rows) > 200 else "", "note"))
    rep.section("Model", report.para(
        "Three programs that differ only in the link g: y_i ~ Binomial(n_i, p_i), "
        "g(p_i) = Intercept + sum_k beta_k x_ik over the formula's terms, sampled on "
        "centred predictors. Their own descriptions:"), report.models(fits.values()))
    rep.section("Priors", report.para(
        "The notes' flat prior was asked for (--prior-scale 0)." if r.extras["flat"]
        else "Weakly informative defaults scaled to the data, as rstanarm does "
        "(--prior-scale multiplies every scale; 0 gives the notes' flat prior), "
        "passed to the programs as prior_sd and beta_scale."),
        report.table(r.table("priors"), 3, index=False))
    coef = r.table("coefficients")
    problem = r.extras["mle_problem"]
    rep.section("Coefficients by link", *[
        f"<h3>{link}</h3>" + report.table(coef.loc[link], {
            "r_hat": 3, "ess_bulk": 0, "ess_tail": 0, "mcse_mean": 3}) for link in fits],
        report.para("MLE and MLE se: maximum likelihood by IRLS (statsmodels GLM "
                    "Binomial, the same link)" + (f"; blank: none exists for these "
                                                  f"data ({problem})." if problem
                                                  else "."), "note"))
    observed = r.extras["observed"]
    figure = (curves_figure(None, fits, x=rows[r.extras["curve"]], observed=observed,
                            xlabel=r.extras["curve"], ylabel="probability of success",
                            what="of successes") if r.extras["curve"]
              else fitted_figure(observed, fits))
    rep.section("Fitted probabilities", report.para(
        "Posterior mean of E(y_i/n_i | x_i) with 95% credible interval, per link, "
        "beside the observed proportion."),
        report.table(r.table("fitted").head(200), 3, index=False),
        report.figure(figure, "dose-response curves" if r.extras["curve"]
                                    else "fitted vs observed"))
    rep.section("Posterior densities", report.figure(report.density_figure(
        fits, params, "Posterior densities of the coefficients by link",
        figsize=(10, 1.5 + 2.0 * ((len(params) + 2) // 3))), "posterior densities"))
    rep.section("Trace plots", *[report.figure(report.trace_figure(
        f.idata, params, f"Trace plots: {k} link"), f"trace {k}")
                                 for k, f in fits.items()])
    rep.section("LOO comparison", report.table(r.table("loo"), 2),
                *[report.para(n, "problems") for n in r.extras["loo_notes"]],
                report.para(LOO_NOTE, "note"))


def print_summary(coef: dict[str, pd.DataFrame], params=PARAMS) -> None:
    rows = [{"link": k, "param": p, "mean": c.loc[p, "mean"], "sd": c.loc[p, "sd"],
             "MLE": c.loc[p, "MLE"], "r_hat": c.loc[p, "r_hat"]}
            for k, c in coef.items() for p in params]
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def main(argv: list[str] | None = None) -> int:
    def extend(p):
        p.add_argument("--data", default=None, help="beetles CSV (default: "
                       f"{DATA}); with --formula, any CSV with the formula's columns")
        p.add_argument("--grid-size", type=int, default=GRID_SIZE,
                       help="points on the drawn dose-response curves")
        cli.add_formula_options(p)
    return cli.main(sys.modules[__name__], __doc__.splitlines()[0], argv, extend,
                    DEFAULTS)


if __name__ == "__main__":
    sys.exit(main())
