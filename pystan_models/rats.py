"""Varying intercepts and slopes, conjugate priors: NUTS vs Gibbs (rats growth).

Gelfand et al. (1990), section 6: 30 young rats weighed at 8, 15, 22, 29 and 36
days.  Each rat has its own growth line, weight = alpha_i + beta_i age, and the
lines come from a bivariate normal population with mean theta_0 and covariance
Sigma; the hyperpriors are conjugate and vague, as in the notes and BUGS
"Birats".  The same posterior is sampled by Stan's NUTS (two programs) and by
the notes' Gibbs sampler compiled with numba, from the same overdispersed starting
points, and the three are compared for agreement and for effective samples per
second::

    from pystan_models import rats
    r = rats.analyse()                     # the notes' data and run (3 x 100 + 400)
    r.fits["Gibbs"].idata                  # xarray.DataTree (ArviZ 1.x)
    r.table("posterior")                   # pandas DataFrames, by name
    r.answer                               # the answer paragraph
    r.write_report("rats.html")

Your own data, one formula (lme4/brms syntax: one numeric predictor, varying by
group in intercept and slope)::

    rats.analyse("growth.csv", formula="weight ~ age + (age | animal)")

    python -m pystan_models.rats --data growth.csv \\
        --formula "weight ~ age + (age | animal)"

The same two programs and the same Gibbs sampler fit it, with conjugate
hyperparameters chosen from the data's scale (:func:`user_hyper`); any number of
measurements per group, at any values of the predictor.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import pandas as pd

from . import cli, gibbs_rats, predict, programs, report
from . import formula as formulas
from .data import FRAME, Column, check_rows, data_file, prepare, read_table
from .errors import DataError
from .fitting import (MCSE_NOTE, Fit, RunOptions, efficiency_table, mcse_comparison,
                      replayable, run_options, sample, say, stacked)
from .predictive import replicate
from .results import Results

DATA = data_file("rats.csv")
COLUMNS = [Column("rat", "int", positive=True), Column("age_days"),
           Column("weight", positive=True)]

# Vague conjugate hyperparameters of BUGS "Birats", which says they are equivalent
# to those of Gelfand et al. (1990):  tau_c ~ Gamma(0.001, 0.001) on the precision
# (so sigma^2 ~ IG(0.001, 0.001)), mu.beta ~ N(0, precision 1e-6 I) and the
# precision matrix ~ Wishart(Omega = diag(200, 0.2), 2), i.e. Sigma ~ Inv-Wishart
# with scale rho R = diag(200, 0.2) and rho = 2 degrees of freedom.
HYPER = gibbs_rats.Hyper(a=0.001, b=0.001, eta=(0.0, 0.0), C=((1e6, 0.0), (0.0, 1e6)),
                         rho=2.0, R=((100.0, 0.0), (0.0, 0.1)))
# BUGS Examples Vol. 2 "Birats" (MultiBUGS docs): 2 chains, 20,000 draws after 1,000.
BUGS = {"birth_weight": (106.6, 2.361), "daily_gain": (6.185, 0.1063),
        "sigma": (6.149, 0.4789)}
# Population parameters: what the ESS-per-second comparison is judged on.
MAIN = gibbs_rats.DERIVED
LABELS = {"birth_weight": "alpha_0: weight at birth (g)",
          "daily_gain": "beta_0: daily gain (g/day)",
          "sigma": "sigma: residual sd (g)",
          "sd_alpha": "sqrt(Sigma_11): between-rat sd of alpha_i (g)",
          "sd_beta": "sqrt(Sigma_22): between-rat sd of beta_i (g/day)",
          "corr_theta": "corr(alpha_i, beta_i) from Sigma"}
# The notes' run: 3 chains of 500 iterations, the first 100 dropped.
# the programs this example fits (compiled together when the cache lacks them)
PROGRAMS = ("rats_conjugate", "rats_marginal")
DEFAULTS = RunOptions(chains=3, iter_warmup=100, iter_sampling=400)
TITLE = "Rats growth: varying intercepts and slopes, NUTS vs Gibbs"
SAMPLERS = ["NUTS", "NUTS marginal", "Gibbs"]   # the fits' labels; NUTS the reference


def _check(frame: pd.DataFrame, source: str) -> None:
    check_rows(source, frame, "age_days", frame.age_days < 0, "is a negative age")
    check_rows(source, frame, "age_days", frame.duplicated(["rat", "age_days"]),
               "repeats an age already given for this rat")
    missing = sorted(set(range(1, frame.rat.max() + 1)) - set(frame.rat))
    if missing:
        listed = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise DataError(f"{source}, column 'rat': rats are numbered 1..{frame.rat.max()} "
                        f"but rat(s) {listed} have no rows (a group with no data)")
    if frame.age_days.nunique() < 2:
        raise DataError(f"{source}, column 'age_days': every weighing is at the same "
                        "age, so no growth line can be fitted")


def load(data=DATA) -> pd.DataFrame:
    """The validated weighings, sorted by rat and age: ``data`` is a CSV path
    (default: Gelfand's rats) or a DataFrame with columns rat, age_days, weight.
    Rats must be numbered 1..J with none missing."""
    frame = prepare(data, DATA, COLUMNS, _check)
    out = frame.sort_values(["rat", "age_days"], kind="stable").reset_index(drop=True)
    out.attrs = dict(frame.attrs)
    return out


def stan_data(frame: pd.DataFrame, hyper: gibbs_rats.Hyper = HYPER,
              pointwise: bool = False, prior_only: bool = False) -> dict:
    """The collection's data contract, long format (one row per weighing): ``X`` the
    age (one column, no intercept), ``group`` the 1-based rat, and the
    hyperparameters.  The report uses neither log_lik nor y_rep, so by default the
    programs do not write them."""
    return {"N": len(frame), "K": 1, "X": [[float(v)] for v in frame.age_days],
            "y": frame.weight.astype(float).tolist(),
            "J": int(frame.rat.max()), "group": [int(v) for v in frame.rat],
            "a": hyper.a, "b": hyper.b, "eta": list(hyper.eta),
            "C": [list(r) for r in hyper.C], "rho": hyper.rho,
            "R": [list(r) for r in hyper.R],
            "prior_only": int(prior_only), "pointwise": int(pointwise)}


def design(frame: pd.DataFrame) -> gibbs_rats.Design:
    return gibbs_rats.Design.of(frame.rat.to_numpy() - 1, frame.age_days, frame.weight,
                                int(frame.rat.max()))


def initial_values(frame: pd.DataFrame, chains: int, seed: int) -> list[dict]:
    """Overdispersed starting points, one per chain, for both samplers.

    Centred on the pooled least-squares line: theta_0 within about 10 standard
    errors of it (far wider than the posterior), Sigma diagonal and sigma^2 with
    variances from e^-3 to e^1 times the pooled scales, theta_i drawn around
    theta_0 from that Sigma.
    """
    rng = np.random.default_rng([seed, 0])
    X = np.column_stack([np.ones(len(frame)), frame.age_days])
    coef, ssr, *_ = np.linalg.lstsq(X, frame.weight.to_numpy(), rcond=None)
    s2 = float(ssr[0]) / (len(frame) - 2) if len(ssr) else float(frame.weight.var())
    se = np.sqrt(s2 * np.diag(np.linalg.inv(X.T @ X)))
    spread = np.array([s2, s2 / frame.age_days.var()])
    J = int(frame.rat.max())
    inits = []
    for _ in range(chains):
        theta_0 = coef + 10 * se * rng.standard_normal(2)
        Sigma = np.diag(spread * np.exp(rng.uniform(-3, 1, 2)))
        theta = theta_0 + rng.standard_normal((J, 2)) * np.sqrt(np.diag(Sigma))
        inits.append({"theta": theta.tolist(), "theta_0": theta_0.tolist(),
                      "Sigma": Sigma.tolist(),
                      "sigma_sq": float(s2 * np.exp(rng.uniform(-3, 1)))})
    return inits


def centred_inits(inits: list[dict], x_bar: float) -> list[dict]:
    """The same starting points in rats_marginal's coordinates: theta_0c = A^-1 theta_0
    and Sigma_c = A^-1 Sigma A^-T, with A = [1, -x_bar; 0, 1] (its theta_i are not
    parameters, so their starting values are dropped)."""
    A_inv = np.array([[1.0, x_bar], [0.0, 1.0]])
    return [{"theta_0c": (A_inv @ np.asarray(i["theta_0"])).tolist(),
             "Sigma_c": (A_inv @ np.asarray(i["Sigma"]) @ A_inv.T).tolist(),
             "sigma_sq": i["sigma_sq"]} for i in inits]


def coords_dims(frame: pd.DataFrame) -> tuple[dict, dict]:
    coords = {"rat": np.arange(1, frame.rat.max() + 1), "coef": ["alpha", "beta"],
              "coef_": ["alpha", "beta"], "weighing": np.arange(len(frame))}
    dims = {"theta": ["rat", "coef"], "theta_0": ["coef"], "Sigma": ["coef", "coef_"],
            "y": ["weighing"]}
    return coords, dims


def fit_nuts(frame: pd.DataFrame, opts: RunOptions, inits: list[dict],
             program: str = "rats_conjugate",
             hyper: gibbs_rats.Hyper = HYPER) -> Fit:
    """``rats_conjugate`` samples everything; ``rats_marginal`` integrates the theta_i
    out, draws them afterwards, and moves in centred coordinates.  Its 6 parameters
    are correlated a posteriori, so NUTS adapts a dense metric for it: cheap at this
    size, and measured at 4 x 1000 x 1000 it gives about 40% more ESS per second of
    chain time for the worst parameter than the diagonal metric."""
    coords, dims = coords_dims(frame)
    marginal = program == "rats_marginal"
    if marginal:
        inits = centred_inits(inits, frame.age_days.mean())
    data = stan_data(frame, hyper)
    f = sample(program, data, opts, main=MAIN, inits=inits, observed={"y": frame.weight},
               coords=coords, dims=dims, metric="dense_e" if marginal else "diag_e")
    # replicates after sampling: the NUTS-against-Gibbs timings stay as sampled
    return replicate(f, data, {"y": frame.weight.to_numpy()}, opts.seed)


@replayable(gibbs_rats.NAME)
def fit_gibbs(frame: pd.DataFrame, opts: RunOptions, inits: list[dict],
              hyper: gibbs_rats.Hyper = HYPER) -> Fit:
    """The notes' Gibbs sampler (numba), as the engine's Fit "rats_gibbs"."""
    say(opts, f"sampling with the Gibbs sampler: {len(inits)} chains x "
              f"({opts.iter_warmup} dropped + {opts.iter_sampling} kept)")
    coords, _ = coords_dims(frame)
    return gibbs_rats.sample(design(frame), hyper, inits, opts, coords=coords, main=MAIN)


def side_by_side(fits: dict[str, Fit], bugs: bool = True) -> pd.DataFrame:
    """Posterior mean, sd, 95% interval, bulk ESS and MCSE per sampler, by parameter,
    from each fit's (cached) posterior table, beside BUGS's (``bugs``: the notes'
    data only)."""
    parts = [f.table(MAIN)[["mean", "sd", "2.5%", "97.5%", "ess_bulk", "mcse_mean"]]
             .add_prefix(f"{name} ") for name, f in fits.items()]
    out = pd.concat(parts, axis=1)
    if not bugs:
        return out
    out["BUGS mean"] = [BUGS.get(p, (np.nan, np.nan))[0] for p in MAIN]
    out["BUGS sd"] = [BUGS.get(p, (np.nan, np.nan))[1] for p in MAIN]
    return out


def shown(table: pd.DataFrame, samplers: list[str], labels: dict = LABELS
          ) -> pd.DataFrame:
    """The side-by-side table as text: 'mean (sd)' to the sd's precision, and ESS
    (and BUGS's values when the table has them); rows named by ``labels``."""
    rows = {}
    for p, r in table.iterrows():
        d = max(0, 2 - int(np.floor(np.log10(r[f"{samplers[0]} sd"]))))
        row = {f"{k} mean (sd)": f"{r[f'{k} mean']:.{d}f} ({r[f'{k} sd']:.{d}f})"
               for k in samplers}
        if "BUGS mean" in r:
            row["BUGS mean (sd)"] = ("" if np.isnan(r["BUGS mean"]) else
                                     f"{r['BUGS mean']:g} ({r['BUGS sd']:g})")
        row.update({f"{k} bulk ESS": f"{r[f'{k} ess_bulk']:.0f}" for k in samplers})
        rows[labels[p]] = row
    return pd.DataFrame(rows).T


def efficiency(fits: dict[str, Fit], names: tuple[str, str] = ("alpha_0", "beta_0")
               ) -> pd.DataFrame:
    """The engine's efficiency table over the population parameters, with bulk ESS
    per second of the population intercept and slope (named ``names``) beside it
    (from the cached posterior tables)."""
    eff = efficiency_table(fits, MAIN)
    for name, label in zip(("birth_weight", "daily_gain"), names):
        eff[f"bulk ESS / s, {label}"] = [f.table(MAIN).loc[name, "ess_bulk"] / f.seconds
                                         for f in fits.values()]
    return eff


def comparisons(fits: dict[str, Fit]) -> dict[str, pd.DataFrame]:
    """Each other sampler against NUTS: the engine's MCSE comparison."""
    ref = SAMPLERS[0]
    return {k: mcse_comparison(fits[ref], fits[k], MAIN, labels=(ref, k))
            for k in fits if k != ref}


# --- the answer, from the numbers -------------------------------------------------

# |difference| / MCSE beyond this is more than Monte Carlo error explains
AGREE_Z = 3.0
LONGER = "--chains 4 --iter-warmup 1000 --iter-sampling 1000"
DESCRIBED = {"NUTS": "plain NUTS", "NUTS marginal": "NUTS on the program with the "
             "rats' lines integrated out", "Gibbs": "the Gibbs sampler"}


def short_run(problems: list[str]) -> bool:
    """Every failed diagnostic is a bulk-ESS shortfall: the draws are usable but
    too few (run longer); anything else (R-hat, divergences, NaN) is a failure."""
    return bool(problems) and all(p.startswith("bulk ESS") for p in problems)


def notes_estimates(t: pd.DataFrame, ref: str) -> list[str]:
    """The answer's estimates for the notes' rats, from ``ref``'s posterior table."""
    bw, dg = t.loc["birth_weight"], t.loc["daily_gain"]
    return [
        f"The average rat weighs about {bw['mean']:.0f} g at birth (posterior mean "
        f"{bw['mean']:.1f} g, 95% interval {bw['2.5%']:.1f} to {bw['97.5%']:.1f}) and "
        f"gains about {dg['mean']:.1f} g per day ({dg['mean']:.2f}, {dg['2.5%']:.2f} "
        f"to {dg['97.5%']:.2f}), by {ref} (BUGS Birats: {BUGS['birth_weight'][0]:g} g "
        f"and {BUGS['daily_gain'][0]:g} g/day).",
        f"Between rats, the sd is {t.loc['sd_alpha', 'mean']:.1f} g in weight at birth "
        f"(95% interval {t.loc['sd_alpha', '2.5%']:.1f} to "
        f"{t.loc['sd_alpha', '97.5%']:.1f}) and {t.loc['sd_beta', 'mean']:.2f} g/day in "
        f"gain, against a residual sd of {t.loc['sigma', 'mean']:.1f} g."]


def answer(fits: dict[str, Fit], eff: pd.DataFrame, chains: int,
           describe=notes_estimates, labels: dict | None = None,
           described: dict = DESCRIBED) -> str:
    """The answer paragraph, computed from the fits (NUTS first: each one's cached
    posterior table and failed diagnostics) and the efficiency table.

    Estimates come from the first sampler whose diagnostics passed; a sampler
    whose only problem is a bulk ESS below 100 per chain is called short (also
    when a quick run only notes the shortfall), and its comparison is given with
    that said; one with any other failure is not compared.  "Agree" is said only
    when every posterior mean is within AGREE_Z Monte Carlo standard errors (the
    engine's MCSE comparison).  ``describe(table, sampler)`` gives the sentences
    stating the estimates (default: the notes' rats); ``labels`` names the
    parameters for the user's data, ``described`` the samplers in words."""
    names = list(fits)
    tables = {k: f.table(MAIN) for k, f in fits.items()}
    problems = {k: f.problems + [n for n in f.notes if n.startswith("bulk ESS")]
                for k, f in fits.items()}
    clean = [k for k in names if not problems.get(k)]
    failed = [k for k in names if problems.get(k) and not short_run(problems[k])]
    out = []
    if not clean:
        listed = "; ".join(f"{k}: {'; '.join(problems[k])}" for k in names)
        why = ("every run is too short for its Monte Carlo error to be known"
               if not failed else "their draws cannot be relied on")
        return (f"No sampler passed its diagnostics ({listed}), so this report states "
                f"no estimates: {why}. Run longer chains (e.g. {LONGER}) and read the "
                f"estimates then.")
    ref = clean[0]
    out += describe(tables[ref], ref)
    labels = labels or {}
    for k in names:
        if k == ref:
            continue
        if k in failed:
            out.append(f"The {k} run failed its diagnostics ({'; '.join(problems[k])}), "
                       f"so it is not compared with {ref}: rerun it with longer chains "
                       f"(e.g. {LONGER}).")
            continue
        z = mcse_comparison(fits[ref], fits[k], MAIN)["difference / combined MCSE"].abs()
        worst = labels.get(z.idxmax(), z.idxmax())
        within = z.max() < AGREE_Z
        if k in clean:
            out.append(
                (f"{k} gives {tables[k].loc['birth_weight', 'mean']:.1f} g and "
                 f"{tables[k].loc['daily_gain', 'mean']:.2f} g/day; " if not labels else
                 f"{k} gives {_num(tables[k].loc['birth_weight', 'mean'])} and "
                 f"{_num(tables[k].loc['daily_gain', 'mean'])}; ") + (
                    f"the two agree: their posterior means differ by at most "
                    f"{z.max():.1f} Monte Carlo standard errors." if within else
                    f"the two do not agree: their posterior means of {worst} differ by "
                    f"{z.max():.1f} Monte Carlo standard errors, more than Monte Carlo "
                    f"error explains."))
        else:
            ess = tables[k].loc[MAIN, "ess_bulk"]
            out.append(
                f"The {k} run is short: its bulk ESS is as low as {ess.min():.0f} "
                f"({labels.get(ess.idxmin(), ess.idxmin())}), below the "
                f"{100 * chains} (100 per chain) the "
                f"diagnostics ask for, so its Monte Carlo standard errors are rough "
                f"and whether it agrees with {ref} is not settled; run longer chains "
                f"(e.g. {LONGER}). As far as this run goes, its posterior means "
                + (f"are within {z.max():.1f} Monte Carlo standard errors of {ref}'s."
                   if within else
                   f"differ from {ref}'s by up to {z.max():.1f} Monte Carlo standard "
                   f"errors ({worst})."))
    base = names[0]
    timed = [k for k in names[1:] if k not in failed]
    if base not in failed and timed:
        speed = eff["min bulk ESS / s"] / eff.loc[base, "min bulk ESS / s"]
        rough = [k for k in [base, *timed] if k not in clean]
        out.append(
            "In effective draws per second of the worst-mixing population parameter, "
            + " and ".join(f"{described.get(k, k)} is {speed[k]:.1f} times"
                           for k in timed)
            + f" as fast as {described.get(base, base)} "
              f"({eff.loc[base, 'min bulk ESS / s']:.0f} per second)"
            + (f"; rough, as the ESS of {' and '.join(rough)} comes from a short run."
               if rough else "."))
    return " ".join(out)


# --- figures ----------------------------------------------------------------------

def growth_figure(frame: pd.DataFrame, f: Fit, terms: "Terms | None" = None):
    """Each rat's weighings and the population line (extrapolated to birth); for a
    user's data (``terms``) each group's data and the line over the data's range."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    for _, g in frame.sort_values(["rat", "age_days"]).groupby("rat"):
        ax.plot(g.age_days, g.weight, color="0.6", lw=0.8, marker=".")
    lo_x = frame.age_days.min() if terms else 0
    age = np.linspace(lo_x, frame.age_days.max(), 50)
    post = stacked(f.idata, ["birth_weight", "daily_gain"])
    lines = post["birth_weight"].values[:, None] + post["daily_gain"].values[:, None] * age
    lo, mid, hi = np.quantile(lines, [0.025, 0.5, 0.975], axis=0)
    ax.fill_between(age, lo, hi, color="C0", alpha=0.3)
    if terms is None:
        ax.plot(age, mid, color="C0", lw=2, label="average rat, alpha_0 + beta_0 age "
                                                   "(median, 95% band)")
        ax.plot([], [], color="0.6", marker=".", label="each rat's weighings")
        ax.set(xlabel="age (days)", ylabel="weight (g)", xlim=(0, None),
               title="Rats' growth and the population line, extrapolated to birth")
    else:
        ax.plot(age, mid, color="C0", lw=2, label="population line (median, 95% band)")
        ax.plot([], [], color="0.6", marker=".", label=f"each {terms.group}'s data")
        ax.set(xlabel=terms.slope, ylabel=terms.response,
               title=f"{terms.response} by {terms.slope}, one line per {terms.group}")
    ax.legend(loc="upper left")
    return fig


def density_figure(fits: dict[str, Fit], names: tuple[str, str] | None = None):
    fig = report.density_figure(
        fits, ["theta_0"], "Kernel densities of the population intercept and slope",
        figsize=(10, 3.8))
    for ax, what in zip(fig.axes, names or ["alpha_0: weight at birth (g)",
                                            "beta_0: daily gain (g/day)"]):
        ax.set_title(what if names else f"theta_0: {what}")
        ax.set_xlabel(what)
    return fig


def trace_figure(name: str, f: Fit, terms: "Terms | None" = None):
    if terms is None:
        return report.trace_figure(f.idata, ["theta_0", "sigma", "corr_theta"],
                                   f"Trace plots: {name}", figsize=(10, 6.5),
                                   compact=False)
    # the user's data: the population quantities, titled by the formula's terms
    names = ["birth_weight", "daily_gain", "sigma", "sd_alpha", "sd_beta",
             "corr_theta"]
    fig = report.trace_figure(f.idata, names, f"Trace plots: {name}",
                              figsize=(10, 11), compact=False)
    labels = terms.labels()
    for ax in fig.axes:
        title = ax.get_title()
        for k in sorted(names, key=len, reverse=True):
            if k in title:
                ax.set_title(title.replace(k, labels[k]))
                break
    return fig


# --- the formula path: a user's data ----------------------------------------------

# Inverse-gamma shape for a user's sigma^2: small, as in the notes (nearly
# 1 / sigma^2); its scale follows the data (see user_hyper).
USER_A = 0.001
# Inverse-Wishart degrees of freedom for a user's Sigma: d + 1 = 3, the smallest
# with a uniform marginal prior on the correlation (as LKJ(1) in rstanarm / brms).
USER_RHO = 3.0


@dataclass(frozen=True)
class Terms:
    """How the user's formula names the model's quantities: the response, the one
    predictor (the common slope), the grouping factor and its two coefficients."""
    formula: str
    response: str
    slope: str
    group: str
    coefs: tuple[str, str]          # ("1|animal", "age|animal")

    def labels(self) -> dict[str, str]:
        """The programs' population quantities by the formula's names."""
        one, slope = self.coefs
        return {"birth_weight": "Intercept", "daily_gain": self.slope, "sigma": "sigma",
                "sd_alpha": f"sd({one})", "sd_beta": f"sd({slope})",
                "corr_theta": f"corr({one}, {slope})"}


def _misfit(d: formulas.Design) -> str | None:
    """Why the rats programs cannot take ``d`` beyond what checked_structure
    checks (one group term with an intercept and one slope): the common part must
    be an intercept and that same numeric predictor."""
    (g,) = d.groups
    slope = g.coef_names[1].rsplit("|", 1)[0]
    if not d.intercept:
        return "it has no common intercept (the population line has one)"
    if d.common_names != [slope]:
        return (f"its common terms ({', '.join(d.common_names) or 'none'}) are not "
                f"exactly its group slope {slope}")
    if "[" in slope:
        return f"its predictor {slope} is a level of a categorical term, not numeric"
    if not np.allclose(g.Z[:, 1], d.X[:, 0]):
        return f"its group slope is not the common term {slope}"
    return None


def user_data(data, formula: str, dropna: bool = False
              ) -> tuple[pd.DataFrame, Terms, formulas.Design]:
    """The user's data (None: the bundled rats.csv; a CSV path or DataFrame) and
    ``formula`` as the frame the notes' functions take (internal columns rat =
    the 1-based group, age_days = the predictor, weight = the response, sorted
    by group and predictor), the formula's names, and the design.  Any number of
    rows per group, at any values of the predictor.  A formula the programs cannot
    fit is one FormulaError naming the example that can (radon)."""
    frame = read_table(DATA if data is None else data)
    source = frame.attrs["source"]
    d = formulas.design(frame, formula, family="gaussian", source=source,
                        dropna=dropna)
    formulas.checked_structure(d, example="rats")
    why = _misfit(d)
    if why:
        raise formulas.FormulaError(
            f"rats fits {formulas.EXAMPLES['rats'].what}, the same numeric x as "
            f"common term and group slope; the formula {formula!r} does not fit, as "
            f"{why}: radon can fit it")
    (g,) = d.groups
    out = pd.DataFrame({"rat": g.index, "age_days": d.X[:, 0], "weight": d.y})
    out = out.sort_values(["rat", "age_days"], kind="stable").reset_index(drop=True)
    out.attrs = {"source": source, "dropped": d.dropped_rows, "levels": g.levels}
    terms = Terms(formula, d.response_name, d.common_names[0], g.factor,
                  tuple(g.coef_names))
    return out, terms, d


def user_hyper(frame: pd.DataFrame, prior_scale: float = 1.0) -> gibbs_rats.Hyper:
    """The conjugate hyperparameters for a user's data, from its scale (the notes'
    values are tuned to grams and days).  With x the predictor, y the response,
    s = prior_scale and the pooled least-squares line y ~ b_0 + b_1 x:

    - theta_0 ~ N(eta, C): eta = (b_0, b_1); C is rstanarm's default scale
      written for the centred line, sd 2.5 s sd(y) for the level at mean(x) and
      2.5 s sd(y) / sd(x) for the slope, independent, carried to x = 0 by
      A = [1, -mean(x); 0, 1] (C = A diag(...) A'): wide against the data, which
      determine theta_0 to within its standard errors.
    - Sigma ~ Inv-Wishart(rho R, rho): rho = 3 (d + 1: uniform prior on the
      correlation); R = s^2 diag(var of the per-group least-squares intercepts,
      var of their slopes), over the groups with at least 2 distinct x (at least
      2 such groups; otherwise, or for a zero variance, sd(y)^2 and
      (sd(y) / sd(x))^2).  The per-group fits' spread includes their own noise,
      so R errs on the wide side; E[Sigma^-1] = R^-1.
    - sigma^2 ~ Inv-Gamma(a, b): a = 0.001 (as the notes), b = a s^2 sd(y)^2, so
      the prior is the notes' vague one on the data's scale.
    """
    if not prior_scale > 0:
        raise DataError(f"--prior-scale must be positive, not {prior_scale}")
    s = float(prior_scale)
    x, y = frame.age_days.to_numpy(float), frame.weight.to_numpy(float)
    sy = float(np.std(y, ddof=1)) or 1.0
    sx = float(np.std(x, ddof=1)) or 1.0
    eta = np.linalg.lstsq(np.column_stack([np.ones_like(x), x]), y, rcond=None)[0]
    A = np.array([[1.0, -x.mean()], [0.0, 1.0]])
    C = A @ np.diag([(2.5 * s * sy) ** 2, (2.5 * s * sy / sx) ** 2]) @ A.T
    fits = [np.polyfit(g.age_days, g.weight, 1)[::-1]
            for _, g in frame.groupby("rat") if g.age_days.nunique() >= 2]
    spread = (np.var(fits, axis=0, ddof=1) if len(fits) >= 2
              else np.full(2, np.nan))
    fallback = np.array([sy ** 2, (sy / sx) ** 2])
    R = s ** 2 * np.where(np.isfinite(spread) & (spread > 0), spread, fallback)
    return gibbs_rats.Hyper(a=USER_A, b=USER_A * (s * sy) ** 2, eta=tuple(eta),
                            C=tuple(map(tuple, C)), rho=USER_RHO,
                            R=((R[0], 0.0), (0.0, R[1])))


def priors_table(h: gibbs_rats.Hyper, terms: Terms, prior_scale: float
                 ) -> pd.DataFrame:
    """The Priors table of the formula path: parameter, prior, scale used, where
    it is set."""
    one, slope = terms.coefs
    sd_c = np.sqrt(np.diag(np.asarray(h.C)))
    where = f"rats.user_hyper (--prior-scale {prior_scale:g})"
    return pd.DataFrame({
        "parameter": [f"(Intercept, {terms.slope})", f"Sigma: cov({one}, {slope})",
                      "sigma^2 (residual variance)"],
        "prior": [f"N(eta, C), eta = ({_num(h.eta[0])}, {_num(h.eta[1])}) the "
                  f"least-squares line", f"Inv-Wishart(rho R, rho), rho = {h.rho:g}",
                  f"Inv-Gamma(a, b), a = {h.a:g}"],
        "scale used": [f"sd {_num(sd_c[0])}, {_num(sd_c[1])} (C = {_mat(h.C, 4)}): "
                       f"2.5 sd(y), 2.5 sd(y)/sd(x) for the centred line",
                       f"R = {_mat(h.R, 4)}: spread of the per-{terms.group} "
                       f"least-squares lines",
                       f"b = {_num(h.b)} = a sd(y)^2"],
        "where it is set": [where] * 3})


def _num(v: float) -> str:
    """A number on an unknown scale: 4 significant digits."""
    return f"{v:.4g}"


def user_estimates(terms: Terms):
    """The answer's estimates for a user's data (``describe`` for :func:`answer`)."""
    def describe(t: pd.DataFrame, ref: str) -> list[str]:
        def est(name):
            r = t.loc[name]
            return (f"{_num(r['mean'])} (95% interval {_num(r['2.5%'])} to "
                    f"{_num(r['97.5%'])})")
        one, slope = terms.coefs
        return [
            f"The population line of {terms.response} on {terms.slope} has Intercept "
            f"{est('birth_weight')} and slope {terms.slope} {est('daily_gain')}, by "
            f"{ref}.",
            f"Between {terms.group}s, the sd of the intercepts ({one}) is "
            f"{est('sd_alpha')} and of the slopes ({slope}) {est('sd_beta')}, their "
            f"correlation {est('corr_theta')}, against a residual sd of "
            f"{est('sigma')}."]
    return describe


# --- the analysis and its report ----------------------------------------------------

def analyse(data=None, *, formula: str | None = None, dropna: bool = False,
            prior_scale: float = 1.0, **run) -> Results:
    """Fit the notes' model to ``data`` (None: Gelfand's rats; a CSV path; a
    DataFrame with rat, age_days, weight) with plain NUTS, NUTS on the marginal
    program and the notes' Gibbs sampler, and compare them.  ``run``: chains,
    iter_warmup, iter_sampling, seed, quiet, quick (see :class:`RunOptions`;
    default: the notes' 3 chains x 100 warmup + 400 draws).

    With ``formula`` (e.g. "weight ~ age + (age | animal)"), ``data`` is the user's
    own CSV or DataFrame (None: the bundled rats.csv), read by the formula
    (:func:`user_data`; ``dropna`` drops rows with blank cells), and the
    hyperparameters are chosen from its scale (:func:`user_hyper`, its scales
    multiplied by ``prior_scale``); the tables are named after the formula's terms."""
    opts = run_options(DEFAULTS, run)
    terms = None
    if formula is None:
        frame, hyper = load(data), HYPER
    else:
        frame, terms, d = user_data(data, formula, dropna)
        hyper = user_hyper(frame, prior_scale)
    programs.compile_all(PROGRAMS, quiet=opts.quiet)   # at once, up to a core each
    inits = initial_values(frame, opts.chains, opts.seed)
    fits = {"NUTS": fit_nuts(frame, opts, inits, hyper=hyper),
            "NUTS marginal": fit_nuts(frame, opts, inits, program="rats_marginal",
                                      hyper=hyper),
            "Gibbs": fit_gibbs(frame, opts, inits, hyper)}
    if terms is not None:
        r = _user_results(frame, terms, hyper, prior_scale, opts, fits, inits)
        r.extras["predictor"] = _predictor(d)
        return r
    eff = efficiency(fits)
    table = side_by_side(fits)
    comp = comparisons(fits)
    text = answer(fits, eff, opts.chains)
    say(opts, shown(table, list(fits)).iloc[:, :4].to_string())
    return Results(
        "rats", TITLE, opts, fits,
        tables={"posterior": table,
                "comparison": pd.concat(comp, names=["sampler", "parameter"]),
                "efficiency": eff, "hyperparameters": hyper_table(),
                "inits": inits_table(inits)},
        answer=text, problems=[f"{k}: {p}" for k, f in fits.items() for p in f.problems],
        data={"rats": frame},
        extras={"predictor": lambda: _predictor(notes_design(frame))})


# the notes' model as a formula: how --predict reads new weighings (a rat not in
# the data is a new rat, its line drawn from the population)
NOTES_FORMULA = "weight ~ age_days + (age_days | rat)"


def notes_design(frame: pd.DataFrame) -> formulas.Design:
    return formulas.design(frame, NOTES_FORMULA, family="gaussian", check_rank=False,
                           source=frame.attrs.get("source", FRAME))


def predictor(data=None, *, formula: str | None = None, dropna: bool = False,
              **_) -> predict.Predictor:
    """How new rows are read (``--predict``; checked before any sampling)."""
    return _predictor(notes_design(load(data)) if formula is None
                      else user_data(data, formula, dropna)[2])


def _predictor(d: formulas.Design) -> predict.Predictor:
    """Every fit predicts: NUTS on rats_conjugate and on rats_marginal (with the
    lines it draws in generated quantities), and the Gibbs sampler on
    rats_conjugate (its draws carry that program's parameters)."""
    return predict.Predictor(d, dict.fromkeys(SAMPLERS, predict.standard_inputs),
                             via={"Gibbs": "NUTS"})


def _user_results(frame, terms: Terms, hyper, prior_scale, opts, fits, inits
                  ) -> Results:
    """The formula path's Results: the notes' tables, named after the formula's
    terms, with a Priors table instead of the notes' hyperparameters, and no BUGS."""
    labels = terms.labels()
    eff = efficiency(fits, ("Intercept", terms.slope))
    eff["worst parameter"] = eff["worst parameter"].map(lambda p: labels.get(p, p))
    table = side_by_side(fits, bugs=False).rename(index=labels)
    comp = pd.concat(comparisons(fits), names=["sampler", "parameter"]).rename(
        index=labels, level="parameter")
    text = answer(fits, eff, opts.chains, user_estimates(terms), labels,
                  described={**DESCRIBED, "NUTS marginal": "NUTS on the program with "
                             f"the {terms.group}s' lines integrated out"})
    # the engine's diagnostics name the programs' quantities: use the formula's
    names = re.compile(r"\b(" + "|".join(k for k in labels if k != "sigma") + r")\b")
    relabel = lambda t: names.sub(lambda m: labels[m.group(1)], t)   # noqa: E731
    say(opts, shown(table, list(fits), dict(zip(table.index, table.index)))
        .iloc[:, :3].to_string())
    one, slope = terms.coefs
    inits_t = inits_table(inits).rename(columns={
        "alpha_0": "Intercept", "beta_0": terms.slope, "sqrt(Sigma_11)": f"sd({one})",
        "sqrt(Sigma_22)": f"sd({slope})"})
    return Results(
        "rats", TITLE, opts, fits,
        tables={"posterior": table, "comparison": comp, "efficiency": eff,
                "priors": priors_table(hyper, terms, prior_scale), "inits": inits_t},
        answer=relabel(text),
        problems=[relabel(f"{k}: {p}") for k, f in fits.items() for p in f.problems],
        data={"rats": frame}, extras={"terms": terms})


def render(r: Results, rep: report.Report) -> None:
    """The report's sections: data, model, starting values, posterior summaries,
    densities, traces, effective samples per second."""
    if "terms" in r.extras:
        return render_user(r, rep)
    frame, fits, opts = r.data["rats"], r.fits, r.options
    source = frame.attrs.get("source", "")
    bundled = Path(source).is_file() and Path(source).resolve() == DATA.resolve()
    wide = frame.pivot(index="rat", columns="age_days", values="weight")
    wide.columns = [f"day {c:g}" for c in wide.columns]
    ages = ", ".join(f"{a:g}" for a in sorted(frame.age_days.unique()))
    rep.section("Data", report.para(
        ("Gelfand et al. (1990), BUGS Examples Vol. 1 'Rats': " if bundled else
         f"Source: {Path(source).name or source}: ")
        + f"{frame.rat.nunique()} rats, {len(frame)} weighings (grams) at ages {ages} "
          "days" + (f". Source: {DATA.name}; see data/README.md." if bundled else ".")),
        report.figure(growth_figure(frame, fits["NUTS"]), "growth curves"),
        "<details><summary>All weighings (g)</summary>" + report.table(wide, 0)
        + "</details>")
    rep.section("Model and hyperparameters", report.para(
        "NUTS samples rats_conjugate.stan (the notes' model as written, every rat's "
        "line a parameter) and rats_marginal.stan (the same posterior with the lines "
        "integrated out); the Gibbs sampler (pystan_models/gibbs_rats.py) draws the "
        "notes' full conditionals of the same model. The programs' own descriptions:"),
        report.models(fits.values()),
        report.table(r.table("hyperparameters"), 3, index=False),
        report.para(
        "These are the values of BUGS Examples Vol. 2 'Birats', which states that they "
        "are equivalent to Gelfand et al.'s: tau_c ~ Gamma(0.001, 0.001) on the precision "
        "1/sigma^2; N(0, precision 10^-6) on each component of theta_0; and "
        "dwish(Omega, 2) with Omega = diag(200, 0.2) on the precision matrix Sigma^-1. "
        "BUGS parameterises the Wishart by the inverse of the usual scale, so this is "
        "Sigma ~ Inv-Wishart(Omega, 2): rho = 2, the vaguest choice BUGS allows, and "
        "R = diag(100, 0.1), a prior guess at the order of magnitude of Sigma "
        "(intercepts varying by about 10 g between rats, slopes by about 0.3 g/day). "
        "With rho = 2 the inverse Wishart prior has no finite mean: it is very diffuse, "
        "and the 30 rats dominate it.", "note"))
    rep.section("Starting values", report.para(
        f"{opts.chains} chains for each sampler, started from the same overdispersed "
        f"points: theta_0 drawn 10 standard errors either side of the pooled "
        f"least-squares line, Sigma and sigma^2 scaled by factors between e^-3 and e^1, "
        f"each theta_i drawn from N(theta_0, Sigma). {opts.iter_warmup} iterations are "
        f"dropped and {opts.iter_sampling} kept per chain (the notes: 500 iterations, "
        f"the first 100 dropped)."), report.table(r.table("inits"), 2))
    both = shown(r.table("posterior"), list(fits))
    comp = r.table("comparison")
    for k in fits:
        if k in comp.index.get_level_values("sampler"):
            z = comp.loc[k, "difference / combined MCSE"]
            both[f"(NUTS - {k}) / MCSE"] = [f"{v:.2f}" for v in z.loc[MAIN]]
    rep.section("Posterior summaries: NUTS vs Gibbs", report.table(both),
        report.para("Posterior mean (sd). BUGS: MultiBUGS Birats results (2 chains x "
                    "20,000 draws after 1,000). Last columns: the difference between "
                    "NUTS's and the other sampler's posterior means in units of its "
                    "Monte Carlo standard error. " + MCSE_NOTE, "note"))
    rep.section("Posterior densities of the population intercept and slope",
                report.figure(density_figure(fits), "kernel densities of theta_0"),
                report.para("One kernel density per sampler; below the curves, each "
                            "sampler's posterior median (dot) and central 95% interval "
                            "(line).", "note"))
    rep.section("Trace plots", *[report.figure(trace_figure(k, f), f"{k} trace")
                                 for k, f in fits.items()])
    eff = r.table("efficiency")
    rep.section("Effective samples per second", report.para(
        "NUTS: rats_conjugate.stan, every theta_i a parameter (66 in all), as the notes "
        "write the model. NUTS marginal: rats_marginal.stan, the same posterior with "
        "each theta_i integrated out, y_i ~ N(X_i theta_0, X_i Sigma X_i' + sigma^2 I), "
        "so NUTS moves in 6 dimensions (centred age, dense metric), and rats weighed at "
        "the same ages share one set of 2 x 2 algebra in each gradient; theta_i is then "
        "drawn exactly from its full conditional N(D_i d_i, D_i) in generated "
        "quantities. Gibbs: the notes' sampler (pystan_models/gibbs_rats.py, compiled "
        f"with numba {numba.__version__}, seed {opts.seed}), its chains one after "
        "another, each with its own random stream; numba's one-time compile is not "
        "in its time."),
        report.table(eff, {"compile (s)": 1, "sampling (s)": 2, "min bulk ESS": 0,
                           "min bulk ESS / s": 1, "bulk ESS / s, alpha_0": 1,
                           "bulk ESS / s, beta_0": 1, "step size": 3,
                           "leapfrog steps per draw": 1,
                           f"ESS / s vs {eff.index[0]}": 1}),
        report.para("Sampling time includes warmup (and, for Stan, starting the processes "
                    "and reading their output). Stan runs its chains as parallel "
                    "processes; the Gibbs chains run one after another in one process. Worst "
                    "parameter: the population parameter with the smallest bulk ESS. "
                    "Timings depend on the machine and its load; the ratios are the "
                    "point. NUTS adapts its step size and metric during warmup: with "
                    "only 100 warmup iterations (the notes' run) adaptation is cut "
                    "short, the step size stays small and each draw costs many leapfrog "
                    "steps; for a fair speed comparison run with "
                    f"{LONGER}.", "note"))


def render_user(r: Results, rep: report.Report) -> None:
    """The formula path's report: the notes' sections that hold for any data, named
    after the formula's terms (no BUGS values, no notes-only remarks)."""
    frame, fits, opts, terms = r.data["rats"], r.fits, r.options, r.extras["terms"]
    source = frame.attrs.get("source", "")
    sizes = frame.groupby("rat").size()
    dropped = frame.attrs.get("dropped", 0)
    rep.section("Data", report.para(
        f"Source: {Path(source).name or source}; formula {terms.formula}: "
        f"{len(frame)} rows, {len(sizes)} {terms.group}s with {sizes.min()} to "
        f"{sizes.max()} rows each; {terms.slope} from {_num(frame.age_days.min())} to "
        f"{_num(frame.age_days.max())}. "
        + (f"{dropped} row(s) with blank cells in the formula's columns were dropped "
           "(--dropna)." if dropped else "No rows were dropped.")),
        report.figure(growth_figure(frame, fits["NUTS"], terms), "data by group"))
    rep.section("Model and priors", report.para(
        f"{terms.response} = Intercept_j + {terms.slope}_j * {terms.slope} + error, "
        f"error ~ N(0, sigma^2), the {terms.group}s' (Intercept_j, {terms.slope}_j) "
        f"~ N((Intercept, {terms.slope}), Sigma): the notes' model with its conjugate "
        "priors. NUTS samples rats_conjugate.stan and rats_marginal.stan (the "
        "groups' lines integrated out); the Gibbs sampler (pystan_models/"
        "gibbs_rats.py) draws the full conditionals, from per-group sufficient "
        "statistics, so any number of rows per group at any values of "
        f"{terms.slope} is handled by all three. The programs' own descriptions "
        "(their comments speak of the notes' rats):"),
        report.models(fits.values()),
        report.table(r.table("priors"), index=False),
        report.para("The notes' hyperparameters are tuned to grams and days; for your "
                    "data they are chosen from its scale (rats.user_hyper): eta the "
                    "pooled least-squares line, C rstanarm's default scale (2.5 sd(y), "
                    "2.5 sd(y)/sd(x) for the centred line) carried to x = 0, R the "
                    "spread of the per-group least-squares lines, rho = 3 (a uniform "
                    "prior on the correlation), a = 0.001 and b = a sd(y)^2. "
                    "--prior-scale s multiplies every scale (sds by s, variances by "
                    "s^2).", "note"))
    rep.section("Starting values", report.para(
        f"{opts.chains} chains for each sampler, started from the same overdispersed "
        f"points around the pooled least-squares line. {opts.iter_warmup} iterations "
        f"are dropped and {opts.iter_sampling} kept per chain."),
        report.table(r.table("inits"), 4))
    table = r.table("posterior")
    both = shown(table, list(fits), dict(zip(table.index, table.index)))
    comp = r.table("comparison")
    for k in fits:
        if k in comp.index.get_level_values("sampler"):
            z = comp.loc[k, "difference / combined MCSE"]
            both[f"(NUTS - {k}) / MCSE"] = [f"{v:.2f}" for v in z.loc[table.index]]
    rep.section("Posterior summaries: NUTS vs Gibbs", report.table(both),
        report.para("Posterior mean (sd). Last columns: the difference between NUTS's "
                    "and the other sampler's posterior means in units of its Monte "
                    "Carlo standard error. " + MCSE_NOTE, "note"))
    rep.section("Posterior densities of the population intercept and slope",
                report.figure(density_figure(fits, ("Intercept", terms.slope)),
                              "kernel densities of the population line"))
    rep.section("Trace plots", *[report.figure(trace_figure(k, f, terms), f"{k} trace")
                                 for k, f in fits.items()])
    eff = r.table("efficiency")
    rep.section("Effective samples per second",
        report.table(eff, {"compile (s)": 1, "sampling (s)": 2, "min bulk ESS": 0,
                           "min bulk ESS / s": 1, "bulk ESS / s, Intercept": 1,
                           f"bulk ESS / s, {terms.slope}": 1, "step size": 3,
                           "leapfrog steps per draw": 1,
                           f"ESS / s vs {eff.index[0]}": 1}),
        report.para("Sampling time includes warmup. Stan runs its chains as parallel "
                    "processes; the Gibbs chains run in one process. Worst parameter: "
                    "the population quantity with the smallest bulk ESS. Timings "
                    "depend on the machine and its load.", "note"))


def hyper_table(h: gibbs_rats.Hyper = HYPER) -> pd.DataFrame:
    return pd.DataFrame({
        "hyperparameter": ["a", "b", "eta", "C", "rho", "R", "rho R"],
        "value": [f"{h.a:g}", f"{h.b:g}", str(list(h.eta)), _mat(h.C), f"{h.rho:g}",
                  _mat(h.R), _mat(h.rho * np.asarray(h.R))],
        "role": ["sigma^2 ~ IG(a, b): shape", "scale", "prior mean of theta_0",
                 "prior covariance of theta_0 (sd "
                 + ", ".join(f"{v:g}" for v in np.sqrt(np.diag(np.asarray(h.C, float))))
                 + ")", "Inv-Wishart degrees of freedom",
                 "prior guess at Sigma's scale", "Inv-Wishart scale matrix (BUGS Omega)"]})


def _mat(m, digits: int | None = None) -> str:
    m = np.asarray(m, dtype=float)
    fmt = f".{digits}g" if digits else "g"
    if np.count_nonzero(m - np.diag(np.diag(m))):
        return ("[" + ", ".join("[" + ", ".join(f"{v:{fmt}}" for v in row) + "]"
                                for row in m) + "]" if digits else str(m.tolist()))
    return "diag(" + ", ".join(f"{v:{fmt}}" for v in np.diag(m)) + ")"


def inits_table(inits: list[dict]) -> pd.DataFrame:
    return pd.DataFrame({
        "alpha_0": [i["theta_0"][0] for i in inits], "beta_0": [i["theta_0"][1] for i in inits],
        "sqrt(Sigma_11)": [np.sqrt(i["Sigma"][0][0]) for i in inits],
        "sqrt(Sigma_22)": [np.sqrt(i["Sigma"][1][1]) for i in inits],
        "sigma": [np.sqrt(i["sigma_sq"]) for i in inits]},
        index=[f"chain {c + 1}" for c in range(len(inits))])


def main(argv: list[str] | None = None) -> int:
    def extend(p):
        p.add_argument("--data", default=DATA, help="rats CSV, or with --formula your "
                       "own data (default: %(default)s)")
        cli.add_formula_options(p)
    return cli.main(sys.modules[__name__], __doc__.splitlines()[0], argv, extend,
                    DEFAULTS)


if __name__ == "__main__":
    sys.exit(main())
