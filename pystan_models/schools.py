"""One-way random effects: hyperprior sensitivity on tau (eight schools).

Rubin (1981), BDA3 section 5.5: coaching effects y_j on SAT-V scores in 8
schools with known standard errors sigma_j,

    y_j ~ N(theta_j, sigma_j^2),  theta_j ~ N(mu, tau^2),  p(mu) flat,

fitted under several hyperpriors on the between-school sd tau (sigma_beta in
the notes): uniform on tau, scaled inverse chi-squared on tau^2, half-Cauchy,
and the improper uniform prior on log tau, which is fitted only to show how it
fails.  Every proper case is checked against the exact marginal posterior
p(tau | y) computed by one-dimensional quadrature (BDA3 eq. 5.21).

    from pystan_models import schools
    r = schools.analyse()                          # the BDA3 data, default options
    r = schools.analyse(frame, cauchy_scale=2.5, chains=4, seed=1)
    r = schools.analyse("trials.csv", estimate="effect", se="se", label="study")
    r.fits["half_cauchy"].idata                    # xarray.DataTree (ArviZ 1.x)
    r.table("sensitivity"), r.answer               # tables by name, the answer
    r.write_report("schools.html")
"""
from __future__ import annotations

import contextlib
import logging
import math
import sys
from dataclasses import dataclass

import cmdstanpy
import numpy as np
import pandas as pd
from scipy import stats

from . import cli, programs, report
from . import data as datasets
from .data import FRAME, Column, check_rows, data_file, prepare
from .errors import DataError, PystanModelsError
from .fitting import Fit, RunOptions, bfmi, efficiency_table, run_options, sample, say
from .results import Results

DATA = data_file("eight_schools.csv")
COLUMNS = [Column("school", "text"), Column("effect"), Column("se", positive=True)]
PARAMS = ["mu", "tau", "theta"]

# name -> (code in the Stan programs' `tau_prior`, label as in the notes)
PRIORS = {
    "uniform": (1, "uniform on tau"),
    "inv_chi2": (2, "scaled Inv-chi^2 on tau^2"),
    "half_cauchy": (3, "half-Cauchy on tau"),
    "log_uniform": (4, "uniform on log tau (IMPROPER)"),
}
PROPER = ["uniform", "inv_chi2", "half_cauchy"]
# the fits whose predictive checks the report shows: the three hyperpriors
PPC_FITS = PROPER
# NUTS target acceptance rate for the fits the conclusions rest on: a little
# above the default 0.8 so the long right tail of tau is traversed with small
# enough steps (no divergences in the non-centered program).
ADAPT_DELTA = 0.95
# How the report names things for data other than the eight schools (the notes'
# SAT-V points and schools are the defaults of the functions that take these).
USER_WORDS = {"units": "(in the estimates' units)", "group": "group"}
FIGURE_WORDS = {"units": "estimates' units", "group": "group"}
# the programs this example fits (compiled together when the cache lacks them)
PROGRAMS = ("schools_noncentered", "schools_centered")
DEFAULTS = RunOptions()
TITLE = "Eight schools: how much does the hyperprior on tau matter?"
# The NUTS posterior means must lie within this many Monte Carlo standard errors of
# the exact quadrature (for 30 means, a larger gap happens by chance about once in
# 500 runs): beyond it the answer does not rest on the NUTS fits.
GAP_LIMIT = 4.0


@dataclass(frozen=True)
class Hyper:
    """Settings of the hyperpriors.

    nu, s: tau^2 ~ Inv-chi^2(nu, s^2); the default (2, 1) is Inv-gamma(1, 1),
    one of the priors Gelman (2006) compares on these data.  cauchy_scale: A in
    tau ~ half-Cauchy(0, A).  mu_sd: None for p(mu) flat, else mu ~ N(0, mu_sd^2)
    (5 reproduces posteriordb's eight_schools_noncentered).
    """
    nu: float = 2.0
    s: float = 1.0
    cauchy_scale: float = 5.0
    mu_sd: float | None = None

    def check(self) -> "Hyper":
        for name in ("nu", "s", "cauchy_scale", "mu_sd"):
            v = getattr(self, name)
            if v is None and name == "mu_sd":
                continue
            if not _is_number(v) or not (math.isfinite(v) and v > 0):
                raise PystanModelsError(f"{name.replace('_', '-')} must be a positive "
                                        f"finite number, not {v!r}"
                                        + (" (None: p(mu) flat)" if name == "mu_sd"
                                           else ""))
        return self


# posteriordb (stan-dev/posteriordb), eight_schools-eight_schools_noncentered:
# mu ~ N(0, 5^2), tau ~ half-Cauchy(0, 5); reference posterior means and their
# Monte Carlo standard errors from 10 chains x 10,000 draws (rstan 2.19.2),
# reference_posteriors/summary_statistics/mean/mean/<name>.json.
POSTERIORDB_HYPER = Hyper(cauchy_scale=5.0, mu_sd=5.0)
POSTERIORDB = pd.DataFrame({
    "reference mean": [4.41051833695493, 3.60205952364059, 6.15050229334425,
                       4.9395811407422, 3.90590609001582, 4.79601675138494,
                       3.6144363246799, 4.0511475789675, 6.31716975886893,
                       4.88399694353288],
    "reference MCSE": [0.0330374705950917, 0.0318615135640706, 0.0557375282295219,
                       0.0462293788624847, 0.0542313705632124, 0.0474935816762281,
                       0.0461450610244603, 0.0485195392528031, 0.0498766794075794,
                       0.0542511606560972]},
    index=["mu", "tau"] + [f"theta[{s}]" for s in "ABCDEFGH"])


def _check(frame: pd.DataFrame, source: str) -> None:
    check_rows(source, frame, "school", frame.school.duplicated(),
               "school listed twice (one row per school)")
    if len(frame) < 3:
        raise DataError(f"{source}: {len(frame)} school(s); the one-way random-effects "
                        "model needs at least 3 (with a uniform prior on tau the "
                        "posterior is improper for fewer)")


def load(data=DATA) -> pd.DataFrame:
    """The validated frame: ``data`` is a CSV path (default: BDA3 Table 5.2) or a
    DataFrame with columns school (unique names), effect, se (> 0)."""
    return prepare(data, DATA, COLUMNS, _check)


