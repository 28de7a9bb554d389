"""Beetle mortality: which link? Binomial regression with logit, probit and cloglog.

Bliss (1935): adult flour beetles killed after 5 hours' exposure to carbon
disulphide at 8 doses.  Three programs differ only in the link; flat priors on
(alpha, beta) as in the notes, so when the maximum-likelihood estimate exists the
posterior means should sit close to it (Dobson 1990); the answer checks that.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import statsmodels.api as sm

from . import cli, programs, report
from .data import Column, check_rows, data_file, prepare
from .errors import DataError
from .errors import PystanModelsError
from .fitting import LOO_NOTE, Fit, RunOptions, draws, loo_compare, run_options, sample
from .results import Results

DATA = data_file("beetles.csv")
COLUMNS = [Column("dose"), Column("killed", "count"), Column("exposed", "count", positive=True)]
LINKS = {"logit": sm.families.links.Logit(), "probit": sm.families.links.Probit(),
         "cloglog": sm.families.links.CLogLog()}
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
DEFAULTS = RunOptions()
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
    if not (np.isfinite(prior_sd) and prior_sd >= 0):
        raise DataError(f"prior_sd must be 0 (flat) or positive, not {prior_sd!r}")
    return {"N": len(frame), "K": 1, "X": [[d] for d in frame.dose.tolist()],
            "trials": frame.exposed.tolist(), "y": frame.killed.tolist(),
            "G": grid_size, "X_grid": [[g] for g in dose_grid(frame, grid_size).tolist()],
            "prior_sd": float(prior_sd), "prior_only": int(prior_only),
            "pointwise": int(pointwise)}


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


def mle(frame: pd.DataFrame, link: str) -> pd.DataFrame:
    """Maximum-likelihood (IRLS) estimates and standard errors, via statsmodels;
    NaN when the estimate does not exist (see :func:`mle_problem`)."""
    if mle_problem(frame) is not None:
        return pd.DataFrame({"MLE": np.nan, "MLE se": np.nan}, index=PARAMS)
    endog = np.column_stack([frame.killed, frame.exposed - frame.killed])
    exog = sm.add_constant(frame.dose.to_numpy(), has_constant="add")
    # mle_problem ruled out separation; with two doses the fit is exact (no
    # residual df), which statsmodels warns about twice, wrongly
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GLM(endog, exog, family=sm.families.Binomial(link=LINKS[link])).fit()
    return pd.DataFrame({"MLE": res.params, "MLE se": res.bse}, index=PARAMS)


def fit_links(frame: pd.DataFrame, opts: RunOptions, grid_size: int = GRID_SIZE
              ) -> dict[str, Fit]:
    data = stan_data(frame, grid_size)
    # row positions, not dose values, as coordinates: a repeated dose would make
    # the coordinate ambiguous and ArviZ's summary fail (the doses stay in the tables)
    coords = {"row": np.arange(len(frame)), "grid": np.arange(data["G"])}
    dims = {"p_hat": ["row"], "p_grid": ["grid"], "killed": ["row"]}
    return {link: sample(f"beetles_{link}", data, opts, main=PARAMS + ["p_hat"],
                         observed={"killed": frame.killed}, coords=coords, dims=dims)
            for link in LINKS}


def fitted_table(frame: pd.DataFrame, fits: dict[str, Fit]) -> pd.DataFrame:
    """Observed proportions and each link's posterior mean fitted probability [95%]."""
    out = pd.DataFrame({"dose": frame.dose, "killed / exposed":
                        [f"{k}/{n}" for k, n in zip(frame.killed, frame.exposed)],
                        "observed": frame.killed / frame.exposed})
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


def curves_figure(frame: pd.DataFrame, fits: dict[str, Fit]):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (link, f), colour in zip(fits.items(), ["C0", "C1", "C2"]):
        p = draws(f.idata, "p_grid")
        grid = dose_grid(frame, p.shape[1])
        lo, med, hi = np.quantile(p, [0.025, 0.5, 0.975], axis=0)
        ax.fill_between(grid, lo, hi, color=colour, alpha=0.2)
        ax.plot(grid, med, color=colour, label=f"{link} (median, 95% band)")
    ax.scatter(frame.dose, frame.killed / frame.exposed, color="k", zorder=3,
               label="observed proportion killed")
    ax.set(xlabel="dose: log10 CS2 concentration (log10 mg/l)",
           ylabel="probability of death", title="Dose-response curves by link")
    ax.legend(loc="upper left")
    return fig


