"""Grouped data and the intraclass correlation (Minnesota radon by county).

Y_i ~ N(beta_j[i], sigma^2), beta_j ~ N(alpha, sigma_beta^2) on log radon in 919
Minnesota houses grouped by county.  The posterior of the intraclass correlation
rho = sigma_beta^2 / (sigma^2 + sigma_beta^2), the correlation of two houses in
the same county, is a generated quantity; the report sets its density beside
the classical one-way ANOVA (method-of-moments) estimate, with its approximate
F-based interval, and the REML estimate (statsmodels MixedLM)::

    from pystan_models import icc
    r = icc.analyse()                      # the radon data, default options
    r.fits["oneway"].idata                 # xarray.DataTree (ArviZ 1.x)
    r.table("estimates")                   # posterior beside REML and ANOVA
    r.answer
    r.write_report("icc.html")
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from . import centring, cli, formula, predict, programs, radon, report
from .data import FRAME, read_table
from .errors import DataError
from .fitting import (Fit, RunOptions, draws, efficiency_table, reference, rescale, run_options,
                      sample)
from .radon import DATA
from .results import Results

PROGRAM = "icc_oneway"
PARAMS = ["alpha", "sigma_beta", "sigma", "rho"]
SCALE_PRIOR_SD = 1.0   # half-normal scale of sigma and sigma_beta (log radon sd 0.85)
# the programs this example fits (compiled together when the cache lacks them)
PROGRAMS = ("icc_oneway",)
DEFAULTS = RunOptions()
TITLE = "Intraclass correlation of log radon within Minnesota counties"
FIT = "oneway"         # the label of the one fit in Results.fits
# how the report and the answer name the outcome, the units and the groups: the
# notes' words, or a user's formula's (see analyse_user)
WORDS = {"y": "log radon", "units": "houses", "group": "county", "groups": "counties",
         "scale": " (log pCi/L)"}


def load(data=DATA) -> pd.DataFrame:
    """The validated radon frame (:func:`radon.load`): ``data`` is a CSV path
    (default: the Minnesota radon file) or a DataFrame with the radon example's
    columns; the radon example's checks apply (log_radon is log(radon) with 0
    replaced by 0.1, one name per county, counties 1..J each with a house)."""
    return radon.load(data)


def stan_data(frame: pd.DataFrame, *, scale_prior_sd: float = SCALE_PRIOR_SD,
              alpha_prior_sd: float = 0.0, prior_only: bool = False,
              pointwise: bool = True, centred: bool = False) -> dict:
    """Data for icc_oneway.stan in the collection's contract: ``N`` houses, ``y``
    (log radon), ``J`` counties, ``group`` (1-based county of each house; each
    county has at least one house: ``radon.load`` has checked that), the prior
    scale and the two switches ``prior_only`` and ``pointwise`` (log_lik and
    y_rep).  The program has no predictors, so no ``K`` or ``X``.  ``centred``
    samples the group means centred (the notes' run: non-centred).
    ``alpha_prior_sd`` 0 is the notes' flat p(alpha); > 0 a proper
    alpha ~ N(0, alpha_prior_sd^2) (for prior predictive draws and calibration)."""
    if not (np.isfinite(alpha_prior_sd) and alpha_prior_sd >= 0):
        raise DataError(f"alpha_prior_sd must be 0 (flat) or positive, not "
                        f"{alpha_prior_sd!r}")
    if isinstance(scale_prior_sd, bool) or not isinstance(
            scale_prior_sd, (int, float, np.integer, np.floating)) \
            or not 0 < scale_prior_sd < np.inf:   # also catches NaN
        raise DataError(f"the prior scale must be positive and finite (scale_prior_sd, "
                        f"--scale-prior-sd), not {scale_prior_sd!r}")
    group = frame.county.to_numpy()
    J = int(group.max())
    if set(group) != set(range(1, J + 1)):
        raise DataError(f"groups must be numbered 1..{J} with at least one row each")
    return {"N": len(frame), "y": frame.log_radon.tolist(), "J": J,
            "group": [int(g) for g in group], "scale_prior_sd": float(scale_prior_sd),
            "alpha_prior_sd": float(alpha_prior_sd),
            "prior_only": int(prior_only), "pointwise": int(pointwise),
            "centred": int(centred)}


def group_names(frame: pd.DataFrame) -> np.ndarray:
    """The name of each group 1..J (column county_name)."""
    return frame.groupby("county").county_name.first().to_numpy()


def fit(frame: pd.DataFrame, opts: RunOptions, **kw) -> Fit:
    """Sample icc_oneway.stan; ``kw`` goes to :func:`stan_data`."""
    pointwise = kw.get("pointwise", True)
    return sample(PROGRAM, stan_data(frame, **kw), opts, main=PARAMS,
                  observed={"log_radon": frame.log_radon.to_numpy()} if pointwise else None,
                  coords={"county": group_names(frame), "house": np.arange(len(frame))},
                  dims={"beta": ["county"], "eta": ["county"], "log_radon": ["house"]})


# --- classical estimates ------------------------------------------------------

def anova(frame: pd.DataFrame, level: float = 0.95) -> dict[str, float]:
    """One-way ANOVA (method-of-moments) estimates for unbalanced groups.

    sigma^2 = MSW, sigma_beta^2 = (MSB - MSW) / n0 with
    n0 = (N - sum n_j^2 / N) / (J - 1); rho = sigma_beta^2 / (sigma_beta^2 + MSW),
    negative values truncated at 0.  Interval from F = MSB / MSW with F(J-1, N-J)
    quantiles, rho = (F/F_q - 1) / (F/F_q + n0 - 1): exact for balanced groups,
    an approximation here (Searle, Casella & McCulloch 1992, sec. 3.6).
    """
    y, g = frame.log_radon.to_numpy(), frame.county.to_numpy()
    groups = pd.Series(y).groupby(g)
    n_j, mean_j = groups.size().to_numpy(), groups.mean().to_numpy()
    N, J = len(y), len(n_j)
    msb = np.sum(n_j * (mean_j - y.mean()) ** 2) / (J - 1)
    msw = np.sum((y - groups.transform("mean").to_numpy()) ** 2) / (N - J)
    n0 = (N - np.sum(n_j ** 2) / N) / (J - 1)
    sb2 = max((msb - msw) / n0, 0.0)
    F = msb / msw
    lo_q, hi_q = stats.f.ppf([(1 + level) / 2, (1 - level) / 2], J - 1, N - J)
    bound = lambda fq: max((F / fq - 1) / (F / fq + n0 - 1), 0.0)  # noqa: E731
    return {"sigma_beta": float(np.sqrt(sb2)),
            "sigma": float(np.sqrt(msw)), "rho": float(sb2 / (sb2 + msw)),
            "rho_lower": float(bound(lo_q)), "rho_upper": float(bound(hi_q)), "F": float(F),
            "p_value": float(stats.f.sf(F, J - 1, N - J)), "n0": float(n0)}


@reference
def reml(frame: pd.DataFrame) -> dict[str, float]:
    """REML fit of the same model (statsmodels MixedLM, random county intercepts)."""
    import statsmodels.formula.api as smf   # here: slow to import; a rebuild needs none
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = smf.mixedlm("log_radon ~ 1", frame, groups=frame.county).fit(reml=True)
    sb2, s2 = float(r.cov_re.iloc[0, 0]), float(r.scale)
    return {"alpha": float(r.fe_params["Intercept"]), "sigma_beta": float(np.sqrt(sb2)),
            "sigma": float(np.sqrt(s2)), "rho": sb2 / (sb2 + s2)}


def classical(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Both classical fits, computed once for a report: ``{"REML": reml(frame),
    "one-way ANOVA": anova(frame)}`` (REML is an iterative fit; the tables, the
    figures and the answer all reuse this one result)."""
    return {"REML": reml(frame), "one-way ANOVA": anova(frame)}


def estimates_table(f: Fit, cl: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Posterior summary of PARAMS with the classical estimates beside it
    (``cl`` from :func:`classical`)."""
    out = f.table(PARAMS).copy()
    for name, est in cl.items():
        out[name] = pd.Series({k: est[k] for k in PARAMS if k in est})
    return out


# --- the answer -------------------------------------------------------------------

AGREE_SD = 0.5   # a classical rho "agrees" within this many posterior sds of the median


def answer(table: pd.DataFrame, an: dict[str, float], problems: list[str],
           words: dict[str, str] = WORDS) -> str:
    """The answer paragraph, from the estimates table (posterior columns plus REML),
    the ANOVA result and the fit's sampler problems.  With failed diagnostics it
    reports no posterior number and no agreement, only the classical estimates
    (which do not depend on sampling) and what to do.  ``words``: how the outcome,
    units and groups are named (WORDS: the notes')."""
    w = words
    re_rho = table.loc["rho", "REML"]
    classical_rho = (f"REML {re_rho:.3f}, one-way ANOVA {an['rho']:.3f} (approximate "
                     f"95% interval {an['rho_lower']:.3f} to {an['rho_upper']:.3f})")
    if problems:
        listed = " ".join(q[:1].upper() + q[1:].rstrip(".") + "." for q in problems)
        return (
            f"The sampler's diagnostics failed for {PROGRAM}. {listed} Its posterior "
            "for rho is therefore not reliable, and no posterior estimate or "
            "comparison is given here: run longer chains (for example --iter-warmup 2000 "
            "--iter-sampling 2000) and check that the diagnostics pass. The classical "
            "estimates, which do not depend on the sampler, put the intraclass "
            f"correlation of {w['y']} within {w['groups']} at {classical_rho}; the "
            f"within-{w['group']} sd sigma is {table.loc['sigma', 'REML']:.2f} and the "
            f"between-{w['group']} sd sigma_beta {table.loc['sigma_beta', 'REML']:.2f} "
            "(REML).")
    rho = table.loc["rho"]
    distance = {"REML": abs(re_rho - rho["50%"]) / rho["sd"],
                "one-way ANOVA": abs(an["rho"] - rho["50%"]) / rho["sd"]}
    far = [k for k, d in distance.items() if d > AGREE_SD]
    if not far:
        comparison = (f"The classical estimates agree with it (each within {AGREE_SD:g} "
                      f"posterior sd of the median): {classical_rho}.")
    else:
        outside = [k for k, v in (("REML", re_rho), ("one-way ANOVA", an["rho"]))
                   if not rho["2.5%"] <= v <= rho["97.5%"]]
        where = (f"{' and '.join(outside)} outside the 95% posterior interval"
                 if outside else "both inside the 95% posterior interval")
        comparison = (f"The classical estimates differ from it: {classical_rho}; "
                      f"{' and '.join(far)} more than {AGREE_SD:g} posterior sd from the "
                      f"median ({where}).")
    return (
        f"Two {w['units']} in the same {w['group']} have {w['y']} levels correlated by "
        f"rho = {rho['50%']:.3f} (posterior median; 95% interval {rho['2.5%']:.3f} to "
        f"{rho['97.5%']:.3f}): {w['group']} explains about {100 * rho['50%']:.0f}% of "
        f"the variance. {comparison} The between-{w['group']} sd sigma_beta is "
        f"{table.loc['sigma_beta', 'mean']:.2f} (REML {table.loc['sigma_beta', 'REML']:.2f}) "
        f"against a within-{w['group']} sd sigma of {table.loc['sigma', 'mean']:.2f} "
        f"(REML {table.loc['sigma', 'REML']:.2f}).")


# --- figures --------------------------------------------------------------------

def rho_figure(f: Fit, cl: dict[str, dict[str, float]], words: dict[str, str] = WORDS):
    import matplotlib.pyplot as plt
    rho = draws(f.idata, "rho")
    an, re = cl["one-way ANOVA"], cl["REML"]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    report.kde_line(ax, rho, label="posterior density", fill=0.15, color="C0")
    ax.axvline(np.median(rho), color="C0", ls="-", lw=1, label="posterior median")
    ax.axvline(re["rho"], color="C3", ls="--", label=f"REML ({re['rho']:.3f})")
    ax.axvline(an["rho"], color="C2", ls=":", lw=2,
               label=f"one-way ANOVA ({an['rho']:.3f})")
    ax.axvspan(an["rho_lower"], an["rho_upper"], color="C2", alpha=0.08,
               label="ANOVA approx. 95% interval")
    ax.set(xlabel="rho = sigma_beta² / (sigma² + sigma_beta²)", ylabel="density",
           title=f"Intraclass correlation of {words['y']} within {words['groups']}")
    ax.legend(fontsize=8)
    return fig


def scales_figure(f: Fit, cl: dict[str, dict[str, float]], words: dict[str, str] = WORDS):
    import matplotlib.pyplot as plt
    re, an = cl["REML"], cl["one-way ANOVA"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    g = words["group"]
    for ax, name, label in zip(axes, ("sigma_beta", "sigma"),
                               (f"between-{g} sd, sigma_beta", f"within-{g} sd, sigma")):
        report.kde_line(ax, draws(f.idata, name), color="C0")
        ax.axvline(re[name], color="C3", ls="--", label="REML")
        ax.axvline(an[name], color="C2", ls=":", lw=2, label="one-way ANOVA")
        ax.set(xlabel=f"{label}{words['scale']}", ylabel="posterior density", title=label)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def county_table(f: Fit, frame: pd.DataFrame) -> pd.DataFrame:
    """One row per county: name, houses, raw mean of log radon and the posterior
    mean of beta_j (its shrunken mean)."""
    groups = frame.groupby("county")
    return pd.DataFrame({"county": groups.county_name.first(), "houses": groups.size(),
                         "mean log radon": groups.log_radon.mean(),
                         "posterior mean beta_j": draws(f.idata, "beta").mean(0)})


def county_means_figure(table: pd.DataFrame, alpha: float, words: dict[str, str] = WORDS):
    """Raw county means against posterior county means: shrinkage by sample size."""
    import matplotlib.pyplot as plt
    raw = table["mean log radon"]
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    sc = ax.scatter(raw, table["posterior mean beta_j"],
                    c=np.log10(table.houses), cmap="viridis", s=18)
    lims = [raw.min() - 0.1, raw.max() + 0.1]
    ax.plot(lims, lims, color="0.6", lw=0.8, label="no shrinkage (y = x)")
    ax.axhline(alpha, color="C3", ls="--", lw=0.8, label="alpha (posterior mean)")
    w = words
    fig.colorbar(sc, ax=ax, label=f"log10 {w['units']} in {w['group']}")
    ax.set(xlabel=f"{w['group']} mean of {w['y']}{w['scale']}",
           ylabel=f"posterior mean of beta_j{w['scale']}",
           title=f"{w['group'].capitalize()} means shrink towards alpha, small "
                 f"{w['groups']} most")
    ax.legend(fontsize=8)
    return fig


def shrinkage_note(r: float, failed: bool, words: dict[str, str] = WORDS) -> str:
    """How much of its own deviation a county keeps, at intraclass correlation ``r``
    (the posterior median; REML's when the sampler's diagnostics failed)."""
    source = ("REML (the sampler's diagnostics failed, so the posterior median is not "
              "used)" if failed else "posterior median")
    w = words
    return (f"Each point is a {w['group']}: its raw mean of {w['y']} against the "
            f"posterior mean of beta_j. With a correlation of {r:.2f} ({source}), a "
            f"{w['group']} with n {w['units']} keeps a fraction n rho / (1 + (n - 1) rho) "
            f"of its own deviation from alpha: {r:.2f} for one {w['units'].rstrip('s')}, "
            f"{10 * r / (1 + 9 * r):.2f} for ten.")




# --- the analysis -----------------------------------------------------------------

def analyse(data=None, *, scale_prior_sd: float = SCALE_PRIOR_SD,
            formula: str | None = None, dropna: bool = False, prior_scale: float = 1.0,
            **run) -> Results:
    """Fit the one-way model to ``data`` (None: the Minnesota radon file; a CSV
    path; a DataFrame with the radon columns) and set rho beside REML and the
    one-way ANOVA.  ``scale_prior_sd``: the half-normal scale of sigma and
    sigma_beta.  ``run``: chains, iter_warmup, iter_sampling, seed, quiet, quick
    (see :class:`RunOptions`).

    ``formula``: ``"y ~ 1 + (1 | g)"`` for any CSV or DataFrame (read by
    :func:`data.read_table`; ``dropna`` drops rows with empty cells in y or g),
    with priors scaled to the data (:func:`user_priors`, times ``prior_scale``;
    ``scale_prior_sd`` is then unused); any other formula is one error naming the
    example that fits it."""
    opts = run_options(DEFAULTS, run)
    if formula is not None:
        return analyse_user(data, formula, dropna=dropna, prior_scale=prior_scale,
                            opts=opts)
    frame = load(data)
    programs.compile_all(PROGRAMS, quiet=opts.quiet)   # at once, up to a core each
    f = fit(frame, opts, scale_prior_sd=scale_prior_sd)   # checks the scale first
    cl = classical(frame)                                  # REML once, for everything
    table = estimates_table(f, cl)
    an = cl["one-way ANOVA"]
    if not opts.quiet:
        print(table[["mean", "sd", "2.5%", "50%", "97.5%", "REML", "one-way ANOVA"]]
              .round(3).to_string())
    return Results(
        "icc", TITLE, opts, {FIT: f},
        tables={"estimates": table,
                "anova": pd.DataFrame([an]),
                "counties": county_table(f, frame),
                "efficiency": efficiency_table({FIT: f}, PARAMS)},
        answer=answer(table, an, f.problems), problems=list(f.problems),
        data={"radon": frame},
        extras={"classical": cl, "scale_prior_sd": float(scale_prior_sd),
                "predictor": lambda: predictor(frame)})


# the notes' model as a formula: how --predict reads new houses (by county number;
# a county not in the data is a new county, its mean drawn from the population)
NOTES_FORMULA = "log_radon ~ 1 + (1 | county)"


def predictor(data=None, *, formula: str | None = None, dropna: bool = False,
              **_) -> predict.Predictor:
    """How new rows are read (``--predict``; checked before any sampling)."""
    if formula is not None:
        fd = user_design(data, formula, dropna)
        return predict.Predictor(fd, {FIT: predict.standard_inputs},
                                 shifts={FIT: float(np.mean(fd.y))})
    frame = load(data)
    return predict.Predictor(notes_design(frame), {FIT: predict.standard_inputs})


def notes_design(frame: pd.DataFrame) -> formula.Design:
    return formula.design(frame, NOTES_FORMULA, family="gaussian", check_rank=False,
                          source=frame.attrs.get("source", FRAME))


# --- a user's data and formula -------------------------------------------------------

def user_design(data, formula_text: str, dropna: bool) -> formula.Design:
    """The validated design of y ~ 1 + (1 | g), or one error saying what icc fits and
    which example fits the formula (radon fits any gaussian mixed model)."""
    frame = read_table(DATA if data is None else data)
    fd = formula.checked_structure(
        formula.design(frame, formula_text, family="gaussian",
                       source=frame.attrs["source"], dropna=dropna), example="icc")
    if not fd.intercept:     # y ~ 0 + (1 | g): the group means would have mean 0
        raise formula.FormulaError(
            f"icc fits {formula.EXAMPLES['icc'].what}; the formula {fd.formula!r} does "
            "not fit, as it has no intercept: radon can fit it")
    return fd


def user_priors(fd: formula.Design, prior_scale: float) -> dict[str, float]:
    """rstanarm-style defaults (:func:`formula.default_priors`) as the program takes
    them: alpha ~ normal(mean(y), 2.5 sd(y)) is alpha_prior_sd = 2.5 sd(y) on
    y - mean(y); half-normal(0, sd(y)) on sigma and sigma_beta (scale_prior_sd;
    rstanarm's exponential(1 / sd(y)) has the same scale)."""
    p = formula.default_priors(fd, prior_scale)
    return {"alpha_prior_sd": p["intercept"]["scale"],
            "scale_prior_sd": 1 / p["sigma"]["rate"]}


def analyse_user(data, formula_text: str, *, dropna: bool, prior_scale: float,
                 opts: RunOptions) -> Results:
    """:func:`analyse` for y ~ 1 + (1 | g) on a user's data: the same program on
    y - mean(y) (alpha and beta_j put back on the user's scale), REML, ANOVA."""
    fd = user_design(data, formula_text, dropna)
    (g,) = fd.groups
    frame = pd.DataFrame({"log_radon": fd.y, "county": g.index,
                          "county_name": np.asarray(g.levels, dtype=object)[g.index - 1]})
    frame.attrs["source"] = fd.source
    shift = float(np.mean(fd.y))
    scales = user_priors(fd, prior_scale)
    choice = centring.gaussian(f"1|{g.factor}", fd.y, np.ones((len(fd.y), 1)), g.index)
    programs.compile_all(PROGRAMS, quiet=opts.quiet)
    f = fit(frame.assign(log_radon=fd.y - shift), opts, centred=choice.centred, **scales)
    post = f.idata["posterior"].to_dataset()
    post["alpha"], post["beta"] = post["alpha"] + shift, post["beta"] + shift
    rescale(f, post, shift)
    cl = classical(frame)
    table = estimates_table(f, cl)
    an = cl["one-way ANOVA"]
    words = {"y": fd.response_name, "units": "rows", "group": g.factor,
             "groups": f"{g.factor} groups", "scale": ""}
    rows = {"alpha": "Intercept", "sigma_beta": f"sd(1|{g.factor})"}
    groups = county_table(f, frame).rename(columns={
        "county": g.factor, "houses": "rows",
        "mean log radon": f"mean {fd.response_name}"})
    priors = pd.DataFrame([
        ("Intercept (alpha)", f"normal({shift:.4g}, {scales['alpha_prior_sd']:.4g})",
         "2.5 sd(y)", "alpha_prior_sd"),
        (f"sd(1|{g.factor}) (sigma_beta)",
         f"half-normal(0, {scales['scale_prior_sd']:.4g})", "sd(y)", "scale_prior_sd"),
        ("sigma", f"half-normal(0, {scales['scale_prior_sd']:.4g})", "sd(y)",
         "scale_prior_sd")], columns=["parameter", "prior", "scale used", "set in"])
    priors["set in"] += f" (--prior-scale {prior_scale:g})"
    if not opts.quiet:
        print(table.rename(index=rows)[["mean", "sd", "2.5%", "50%", "97.5%", "REML",
                                        "one-way ANOVA"]].round(3).to_string())
    return Results(
        "icc", f"Intraclass correlation of {fd.response_name} within {g.factor} groups",
        opts, {FIT: f},
        tables={"estimates": table.rename(index=rows), "priors": priors,
                "anova": pd.DataFrame([an]), "groups": groups,
                "centring": centring.table([choice]),
                "efficiency": efficiency_table({FIT: f}, PARAMS)},
        answer=answer(table, an, f.problems, words), problems=list(f.problems),
        data={"data": frame},
        extras={"classical": cl, "user": fd, "words": words, "rows": rows,
                "predictor": predict.Predictor(fd, {FIT: predict.standard_inputs},
                                               shifts={FIT: shift}),
                "estimates": table, "groups": county_table(f, frame),
                "centring": [choice]})


def render_user(r: Results, rep: report.Report) -> None:
    """The report for a user's y ~ 1 + (1 | g): the notes' sections, in the
    formula's names, with a priors table and without the radon-specific text."""
    fd, f, w = r.extras["user"], r.fits[FIT], r.extras["words"]
    cl, table, info = r.extras["classical"], r.extras["estimates"], r.extras["groups"]
    an = cl["one-way ANOVA"]
    rep.section("Data", report.para(
        f"{fd.response_name} in {len(fd.y)} rows of {fd.source}"
        + (f" ({fd.dropped_rows} rows with empty cells dropped, --dropna)"
           if fd.dropped_rows else "")
        + f", grouped by their {len(info)} {w['groups']} (column {w['group']}): median "
        f"{int(info.houses.median())} rows a group, range {info.houses.min()} to "
        f"{info.houses.max()} ({int((info.houses == 1).sum())} groups with one row)."))
    rep.section("Model", report.para(
        f"Formula {fd.formula}: the one-way random-effects model, alpha the Intercept "
        f"and sigma_beta the sd of the 1|{w['group']} intercepts. "
        + centring.text(r.extras["centring"]) + " The program's own description:"),
        report.models(r.fits.values()))
    rep.section("Priors", report.table(r.table("priors"), index=False), report.para(
        "rstanarm's default priors scaled to these data (Gabry & Goodrich, 'Prior "
        "Distributions for rstanarm Models'): the program fits y - mean(y), so alpha's "
        "normal(0, alpha_prior_sd) is centred on mean(y); half-normal sds where "
        "rstanarm has exponential(1 / sd(y)), of the same scale. --prior-scale "
        "multiplies every scale.", "note"))
    rep.section("Estimates", report.table(r.table("estimates"), {
        "r_hat": 3, "ess_bulk": 0, "ess_tail": 0, "mcse_mean": 4, "mean": 3, "sd": 3,
        "2.5%": 3, "50%": 3, "97.5%": 3, "REML": 3, "one-way ANOVA": 3}),
        report.para(
            f"REML: statsmodels MixedLM with random {w['group']} intercepts. One-way "
            f"ANOVA: method of moments with n0 = {an['n0']:.2f}; F = {an['F']:.2f} on "
            f"({len(info) - 1}, {len(fd.y) - len(info)}) df, p = {an['p_value']:.1e}; "
            "its interval for rho is approximate for unequal group sizes.", "note"))
    rep.section("Posterior density of rho", report.figure(rho_figure(f, cl, w), "rho"),
                report.figure(scales_figure(f, cl, w), "sigma_beta and sigma"))
    rho = cl["REML"]["rho"] if r.problems else table.loc["rho", "50%"]
    rep.section("Group means", report.figure(
        county_means_figure(info, table.loc["alpha", "mean"], w), "group means"),
        report.para(shrinkage_note(rho, bool(r.problems), w), "note"))
    rep.section("Trace plots", report.figure(
        report.trace_figure(f.idata, PARAMS, "Trace plots"), "trace"))
    rep.section("Timing", report.table(r.table("efficiency"), 2))


def render(r: Results, rep: report.Report) -> None:
    """The report's sections: data, model, estimates, rho, county means, traces,
    timing; for a user's formula, :func:`render_user`."""
    if "user" in r.extras:
        return render_user(r, rep)
    frame, f = r.data["radon"], r.fits[FIT]
    cl, table = r.extras["classical"], r.table("estimates")
    an, info = cl["one-way ANOVA"], r.table("counties")
    source = frame.attrs.get("source", "")
    bundled = Path(source).is_file() and Path(source).resolve() == DATA.resolve()
    rep.section("Data", report.para(
        f"Log radon (log pCi/L; Gelman & Hill's transform, 0 replaced by 0.1, column "
        f"log_radon as given) in {len(frame)} houses, grouped by their {len(info)} "
        f"counties: median {int(info.houses.median())} houses a county, range "
        f"{info.houses.min()} to {info.houses.max()} "
        f"({int((info.houses == 1).sum())} counties with one house). Floor and uranium "
        "are ignored here (see the radon example). Source: "
        + (f"{DATA.name} (Minnesota houses); see data/README.md." if bundled else
           f"{Path(source).name or source}.")))
    rep.section("Model", report.para(
        f"scale_prior_sd = {r.extras['scale_prior_sd']:g} in this run. The program's "
        "own description:"), report.models(r.fits.values()))
    rep.section("Estimates", report.table(table, {"r_hat": 3, "ess_bulk": 0, "ess_tail": 0,
                                                  "mcse_mean": 4, "mean": 3, "sd": 3,
                                                  "2.5%": 3, "50%": 3, "97.5%": 3,
                                                  "REML": 3, "one-way ANOVA": 3}),
                report.para(
                    "REML: restricted maximum likelihood, statsmodels MixedLM with random "
                    "county intercepts. One-way ANOVA: method of moments, sigma^2 = MSW, "
                    f"sigma_beta^2 = (MSB - MSW) / n0 with n0 = {an['n0']:.2f} for these "
                    f"unequal group sizes; F = {an['F']:.2f} on ({len(info) - 1}, "
                    f"{len(frame) - len(info)}) df, p = {an['p_value']:.1e}. Its interval "
                    "for rho uses F quantiles with n0 in place of a common group size, so "
                    "it is approximate. ANOVA gives no single estimate of alpha with unequal "
                    "group sizes (grand mean or mean of county means), so none is shown.",
                    "note"))
    rep.section("Posterior density of rho", report.figure(rho_figure(f, cl), "rho"),
                report.figure(scales_figure(f, cl), "sigma_beta and sigma"))
    rho = cl["REML"]["rho"] if r.problems else table.loc["rho", "50%"]
    rep.section("County means", report.figure(
        county_means_figure(info, table.loc["alpha", "mean"]), "county means"),
        report.para(shrinkage_note(rho, bool(r.problems)), "note"))
    rep.section("Trace plots", report.figure(
        report.trace_figure(f.idata, PARAMS, "Trace plots"), "trace"))
    rep.section("Timing", report.table(r.table("efficiency"), 2),
                report.para("compile (s) is blank when the executable came from the cache.",
                            "note"))


def main(argv: list[str] | None = None) -> int:
    def extend(p):
        p.add_argument("--data", default=DATA, help="radon CSV (default: %(default)s)")
        p.add_argument("--scale-prior-sd", type=float, default=SCALE_PRIOR_SD,
                       help="half-normal prior scale of sigma and sigma_beta "
                            "(default: %(default)s)")
        cli.add_formula_options(p)
    return cli.main(sys.modules[__name__], __doc__.splitlines()[0], argv, extend,
                    DEFAULTS)


if __name__ == "__main__":
    sys.exit(main())