def columns_frame(data, estimate: str, se: str, label: str | None = None
                  ) -> pd.DataFrame:
    """A user's table (None: the bundled file) as the frame this example fits: the
    ``estimate`` column as effect, ``se`` (its known standard error, > 0) as se and
    ``label`` (default: the row numbers 1..J) as school.  Every error names the
    user's column and row."""
    frame = datasets.read_table(DATA if data is None else data)
    source = frame.attrs["source"]
    named = {"--estimate": estimate, "--se": se, "--label": label}
    missing = [f"{opt} {col!r}" for opt, col in named.items()
               if col is not None and col not in frame.columns]
    if missing:
        raise DataError(f"{source}: no column(s) {', '.join(missing)}; the columns "
                        f"are {', '.join(map(repr, frame.columns))}")
    if estimate == se:
        raise DataError(f"{source}: --estimate and --se name the same column "
                        f"{se!r}; the standard errors need their own column")
    out = pd.DataFrame(index=frame.index)
    for col, name in ((estimate, "effect"), (se, "se")):
        raw = frame[col]
        text = raw if pd.api.types.is_numeric_dtype(raw) else raw.astype(str).str.strip()
        values = pd.to_numeric(text, errors="coerce").astype(float)
        check_rows(source, frame, col, ~np.isfinite(values),
                   "is not a finite number (NaN, blank or text)")
        out[name] = values
    check_rows(source, frame, se, out.se <= 0,
               "must be positive (a standard error)")
    if label is None:
        out.insert(0, "school", [str(i) for i in range(1, len(frame) + 1)])
    else:
        names = frame[label].astype("string").fillna("").str.strip().astype(str)
        check_rows(source, frame, label, names == "", "is empty (a label is needed "
                   "for every row)")
        check_rows(source, frame, label, names.duplicated(),
                   "listed twice (one row per label)")
        out.insert(0, "school", names)
    if len(out) < 3:
        raise DataError(f"{source}: {len(out)} row(s); the one-way random-effects "
                        "model needs at least 3 estimates (with a uniform prior on "
                        "tau the posterior is improper for fewer)")
    out.attrs.update(source=source, columns={"estimate": estimate, "se": se,
                                             "label": label})
    return out


def stan_data(frame: pd.DataFrame, prior: str = "uniform", hyper: Hyper = Hyper(), *,
              prior_only: bool = False, pointwise: bool = True) -> dict:
    """The data of schools_noncentered.stan and schools_centered.stan (the same).

    J schools, y their estimated effects, sigma their known standard errors; the
    prior switches; prior_only (likelihood off: draws from the prior, and y_rep
    from the prior predictive) and pointwise (write log_lik and y_rep).
    prior_only needs a proper prior: mu_sd set and a proper prior on tau.
    """
    if prior not in PRIORS:
        raise PystanModelsError(f"unknown prior {prior!r} (one of {', '.join(PRIORS)})")
    if prior_only and (hyper.mu_sd is None or prior not in ("inv_chi2", "half_cauchy")):
        raise PystanModelsError(
            "prior_only needs a proper prior: a normal prior on mu (mu_sd) and an "
            "Inv-chi^2 or half-Cauchy prior on tau")
    return {"J": len(frame), "y": frame.effect.tolist(), "sigma": frame.se.tolist(),
            "mu_normal": int(hyper.mu_sd is not None),
            "mu_sd": 1.0 if hyper.mu_sd is None else float(hyper.mu_sd),
            "tau_prior": PRIORS[prior][0], "nu": float(hyper.nu), "s": float(hyper.s),
            "tau_scale": float(hyper.cauchy_scale),
            "prior_only": int(prior_only), "pointwise": int(pointwise)}


def prior_label(prior: str, hyper: Hyper) -> str:
    return {"uniform": "uniform on tau",
            "inv_chi2": f"tau^2 ~ Inv-chi^2({hyper.nu:g}, {hyper.s:g}^2)",
            "half_cauchy": f"tau ~ half-Cauchy(0, {hyper.cauchy_scale:g})",
            "log_uniform": "uniform on log tau (improper)"}[prior]


def log_prior_tau(prior: str, tau: np.ndarray, hyper: Hyper) -> np.ndarray:
    """log p(tau) up to a constant, exactly as in the Stan programs."""
    if prior == "uniform":
        return np.zeros_like(tau)
    if prior == "inv_chi2":  # density of tau^2 times |d tau^2 / d tau| = 2 tau
        return (stats.invgamma.logpdf(tau ** 2, hyper.nu / 2, scale=hyper.nu * hyper.s ** 2 / 2)
                + np.log(2 * tau))
    if prior == "half_cauchy":
        return stats.halfcauchy.logpdf(tau, scale=hyper.cauchy_scale)
    return -np.log(tau)


# -- the exact answer, by one-dimensional quadrature ---------------------------

def log_marginal_tau(frame: pd.DataFrame, tau: np.ndarray, hyper: Hyper = Hyper()):
    """log p(y | tau) (mu integrated out) and the conditional mean and variance of mu.

    BDA3 eqs. 5.20-5.21: given tau, mu | tau, y ~ N(mu_hat, V_mu) with
    V_mu = 1 / sum 1/(sigma_j^2 + tau^2), mu_hat = V_mu sum y_j/(sigma_j^2 + tau^2).
    A N(0, mu_sd^2) prior on mu enters as one more "observation" 0 with variance
    mu_sd^2.
    """
    v = frame.se.to_numpy()[None, :] ** 2 + tau[:, None] ** 2
    y = np.broadcast_to(frame.effect.to_numpy(), v.shape)
    if hyper.mu_sd is not None:
        v = np.column_stack([v, np.full(len(tau), hyper.mu_sd ** 2)])
        y = np.column_stack([y, np.zeros(len(tau))])
    v_mu = 1 / (1 / v).sum(axis=1)
    mu_hat = v_mu * (y / v).sum(axis=1)
    logp = (0.5 * np.log(v_mu) - 0.5 * np.log(v).sum(axis=1)
            - 0.5 * ((y - mu_hat[:, None]) ** 2 / v).sum(axis=1))
    return logp, mu_hat, v_mu


def quadrature(frame: pd.DataFrame, prior: str, hyper: Hyper = Hyper(),
               log_tau_range=(-12.0, 8.0), n: int = 20001) -> pd.DataFrame:
    """Exact posterior mean and sd of mu, tau, theta_j; quantiles of tau.

    p(tau | y) is evaluated on a fine grid in log tau (BDA3 eq. 5.21) and the
    conditional normal moments of mu and theta_j given tau (eqs. 5.17, 5.20) are
    averaged over it.  Only for proper posteriors.
    """
    u = np.linspace(*log_tau_range, n)
    tau = np.exp(u)
    logm, mu_hat, v_mu = log_marginal_tau(frame, tau, hyper)
    logp = logm + log_prior_tau(prior, tau, hyper) + u  # density of log tau
    w = np.exp(logp - logp.max())
    w /= np.trapezoid(w, u)

    def moments(mean, var):
        m = np.trapezoid(w * mean, u)
        return m, math.sqrt(np.trapezoid(w * (var + mean ** 2), u) - m ** 2)

    rows = {"mu": moments(mu_hat, v_mu), "tau": moments(tau, 0 * tau)}
    sigma2 = frame.se.to_numpy() ** 2
    for j, school in enumerate(frame.school):
        b = sigma2[j] / (sigma2[j] + tau ** 2)  # shrinkage factor towards mu
        rows[f"theta[{school}]"] = moments((1 - b) * frame.effect[j] + b * mu_hat,
                                           b * tau ** 2 + b ** 2 * v_mu)
    out = pd.DataFrame(rows, index=["mean", "sd"]).T
    cdf = np.concatenate([[0], np.cumsum((w[1:] + w[:-1]) / 2 * np.diff(u))])
    for q in (0.025, 0.5, 0.975):
        out.loc["tau", f"{100 * q:g}%"] = float(np.exp(np.interp(q, cdf, u)))
    return out


# -- fitting --------------------------------------------------------------------