def _listed(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _dose_at(frame: pd.DataFrame, row: int) -> str:
    """A row's dose, with its row number when the dose appears more than once."""
    dose = frame.dose.iloc[row]
    repeated = int((frame.dose == dose).sum()) > 1
    return f"dose {dose:.4f}" + (f", row {row + 1}" if repeated else "")


def answer(frame: pd.DataFrame, coef: dict[str, pd.DataFrame],
           problems: dict[str, list[str]], fitted: tuple[float, str, int] | None,
           loo: pd.DataFrame | None, loo_notes: list[str]) -> str:
    """The answer paragraph, every claim computed from the numbers passed in.

    ``coef``: per link, the posterior table (mean, sd) beside the MLE; ``problems``:
    per link, its failed diagnostics; ``fitted``: :func:`max_fitted_difference`;
    ``loo``, ``loo_notes``: :func:`loo_compare`.  When a fit failed its diagnostics,
    or the maximum-likelihood estimate (hence, under the flat prior, a proper
    posterior) does not exist, no conclusion is drawn from the draws.
    """
    failed = [k for k, p in problems.items() if p]
    no_mle = mle_problem(frame)
    if failed or no_mle:
        return _no_conclusion(coef, failed, no_mle)

    betas = {k: float(c.loc["beta", "mean"]) for k, c in coef.items()}
    text = "The posterior mean slope is " + ", ".join(
        f"{v:.2f} ({k})" for k, v in betas.items())
    values = np.array(list(betas.values()))
    if np.all(values > 0) or np.all(values < 0):
        ratio = np.abs(values).max() / np.abs(values).min()
        strength = ("strongly on" if ratio >= 1.5 else "on" if ratio >= 1.1
                    else "only a little on")
        text += (f": the coefficients depend {strength} the link, a ratio of "
                 f"{ratio:.2f} between the largest and smallest.")
    else:
        text += ": the links do not even agree on the sign of the slope."
    if fitted is not None:
        diff, pair, row = fitted
        where = f"{pair}, at {_dose_at(frame, row)}"
        if diff < CLOSE_PROBABILITY:
            text += (" Yet the fitted probabilities are close: at every observed dose "
                     "the links' posterior-mean fitted probabilities differ by less than "
                     f"{CLOSE_PROBABILITY:g}, at most by {diff:.3f} ({where}).")
        else:
            text += (" The fitted probabilities differ too: by as much as "
                     f"{diff:.3f} in posterior-mean fitted probability ({where}).")
    if loo is not None and len(loo):
        text += _loo_sentence(loo, loo_notes)
    gaps = {(k, p): abs(c.loc[p, "mean"] - c.loc[p, "MLE"]) / c.loc[p, "sd"]
            for k, c in coef.items() for p in PARAMS}
    (link, param), worst = max(gaps.items(), key=lambda kv: kv[1])
    if worst <= NEAR_MLE_SD:
        text += (" With flat priors the posterior means sit next to the "
                 "maximum-likelihood estimates: each is within "
                 f"{worst:.2f} posterior sd of it.")
    else:
        text += (" The posterior means are not all next to the maximum-likelihood "
                 f"estimates: {param} ({link}) is {worst:.2f} posterior sd away.")
    return text


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
                   no_mle: str | None) -> str:
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
        slopes = ", ".join(f"{c.loc['beta', 'MLE']:.2f} ({k})" for k, c in coef.items())
        parts.append("The run may be too short: run longer chains (raise --iter-warmup "
                     "and --iter-sampling) and check again. The maximum-likelihood "
                     f"slopes, which do not depend on the sampler, are {slopes}.")
    return " ".join(parts)


def analyse(data=None, *, grid_size: int = GRID_SIZE, **run) -> Results:
    """Fit the three links to ``data`` (None: Bliss's data; a CSV path; a DataFrame
    with dose, killed, exposed) and compare them.  ``run``: chains, iter_warmup,
    iter_sampling, seed, quiet, quick (see :class:`RunOptions`)."""
    opts = run_options(DEFAULTS, run)
    if not isinstance(grid_size, int) or grid_size < 2:
        raise PystanModelsError(f"grid-size must be a whole number of at least 2 "
                                f"(got {grid_size!r})")
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
        data={"beetles": frame}, extras={"loo_notes": loo_notes})


def render(r: Results, rep: report.Report) -> None:
    """The report's sections: data, model, coefficients, fitted curves, densities,
    traces, LOO."""
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


def print_summary(coef: dict[str, pd.DataFrame]) -> None:
    rows = [{"link": k, "param": p, "mean": c.loc[p, "mean"], "sd": c.loc[p, "sd"],
             "MLE": c.loc[p, "MLE"], "r_hat": c.loc[p, "r_hat"]}
            for k, c in coef.items() for p in PARAMS]
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def main(argv: list[str] | None = None) -> int:
    def extend(p):
        p.add_argument("--data", default=DATA, help="beetles CSV (default: %(default)s)")
        p.add_argument("--grid-size", type=int, default=GRID_SIZE,
                       help="points on the drawn dose-response curves")
    return cli.main(sys.modules[__name__], __doc__.splitlines()[0], argv, extend,
                    DEFAULTS)


if __name__ == "__main__":
    sys.exit(main())