def program_name(centered: bool) -> str:
    return "schools_centered" if centered else "schools_noncentered"


def fit_prior(frame: pd.DataFrame, prior: str, opts: RunOptions, hyper: Hyper = Hyper(),
              centered: bool = False, adapt_delta: float = ADAPT_DELTA) -> Fit:
    coords = {"school": frame.school.to_numpy()}
    dims = {"theta": ["school"], "y": ["school"]}
    return sample(program_name(centered), stan_data(frame, prior, hyper), opts,
                  main=PARAMS, observed={"y": frame.effect}, coords=coords, dims=dims,
                  adapt_delta=adapt_delta)


@contextlib.contextmanager
def expected_failures():
    """Hush cmdstanpy's own warnings for fits that are meant to fail: the report
    shows their diagnostics (the engine still prints them in one line each)."""
    logger = cmdstanpy.utils.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@dataclass
class Fits:
    """Every fit the report shows."""
    main: dict[str, Fit]                          # non-centered, per proper prior
    variants: dict[tuple[str, str, float], Fit]   # (prior, parameterization, delta)
    improper: dict[str, Fit]                      # per parameterization
    posteriordb: Fit | None                       # posteriordb's priors, BDA data only


def fit_all(frame: pd.DataFrame, opts: RunOptions, hyper: Hyper = Hyper(),
            adapt_delta: float = ADAPT_DELTA) -> Fits:
    main = {p: fit_prior(frame, p, opts, hyper, adapt_delta=adapt_delta) for p in PROPER}
    say(opts, "fitting the centered program, default adapt_delta and the improper "
              "prior: demonstrations, some expected to fail")
    variants = {}
    with expected_failures():
        for p in PROPER:
            for delta in sorted({0.8, adapt_delta}):
                for centered in (False, True):
                    key = (p, "centered" if centered else "non-centered", delta)
                    variants[key] = (main[p] if not centered and delta == adapt_delta
                                     else fit_prior(frame, p, opts, hyper, centered, delta))
        improper = {name: fit_prior(frame, "log_uniform", opts, hyper, centered, adapt_delta)
                    for name, centered in [("non-centered", False), ("centered", True)]}
    pdb = (fit_prior(frame, "half_cauchy", opts, POSTERIORDB_HYPER, adapt_delta=adapt_delta)
           if is_bda_data(frame) else None)
    return Fits(main, variants, improper, pdb)


def is_bda_data(frame: pd.DataFrame) -> bool:
    """True only for the bundled BDA3 eight schools data (schools A-H, their effects
    and standard errors, in that order): posteriordb's reference posterior covers
    exactly these, with the school effects named theta[A] ... theta[H].  Renamed,
    reordered, added or changed schools get no posteriordb comparison."""
    bda = load(DATA)
    cols = ["school", "effect", "se"]
    if len(frame) != len(bda):
        return False
    mine = frame[cols].reset_index(drop=True)
    return (mine.school.astype(str).tolist() == bda.school.astype(str).tolist()
            and np.array_equal(mine.effect.to_numpy(float), bda.effect.to_numpy(float))
            and np.array_equal(mine.se.to_numpy(float), bda.se.to_numpy(float)))


def improper_summary(f: Fit) -> dict:
    """How far the draws of log tau ran away, per chain."""
    log_tau = np.log(f.idata.posterior["tau"].values)  # chain x draw
    return {"min": float(log_tau.min()), "median": float(np.median(log_tau)),
            "below_-10": float((log_tau < -10).mean()),
            "chain_medians": np.median(log_tau, axis=1)}


def divergences(f: Fit) -> int:
    return f.divergences()


# -- summaries -----------------------------------------------------------------

def side_by_side(tables: dict[str, pd.DataFrame], labels: dict[str, str]) -> pd.DataFrame:
    """mean (sd) and 95% interval of every parameter, one column pair per prior."""
    out = {}
    for prior, t in tables.items():
        out[(labels[prior], "mean (sd)")] = [f"{m:.1f} ({s:.1f})" for m, s in
                                             zip(t["mean"], t["sd"])]
        out[(labels[prior], "median [95% interval]")] = [
            f"{m:.1f} [{lo:.1f}, {hi:.1f}]" for m, lo, hi in
            zip(t["50%"], t["2.5%"], t["97.5%"])]
    first = next(iter(tables.values()))
    return pd.DataFrame(out, index=first.index)


def sensitivity_sentence(tables: dict[str, pd.DataFrame], labels: dict[str, str],
                         units: str = "SAT points", group: str = "school") -> str:
    med = {k: t.loc["tau", "50%"] for k, t in tables.items()}
    hi = {k: t.loc["tau", "97.5%"] for k, t in tables.items()}
    mu = {k: t.loc["mu", "mean"] for k, t in tables.items()}
    lo_k, hi_k = min(med, key=med.get), max(med, key=med.get)
    ratio = med[hi_k] / med[lo_k]
    mu_shift = max(mu.values()) - min(mu.values())
    mu_sd = min(t.loc["mu", "sd"] for t in tables.values())
    degree = ("strongly" if ratio >= 2 else "moderately" if ratio >= 1.25 else "hardly")
    mu_word = ("barely moves" if mu_shift < 0.25 * mu_sd else
               "moves less than half its posterior sd" if mu_shift < 0.5 * mu_sd else
               "also moves appreciably")
    return (f"The between-{group} sd tau is {degree} sensitive to its hyperprior: its "
            f"posterior median ranges from {med[lo_k]:.1f} ({labels[lo_k]}) to "
            f"{med[hi_k]:.1f} ({labels[hi_k]}), "
            f"a factor of {ratio:.1f}, and its 97.5% quantile from {min(hi.values()):.1f} "
            f"to {max(hi.values()):.1f} {units}. The posterior mean of mu {mu_word} "
            f"({min(mu.values()):.1f} to {max(mu.values()):.1f}; its posterior sd is at "
            f"least {mu_sd:.1f})." + (
                f" {'A few' if group == 'school' else 'These'} noisy estimates say "
                f"little about the spread between {group}s, "
                f"so the prior on tau decides how much the {group} effects are pooled."
                if degree != "hardly" else ""))


# -- figures -------------------------------------------------------------------

def forest_figure(fits: dict[str, Fit], labels: dict[str, str],
                  units: str = "SAT-V points"):
    fig = report.forest_figure(
        {labels[k]: f for k, f in fits.items()}, PARAMS,
        "Posterior medians (dots), central 50% (thick) and 95% intervals (thin)\n"
        "under each hyperprior (non-centered fits)")
    fig.axes[-1].set_xlabel(units)
    return fig


def tau_density(frame: pd.DataFrame, hyper: Hyper, upper: float = 30.0
                ) -> pd.DataFrame:
    """The exact posterior density of tau on (0, upper] and the prior's (each scaled
    to area 1 there), per proper prior: the curves of the tau figure."""
    grid = np.linspace(upper / 3000, upper, 600)
    out = {"tau": grid}
    logm = log_marginal_tau(frame, grid, hyper)[0]
    for prior in PROPER:
        logp = logm + log_prior_tau(prior, grid, hyper)
        dens = np.exp(logp - logp.max())
        out[f"posterior {prior}"] = dens / np.trapezoid(dens, grid)
        prior_dens = np.exp(log_prior_tau(prior, grid, hyper))
        out[f"prior {prior}"] = prior_dens / np.trapezoid(prior_dens, grid)
    return pd.DataFrame(out)


def tau_figure(fits: dict[str, Fit], labels, density: pd.DataFrame,
               units: str = "SAT-V points", group: str = "school"):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 4.5))
    grid = density["tau"]
    upper = float(grid.max())
    handles = []
    for (prior, f), colour in zip(fits.items(), ["C0", "C1", "C2"]):
        draws = f.idata.posterior["tau"].values.ravel()
        ax.hist(draws[draws < upper], bins=90, range=(0, upper), density=True,
                alpha=0.25,
                color=colour)
        handles += ax.plot(grid, density[f"posterior {prior}"], color=colour, lw=1.5,
                           label=labels[prior])
        if prior != "uniform":
            ax.plot(grid, density[f"prior {prior}"], color=colour,
                    ls=(0, (2, 2)), lw=2.5, alpha=0.7, zorder=4)
    handles += [plt.Rectangle((0, 0), 1, 1, color="grey", alpha=0.25,
                              label="histogram: NUTS draws"),
                plt.Line2D([], [], color="grey", lw=1.5,
                           label="line: exact posterior (quadrature)"),
                plt.Line2D([], [], color="grey", ls=(0, (2, 2)), lw=2.5,
                           label=f"dashed: prior (scaled to area 1 on (0, "
                                 f"{upper:g}))")]
    ax.set(xlim=(0, upper), xlabel=f"tau: between-{group} sd ({units})",
           ylabel="density", title="Marginal posterior of tau under each hyperprior")
    ax.legend(handles=handles, fontsize=8)
    return fig


def shrinkage_figure(frame, tables: dict[str, pd.DataFrame], labels,
                     units: str = "SAT-V points", group: str = "school",
                     pad: float = 5.0):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 6))
    lim = (frame.effect.min() - pad, frame.effect.max() + pad)
    ax.plot(lim, lim, color="grey", lw=1, label="no pooling: theta_j = y_j")
    ax.scatter(frame.effect, frame.effect, facecolors="none", edgecolors="k", zorder=3,
               label="raw estimate y_j")
    means = {p: t.loc[[f"theta[{s}]" for s in frame.school], "mean"].to_numpy()
             for p, t in tables.items()}
    for j, (s, y) in enumerate(zip(frame.school, frame.effect)):
        ends = [y] + [m[j] for m in means.values()]
        ax.vlines(y, min(ends), max(ends), color="grey", lw=0.6, ls="--")
        ax.annotate(s, (y, y), textcoords="offset points", xytext=(-12, 2), fontsize=10,
                    weight="bold")
    for (prior, theta), colour, marker in zip(means.items(), ["C0", "C1", "C2"], "osD"):
        ax.scatter(frame.effect, theta, color=colour, marker=marker, zorder=3,
                   label=f"posterior mean of theta_j: {labels[prior]}")
        ax.axhline(tables[prior].loc["mu", "mean"], color=colour, ls=":", lw=1)
    ax.set(xlim=lim, xlabel=f"raw estimate y_j ({units})",
           ylabel=f"estimate of the {group} effect ({units})",
           title="Shrinkage: each raw estimate y_j and its posterior mean theta_j\n"
                 "(dotted: posterior mean of mu, i.e. complete pooling)")
    ax.legend(fontsize=8, loc="upper left")
    return fig


def funnel_figure(centered: Fit, noncentered: Fit, label: str, delta: float,
                  units: str = "SAT-V points", group: str = "school"):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    school = centered.idata.posterior["school"].values[0]
    for ax, (name, f) in zip(axes, [("centered", centered), ("non-centered", noncentered)]):
        theta1 = f.idata.posterior["theta"].values[..., 0].ravel()
        tau = f.idata.posterior["tau"].values.ravel()
        div = f.idata.sample_stats["diverging"].values.ravel()
        ax.scatter(theta1[~div], tau[~div], s=4, alpha=0.3, color="C0",
                   label="draws")
        ax.scatter(theta1[div], tau[div], s=14, color="red",
                   label=f"divergent ({div.sum()})")
        ax.set(yscale="log", xlabel=f"theta_1, {group} {school} ({units})",
               title=f"{name} ({f.program}.stan)")
        ax.legend(loc="lower right", fontsize=8)
    axes[0].set_ylabel(f"tau (log scale, {units})")
    fig.suptitle(f"The funnel: tau against theta_1, prior {label}, "
                 f"adapt_delta {delta:g}", y=1.02)
    return fig


def improper_density(frame: pd.DataFrame, hyper: Hyper = Hyper()) -> pd.DataFrame:
    """p(log tau | y) under p(tau) ∝ 1/tau, unnormalised (maximum 1): it levels off
    as log tau → -∞, the curve of the improper case's figure."""
    u = np.linspace(-30, 6, 800)
    logm = log_marginal_tau(frame, np.exp(u), hyper)[0]
    return pd.DataFrame({"log tau": u, "density": np.exp(logm - logm.max())})


def improper_figure(fit: Fit, density: pd.DataFrame):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    log_tau = np.log(fit.idata.posterior["tau"].values)
    for c, chain in enumerate(log_tau):
        axes[0].plot(chain, lw=0.7, label=f"chain {c + 1}")
    axes[0].set(xlabel="draw (after warmup)", ylabel="log tau",
                title="IMPROPER: draws of log tau by chain")
    axes[0].legend(fontsize=8, ncol=4, loc="lower center")
    axes[1].plot(density["log tau"], density["density"], color="C3")
    axes[1].set(xlabel="log tau (the curve stays flat on to -∞)",
                ylabel="p(log tau | y), unnormalised",
                title="Under p(tau) ∝ 1/tau the density of log tau\n"
                      "levels off, never falls, as log tau → -∞")
    axes[1].set_ylim(0, 1.05)
    return fig


# -- the analysis -----------------------------------------------------------------

def check_options(nu, s, cauchy_scale, mu_sd, adapt_delta) -> Hyper:
    """Every option that does not fit the model is an error before any sampling."""
    if not _is_number(adapt_delta) or not 0 < adapt_delta < 1:
        raise PystanModelsError(f"adapt-delta must be between 0 and 1 (exclusive), "
                                f"not {adapt_delta!r}")
    return Hyper(nu, s, cauchy_scale, mu_sd).check()


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def labelled(fits: Fits) -> tuple[dict[str, Fit], dict]:
    """Every fit once, under a stable label, and where each sits in the analysis.

    Labels: the proper priors' names ("uniform", "inv_chi2", "half_cauchy") for the
    non-centered fits at the run's adapt_delta, which the answer rests on;
    "<prior> <parameterization> <adapt_delta>" for the other demonstrations
    ("uniform centered 0.8"); "log_uniform non-centered" / "log_uniform centered"
    for the improper case; "posteriordb" for the published reference's priors.
    """
    out = dict(fits.main)
    variants = {}
    for (prior, par, delta), f in fits.variants.items():
        label = next((k for k, g in fits.main.items() if g is f), None) or \
            f"{prior} {par} {delta:g}"
        out[label] = f
        variants[(prior, par, delta)] = label
    improper = {par: f"log_uniform {par}" for par in fits.improper}
    out.update({improper[par]: f for par, f in fits.improper.items()})
    if fits.posteriordb is not None:
        out["posteriordb"] = fits.posteriordb
    return out, {"variants": variants, "improper": improper,
                 "main": {p: p for p in fits.main},
                 "posteriordb": "posteriordb" if fits.posteriordb is not None else None}


def unlabelled(r: Results) -> Fits:
    """The :class:`Fits` structure back from a Results (for render)."""
    where = r.extras["where"]
    return Fits({p: r.fits[k] for p, k in where["main"].items()},
                {key: r.fits[k] for key, k in where["variants"].items()},
                {par: r.fits[k] for par, k in where["improper"].items()},
                r.fits[where["posteriordb"]] if where["posteriordb"] else None)


def analyse(data=None, *, estimate: str | None = None, se: str | None = None,
            label: str | None = None, nu: float = Hyper.nu, s: float = Hyper.s,
            cauchy_scale: float = Hyper.cauchy_scale, mu_sd: float | None = Hyper.mu_sd,
            adapt_delta: float = ADAPT_DELTA, **run) -> Results:
    """Fit the one-way random-effects model to ``data`` under each hyperprior on tau,
    check every proper case against exact quadrature, and compare parameterizations.

    ``data``: None (the BDA3 eight schools), a CSV path or a DataFrame with columns
    school, effect, se; or, with ``estimate`` and ``se`` naming a table's columns
    (and ``label`` its row labels, default row numbers), any table.  Hyperprior
    options: tau^2 ~ Inv-chi^2(``nu``, ``s``^2),
    tau ~ half-Cauchy(0, ``cauchy_scale``), mu ~ N(0, ``mu_sd``^2) (None: p(mu)
    flat, as in the notes); ``adapt_delta``: NUTS target acceptance rate of the
    fits the answer rests on.  ``run``: chains, iter_warmup, iter_sampling, seed,
    quiet, quick (see :class:`RunOptions`).

    Fits: "uniform", "inv_chi2", "half_cauchy" (non-centered; the answer rests on
    them), the centered and adapt_delta 0.8 demonstrations, the improper case and,
    for the bundled data only, "posteriordb".  Tables: "posterior", "sensitivity",
    "exact", "exact_check", "parameterization", "efficiency", "improper" and, for
    the bundled data only, "posteriordb".
    """
    hyper = check_options(nu, s, cauchy_scale, mu_sd, adapt_delta)
    opts = run_options(DEFAULTS, run)
    if estimate is None and se is None and label is None:
        frame = load(data)
    elif estimate is None or se is None:
        raise PystanModelsError("--estimate and --se go together (and --label needs "
                                "them): name the columns of the estimates and of "
                                "their standard errors")
    else:
        frame = columns_frame(data, estimate, se, label)
    programs.compile_all(PROGRAMS, quiet=opts.quiet)   # at once, up to a core each
    delta = adapt_delta
    labels = {p: prior_label(p, hyper) for p in PRIORS}
    fits = fit_all(frame, opts, hyper, delta)
    bda = fits.posteriordb is not None
    words = {} if bda else USER_WORDS

    tables = {p: f.table(PARAMS) for p, f in fits.main.items()}
    exact = {p: quadrature(frame, p, hyper) for p in PROPER}
    runaway = improper_summary(fits.improper["non-centered"])
    div = {k: divergences(f) for k, f in fits.variants.items()}
    answer, sentence = answer_text(
        tables, exact, {p: f.problems for p, f in fits.main.items()}, labels, delta,
        {par: sum(div[(p, par, delta)] for p in PROPER)
         for par in ("non-centered", "centered")}, runaway, words)
    if not opts.quiet:
        print_summary(tables)

    named, where = labelled(fits)
    variant_labels = {where["variants"][k]: f"{labels[k[0]]}, {k[1]}, adapt_delta {k[2]:g}"
                      for k in fits.variants}
    out = {
        "posterior": pd.concat(tables, names=["prior", "parameter"]),
        "sensitivity": side_by_side(tables, labels),
        "exact": pd.concat(exact, names=["prior", "parameter"]),
        "exact_check": check_table(tables, exact, labels),
        "parameterization": parameterization_table(fits.variants, labels),
        "efficiency": efficiency_table(
            {variant_labels[where["variants"][k]]: f for k, f in fits.variants.items()},
            PARAMS),
        "improper": improper_table(fits.improper),
    }
    if fits.posteriordb is not None:
        out["posteriordb"] = posteriordb_table(fits.posteriordb)
    problems = [f"{labels[p]} (non-centered): {msg}" for p, f in fits.main.items()
                for msg in f.problems]
    if fits.posteriordb is not None:
        problems += [f"posteriordb check: {msg}" for msg in fits.posteriordb.problems]
    # The conclusions rest on the non-centered fits (and the posteriordb check); the
    # centered, default-adapt_delta and improper fits are demonstrations whose
    # failures are shown in their own sections (the improper ones listed as expected).
    expected = [f"flat prior on log tau, {k} (improper): {msg}"
                for k, f in fits.improper.items() for msg in f.problems]
    title = TITLE if bda else ("One-way random effects with known standard errors: "
                               "how much does the hyperprior on tau matter?")
    return Results(
        "schools", title, opts, named, out, answer, problems, expected,
        data={"schools": frame},
        extras={"where": where, "bundled": fits.posteriordb is not None, "hyper": hyper,
                "adapt_delta": delta, "labels": labels, "sentence": sentence,
                "runaway": runaway,
                "tau_density": tau_density(frame, hyper, tau_upper(frame, bda)),
                "priors": None if bda else priors_table(hyper),
                "improper_density": improper_density(frame, hyper)})


def table_names(frame: pd.DataFrame) -> dict[str, str]:
    """The data table's column headers: the notes' or the user's column names."""
    cols = frame.attrs.get("columns") or {"estimate": "effect", "se": "se",
                                          "label": "school"}
    return {"school": cols["label"] or "row", "effect": f"y_j ({cols['estimate']})",
            "se": f"sigma_j ({cols['se']})"}


def tau_upper(frame: pd.DataFrame, bda: bool) -> float:
    """The upper end of the tau figure: 30 SAT points for the eight schools; for
    other data the spread of the estimates plus the largest standard error (tau
    far beyond it is ruled out by any such data)."""
    if bda:
        return 30.0
    return float(np.ptp(frame.effect.to_numpy()) + frame.se.max())


def priors_table(hyper: Hyper) -> pd.DataFrame:
    """The priors of a user's data run: parameter, prior, scale, where it is set."""
    mu = (("flat (improper; proper posterior)", np.nan) if hyper.mu_sd is None
          else (f"normal(0, {hyper.mu_sd:g})", hyper.mu_sd))
    rows = [("mu", *mu, "--mu-sd (default: flat, as in the notes)"),
            ("tau", "uniform on (0, inf)", np.nan, "hyperprior 1 (fixed)"),
            ("tau^2", f"Inv-chi^2({hyper.nu:g}, {hyper.s:g}^2)", hyper.s,
             "--nu, --s (defaults 2, 1: the notes' values)"),
            ("tau", f"half-Cauchy(0, {hyper.cauchy_scale:g})", hyper.cauchy_scale,
             "--cauchy-scale (default 5: the notes' value)"),
            ("tau", "uniform on log tau (improper)", np.nan,
             "hyperprior 4: shown failing")]
    return pd.DataFrame(rows, columns=["parameter", "prior", "scale", "set by"])


def render(r: Results, rep: report.Report) -> None:
    """The report's sections, figures drawn here."""
    frame, fits = r.data["schools"], unlabelled(r)
    hyper, delta, labels = r.extras["hyper"], r.extras["adapt_delta"], r.extras["labels"]
    tables = {p: f.table(PARAMS) for p, f in fits.main.items()}
    bda = r.extras["bundled"]
    words = {} if bda else USER_WORDS
    fig_words = {} if bda else FIGURE_WORDS
    columns = bool(frame.attrs.get("columns")) and not bda   # a user's own table
    units = "SAT-V points" if bda else "the estimates' units"
    rep.section("Data", report.para(data_text(frame, frame.attrs.get("source", ""), bda)),
                report.table(frame.rename(columns=table_names(frame)),
                             0 if bda else 2, index=False))
    mu_prior = ("p(mu) ∝ 1 (flat, as in the notes)" if hyper.mu_sd is None
                else f"mu ~ N(0, {hyper.mu_sd:g}^2)")
    rep.section("Model and hyperpriors", report.para(
        f"Here {mu_prior}, and the hyperpriors on tau (sigma_beta in the notes) are "
        + "; ".join(f"({i}) {labels[p]}" for i, p in enumerate(PRIORS, 1)) + ". "
        + inv_chi2_note(hyper) + " A data switch "
        "chooses the prior, so one program serves every case; the two programs differ "
        "only in the declaration of theta. The fits use adapt_delta "
        f"{delta:g} (Stan's default is 0.8)." + noncentered_at_default(fits.variants, delta)
        + " The programs' own descriptions:"),
        report.models([fits.main["uniform"], fits.variants[("uniform", "centered", delta)]]))
    if r.extras.get("priors") is not None:
        rep.section("Priors", report.para(
            "The hyperpriors compared, with the notes' default scales unless an option "
            "set them; every scale is in the estimates' units, so choose the options "
            "for your data's scale."), report.table(r.extras["priors"], 2, index=False))
    rep.section("Sensitivity of the posterior to the hyperprior",
                report.para(r.extras["sentence"], "answer"), report.para(
        "Posterior summaries under each proper hyperprior, from the NON-CENTERED program "
        f"(adapt_delta {delta:g}), in {units}."),
        report.table(r.table("sensitivity")),
        report.figure(forest_figure(fits.main, labels, **(
            {"units": fig_words["units"]} if fig_words else {})), "forest plot by prior"),
        report.figure(tau_figure(fits.main, labels, r.extras["tau_density"],
                                 **fig_words),
                      "posterior of tau by prior"))
    rep.section("Shrinkage", report.para(
        f"Each {words.get('group', 'school')}'s raw estimate against its posterior "
        "mean. The smaller a prior lets "
        "tau be, the flatter the points lie, pulled towards the common mean mu "
        "(dotted lines)."),
        report.figure(shrinkage_figure(frame, tables, labels, **fig_words, **(
            {} if bda else {"pad": 0.1 * np.ptp(frame.effect) + 1e-9})),
                      "shrinkage plot"))
    rep.section("Check against exact quadrature" + ("" if columns else
                                                    " and posteriordb"), report.para(
        "Given tau everything is normal, so p(tau | y) (BDA3 eq. 5.21) can be integrated "
        "numerically on a fine grid of log tau, and the posterior means and sds of mu, "
        "tau and theta_j follow exactly. 'gap / MCSE' is |NUTS - exact| in Monte Carlo "
        "standard errors of the NUTS mean."),
        report.table(r.table("exact_check"), {"gap / MCSE": 1}, index=False),
        *([] if columns else posteriordb_section(r.tables.get("posteriordb"))))
    rep.section("Centered vs non-centered", report.para(
        "The same model and priors sampled with theta_j as the parameter (centered) and "
        "with (theta_j - mu)/tau as the parameter (non-centered), at Stan's default "
        f"adapt_delta 0.8 and at {delta:g}. In the centered program divergent "
        "transitions (red) crowd into the neck of the funnel at small tau, a region the "
        "sampler cannot enter, so small tau is under-sampled. "
        + centered_summary(fits.variants, delta) + " The non-centered program has no "
        "funnel. The sensitivity analysis above uses the non-centered program at "
        f"{delta:g}."),
        report.table(r.table("parameterization"),
                     {"max R-hat": 3, "min bulk ESS": 0, "min E-BFMI": 2}, index=False),
        report.figure(funnel_figure(fits.variants[("uniform", "centered", delta)],
                                    fits.main["uniform"], labels["uniform"], delta,
                                    **fig_words),
                      "funnel"))
    rep.section("The improper case: a flat prior on log tau",
                *improper_section(fits.improper, r.extras["runaway"],
                                  r.extras["improper_density"],
                                  "SAT points" if bda else "in the estimates' units"))
    rep.section("Run times and efficiency",
                report.table(r.table("efficiency"),
                             {"compile (s)": 1, "sampling (s)": 2, "min bulk ESS": 0,
                              "min bulk ESS / s": 0, "step size": 3,
                              "leapfrog steps per draw": 1}),
                report.para("Compile: blank when the executable came from the cache. "
                            "Sampling: all chains, wall clock. Min bulk ESS over mu, tau "
                            "and every theta_j. Hyperprior settings: nu = "
                            f"{hyper.nu:g}, s = {hyper.s:g}, half-Cauchy scale "
                            f"{hyper.cauchy_scale:g}; adapt_delta {delta:g}.", "note"))
    rep.section("Trace plots (non-centered)", *[
        report.figure(report.trace_figure(f.idata, ["mu", "tau"], "Trace plots, "
                                          f"non-centered: {labels[p]}", figsize=(10, 4)),
                      f"trace {p}") for p, f in fits.main.items()])


def inv_chi2_note(hyper: Hyper) -> str:
    """Inv-chi^2(nu, s^2) on tau^2 as the inverse gamma it is."""
    a, b = hyper.nu / 2, hyper.nu * hyper.s ** 2 / 2
    text = (f"Inv-chi^2({hyper.nu:g}, {hyper.s:g}^2) on tau^2 is Inv-gamma({a:g}, {b:g})")
    if (a, b) == (1, 1):
        text += (", one of the priors Gelman (2006, Bayesian Analysis 1, 515-534) "
                 "compares on these data")
    return text + "."


def data_text(frame: pd.DataFrame, source, bda: bool) -> str:
    if bda:
        return ("Rubin (1981), BDA3 Table 5.2: estimated effect y_j of coaching programmes "
                "on SAT-V scores in 8 schools and its standard error sigma_j (treated as "
                f"known), in SAT-V points. Source: {DATA.name}; see data/README.md.")
    where = "a data frame in memory" if source == FRAME else source
    cols = frame.attrs.get("columns")
    if cols:
        label = (f"labelled by column '{cols['label']}'" if cols["label"]
                 else "labelled by row number")
        return (f"{len(frame)} estimates from {where}: y_j from column "
                f"'{cols['estimate']}' and its standard error sigma_j (treated as "
                f"known) from column '{cols['se']}', {label}. theta_j is the true "
                "value behind estimate j, mu their mean and tau their sd.")
    return (f"{len(frame)} schools (groups) from {where}: estimated effect y_j and its "
            "standard error sigma_j (treated as known), in the data's own units.")


def max_gap_in_mcse(tables, exact) -> float:
    """The largest |NUTS mean - exact mean| / MCSE over every prior and parameter;
    NaN when any gap is not a finite number (e.g. a zero or NaN MCSE)."""
    gaps = np.concatenate([check_gaps(tables[p], exact[p]).to_numpy(float) for p in exact])
    return float(gaps.max()) if np.isfinite(gaps).all() else float("nan")


def nuts_failures(problems: dict[str, list[str]], gap: float,
                  labels: dict[str, str]) -> list[str]:
    """Why the non-centered fits cannot carry the answer: their failed sampler
    diagnostics, and posterior means further from the exact quadrature than Monte
    Carlo error explains.  Empty when they can."""
    out = [f"{labels[p]}: {msg}" for p, msgs in problems.items() for msg in msgs]
    if not np.isfinite(gap):
        out.append("the gap between the NUTS and the exact posterior means is not a "
                   "finite number of Monte Carlo standard errors")
    elif gap > GAP_LIMIT:
        out.append(f"posterior means up to {gap:.1f} Monte Carlo standard errors from "
                   f"the exact quadrature (more than the {GAP_LIMIT:g} Monte Carlo error "
                   "explains)")
    return out


def improper_sentence(runaway: dict) -> str:
    if runaway["below_-10"] > 0.5:
        return ("A flat prior on log tau gives no posterior at all: the non-centered "
                f"sampler's draws of log tau ran down to {runaway['min']:.0f} "
                f"({100 * runaway['below_-10']:.0f}% of them below -10), as the section on "
                "the improper case shows.")
    return ("A flat prior on log tau gives no posterior at all (infinite mass next to "
            "tau = 0, see the section on the improper case), although in this run the "
            f"non-centered sampler's draws of log tau went down only to "
            f"{runaway['min']:.1f}: a short run need not show the runaway, and no "
            "number from it may be used.")


def answer_text(tables: dict[str, pd.DataFrame], exact: dict[str, pd.DataFrame],
                problems: dict[str, list[str]], labels: dict[str, str], delta: float,
                divergent: dict[str, int], runaway: dict, words: dict | None = None
                ) -> tuple[str, str]:
    """The answer paragraph and the sensitivity sentence of the report, computed from
    the numbers.

    ``tables``: the non-centered NUTS summaries per proper prior; ``exact``: the
    quadrature per prior; ``problems``: the failed diagnostics of those fits;
    ``divergent``: divergent transitions summed over the proper priors, per
    parameterization ("non-centered", "centered") at ``delta``.  When the NUTS fits
    fail their diagnostics or miss the exact answer, the answer says so and states
    the sensitivity only from the exact quadrature (which no sampler can spoil).
    ``words``: units and group word for a user's data (default: the notes').
    """
    words = words or {}
    gap = max_gap_in_mcse(tables, exact)
    failed = nuts_failures(problems, gap, labels)
    counts = (f"{divergent['non-centered']} divergent transitions over the three priors, "
              f"against {divergent['centered']} for the centered program")
    if not failed:
        sentence = sensitivity_sentence(tables, labels, **words)
        text = (f"{sentence} These numbers come from the non-centered program at "
                f"adapt_delta {delta:g}: {counts}; its posterior means agree with exact "
                f"one-dimensional quadrature to within {gap:.1f} Monte Carlo standard "
                "errors.")
    else:
        exact_sentence = sensitivity_sentence(exact, labels, **words)
        sentence = ("By exact one-dimensional quadrature (BDA3 eq. 5.21, which does not "
                    "depend on the sampler), " + exact_sentence[0].lower()
                    + exact_sentence[1:])
        text = (f"The non-centered NUTS fits at adapt_delta {delta:g} failed their checks "
                f"({'; '.join(failed)}), so their posterior summaries are not reliable "
                "and no conclusion is drawn from them: run longer chains (more "
                "--iter-sampling or --chains) or raise --adapt-delta. "
                f"{sentence} (The NUTS fits had {counts}.)")
    return f"{text} {improper_sentence(runaway)}", sentence


def check_gaps(table: pd.DataFrame, exact: pd.DataFrame) -> pd.Series:
    return (table.loc[exact.index, "mean"] - exact["mean"]).abs() / \
        table.loc[exact.index, "mcse_mean"]


def check_table(tables, exact, labels) -> pd.DataFrame:
    rows = []
    for p, t in tables.items():
        gaps = check_gaps(t, exact[p])
        for name in ["mu", "tau", exact[p].index[2]]:
            rows.append({"prior": labels[p], "parameter": name,
                         "NUTS mean": t.loc[name, "mean"],
                         "exact mean": exact[p].loc[name, "mean"],
                         "NUTS sd": t.loc[name, "sd"], "exact sd": exact[p].loc[name, "sd"],
                         "gap / MCSE": gaps[name]})
        rows.append({"prior": labels[p], "parameter": f"largest gap, all {len(gaps)}",
                     "gap / MCSE": gaps.max()})
    return pd.DataFrame(rows)


def parameterization_table(variants: dict, labels) -> pd.DataFrame:
    rows = []
    for (p, par, delta), f in variants.items():
        n = f.stat("diverging").size
        summ = f.table(PARAMS)
        rows.append({"prior": labels[p], "parameterization": par, "adapt_delta": delta,
                     "divergent": f"{divergences(f)} of {n}",
                     "max R-hat": summ["r_hat"].max(), "min bulk ESS": summ["ess_bulk"].min(),
                     "min E-BFMI": float(np.min(bfmi(f.idata)))})
    return pd.DataFrame(rows)


def centered_summary(variants: dict, delta: float) -> str:
    """What raising adapt_delta did for the centered program, in words."""
    still = [p for p in PROPER if divergences(variants[(p, "centered", delta)])]
    failing = [p for p in PROPER if variants[(p, "centered", delta)].problems]
    if delta == 0.8:
        return (f"The centered program diverges under {len(still)} of {len(PROPER)} "
                "priors.")
    if still:
        return (f"At adapt_delta {delta:g} the centered program still diverges under "
                f"{len(still)} of {len(PROPER)} priors and fails some diagnostic "
                f"(divergences, E-BFMI or ESS) under {len(failing)} of {len(PROPER)}: a "
                "smaller step size does not remove the funnel.")
    return (f"At adapt_delta {delta:g} the centered program had no divergent transitions "
            f"in this run and fails some diagnostic (E-BFMI or ESS) under {len(failing)} "
            f"of {len(PROPER)} priors.")


def noncentered_at_default(variants: dict, delta: float) -> str:
    """What Stan's default adapt_delta 0.8 gave the non-centered program, in words."""
    if delta == 0.8:
        return ""
    n = sum(divergences(variants[(p, "non-centered", 0.8)]) for p in PROPER)
    what = (f"the non-centered program had {n} divergent transition(s) over the three "
            "priors" if n else "the non-centered program had no divergent transitions "
            "in this run either")
    return f" At 0.8 {what} (see 'Centered vs non-centered')."


def posteriordb_section(table: pd.DataFrame | None) -> list[str]:
    if table is None:
        return [report.para("No published reference: these are not the bundled BDA3 "
                            "eight schools data (schools A-H with their published "
                            "effects and standard errors, in that order), so "
                            "posteriordb's reference posterior does not apply.", "note")]
    return [report.para(
        "Published reference: posteriordb's eight_schools-eight_schools_noncentered "
        "(mu ~ N(0, 5^2), tau ~ half-Cauchy(0, 5); reference means from 10 rstan chains, "
        "10,000 draws after thinning), fitted here with the same priors. 'gap / MCSE' "
        "is |NUTS - reference| over the combined Monte Carlo standard error."),
        report.table(table, {"gap / MCSE": 1})]


def posteriordb_table(f: Fit) -> pd.DataFrame:
    """NUTS under posteriordb's priors beside its reference means (bundled data only:
    see :func:`is_bda_data`)."""
    t = f.table(PARAMS)
    missing = [name for name in POSTERIORDB.index if name not in t.index]
    if missing:
        raise PystanModelsError(
            f"posteriordb's reference covers the BDA3 schools A-H only; this fit has no "
            f"{', '.join(missing)}")
    t = t.loc[POSTERIORDB.index]
    out = POSTERIORDB.assign(**{"NUTS mean": t["mean"], "NUTS MCSE": t["mcse_mean"]})
    out["gap / MCSE"] = ((out["NUTS mean"] - out["reference mean"]).abs()
                         / np.hypot(out["NUTS MCSE"], out["reference MCSE"]))
    return out


def centered_improper(f: Fit) -> str:
    """What this run of the centered program under the improper prior showed."""
    if f.problems:
        return ("The centered program cannot even get down the funnel: its run fails "
                f"{len(f.problems)} diagnostic(s) (listed above).")
    return ("The centered program's run passed the sampler diagnostics here; that does "
            "not make its draws a posterior (there is none), it shows only that "
            "diagnostics cannot prove a posterior exists.")


def improper_table(improper: dict[str, Fit]) -> pd.DataFrame:
    """How far log tau ran away in each improper fit, and how many diagnostics
    failed."""
    rows = {}
    for par, f in improper.items():
        run = improper_summary(f)
        rows[par] = {"min log tau": run["min"], "median log tau": run["median"],
                     "share below -10": run["below_-10"],
                     "divergent": divergences(f), "failed diagnostics": len(f.problems)}
    return pd.DataFrame(rows).T.infer_objects()


def improper_section(improper: dict[str, Fit], runaway: dict, density: pd.DataFrame,
                     units: str = "SAT points") -> list[str]:
    nc = improper["non-centered"]
    items = "".join(f"<li>{report.esc(k)}: {report.esc(p)}</li>"
                    for k, f in improper.items() for p in f.problems
                    ) or "<li>no sampler diagnostic failed (see the draws below)</li>"
    medians = ", ".join(f"{m:.1f}" for m in runaway["chain_medians"])
    runaway_text = (f"Non-centered fit: log tau reached {runaway['min']:.1f}; "
                    f"{100 * runaway['below_-10']:.0f}% of draws are below -10 "
                    f"(tau < 0.00005 {units}); chain medians of log tau: {medians}.")
    return [
        '<div class="problems"><h3>IMPROPER CASE: expected to fail. These draws are '
        'not a posterior and no number from them may be used.</h3>'
        f"<p>Sampler diagnostics of the two fits with p(tau) ∝ 1/tau:</p><ul>{items}</ul>"
        f"<p>{report.esc(runaway_text)}</p></div>",
        report.para(
            "Why: with mu integrated out, p(y | tau) (BDA3 eq. 5.21) is a continuous "
            "function of the variances sigma_j^2 + tau^2, so as tau → 0 it tends to "
            "p(y | tau = 0) > 0, "
            "the likelihood of complete pooling; the data cannot rule out tau = 0. "
            "Then p(tau | y) ∝ p(y | tau) / tau behaves like c / tau near 0, and "
            "∫_0^ε dtau / tau = ∞: the posterior has infinite mass next to tau = 0 and is "
            "not a distribution. On the log tau scale the sampler works on, the density "
            "levels off at a positive constant as log tau → -∞ (right panel): nothing "
            "pulls the draws back, so they are free to drift hundreds of units down, "
            "stopped only by floating point (below about -745, tau underflows to 0 and "
            "Stan rejects the draw with 'multiplier is 0'). Whatever the non-centered "
            "chains show is a random walk over an arbitrary stretch of log tau, not a "
            "posterior. " + centered_improper(improper["centered"]) + " A uniform prior "
            "on tau itself (or any proper prior) removes the 1/tau factor and gives a "
            "proper posterior for J ≥ 3."),
        report.figure(improper_figure(nc, density), "improper case: log tau runs away"),
    ]


def print_summary(tables: dict[str, pd.DataFrame]) -> None:
    rows = [{"prior": p, "param": n, "mean": t.loc[n, "mean"], "sd": t.loc[n, "sd"],
             "median": t.loc[n, "50%"], "r_hat": t.loc[n, "r_hat"]}
            for p, t in tables.items() for n in ["mu", "tau"]]
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def main(argv: list[str] | None = None) -> int:
    def extend(p):
        p.add_argument("--data", default=None, help=f"eight schools CSV (default: "
                       f"{DATA}); with --estimate and --se, any CSV")
        p.add_argument("--estimate", help="column of the estimates y_j (your data)")
        p.add_argument("--se", help="column of their standard errors sigma_j (> 0)")
        p.add_argument("--label", help="column of row labels (default: row numbers)")
        p.add_argument("--nu", type=float, default=Hyper.nu,
                       help="Inv-chi^2 degrees of freedom for tau^2 (default: %(default)s)")
        p.add_argument("--s", type=float, default=Hyper.s,
                       help="Inv-chi^2 scale for tau^2 (default: %(default)s)")
        p.add_argument("--cauchy-scale", type=float, default=Hyper.cauchy_scale,
                       help="half-Cauchy scale on tau (default: %(default)s)")
        p.add_argument("--mu-sd", type=float, default=Hyper.mu_sd,
                       help="mu ~ N(0, MU_SD^2) (default: p(mu) flat, as in the notes)")
        p.add_argument("--adapt-delta", type=float, default=ADAPT_DELTA,
                       help="NUTS target acceptance rate (default: %(default)s)")
    return cli.main(sys.modules[__name__], __doc__.splitlines()[0], argv, extend,
                    DEFAULTS)


if __name__ == "__main__":
    sys.exit(main())
