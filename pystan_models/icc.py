"""Grouped data and the intraclass correlation (Minnesota radon by county).

Y_i ~ N(beta_j[i], sigma^2), beta_j ~ N(alpha, sigma_beta^2) on log radon in 919
Minnesota houses grouped by county.  The posterior of the intraclass correlation
rho = sigma_beta^2 / (sigma^2 + sigma_beta^2), the correlation of two houses in
the same county, is a generated quantity; the report sets its density beside
the classical one-way ANOVA (method-of-moments) estimate, with its approximate
F-based interval, and the REML estimate (statsmodels MixedLM).
"""
from __future__ import annotations

import argparse
import sys
import warnings

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

from . import cli, report
from .errors import DataError
from .fitting import Fit, RunOptions, efficiency, posterior_table, sample
from .radon import DATA, counties, load

PROGRAM = "icc_oneway"
PARAMS = ["alpha", "sigma_beta", "sigma", "rho"]
SCALE_PRIOR_SD = 1.0   # half-normal scale of sigma and sigma_beta (log radon sd 0.85)


def stan_data(frame: pd.DataFrame, *, scale_prior_sd: float = SCALE_PRIOR_SD,
              prior_only: bool = False) -> dict:
    """Data for icc_oneway.stan: houses grouped by county (indices 1..J, each with
    at least one house: ``radon.load`` has checked that)."""
    if not scale_prior_sd > 0:   # also catches NaN
        raise DataError(f"the prior scale must be positive, not {scale_prior_sd}")
    group = frame.county.to_numpy()
    J = int(group.max())
    if set(group) != set(range(1, J + 1)):
        raise DataError(f"groups must be numbered 1..{J} with at least one row each")
    return {"N": len(frame), "J": J, "group": [int(g) for g in group],
            "y": frame.log_radon.tolist(), "scale_prior_sd": float(scale_prior_sd),
            "prior_only": int(prior_only)}


def fit(frame: pd.DataFrame, opts: RunOptions, **kw) -> Fit:
    info = counties(frame)
    return sample(PROGRAM, stan_data(frame, **kw), opts, main=PARAMS,
                  observed={"log_radon": frame.log_radon.to_numpy()},
                  coords={"county": info.name.to_numpy(), "house": np.arange(len(frame))},
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


def reml(frame: pd.DataFrame) -> dict[str, float]:
    """REML fit of the same model (statsmodels MixedLM, random county intercepts)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = smf.mixedlm("log_radon ~ 1", frame, groups=frame.county).fit(reml=True)
    sb2, s2 = float(r.cov_re.iloc[0, 0]), float(r.scale)
    return {"alpha": float(r.fe_params["Intercept"]), "sigma_beta": float(np.sqrt(sb2)),
            "sigma": float(np.sqrt(s2)), "rho": sb2 / (sb2 + s2)}


def estimates_table(f: Fit, frame: pd.DataFrame) -> pd.DataFrame:
    out = posterior_table(f.idata, PARAMS)
    an = anova(frame)
    out["REML"] = pd.Series(reml(frame))
    out["one-way ANOVA"] = pd.Series({k: an[k] for k in PARAMS if k in an})
    return out


# --- figures --------------------------------------------------------------------

def rho_figure(f: Fit, frame: pd.DataFrame):
    rho = az.extract(f.idata, var_names="rho").values
    an, re = anova(frame), reml(frame)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    az.plot_kde(rho, ax=ax, plot_kwargs={"color": "C0"}, fill_kwargs={"alpha": 0.15},
                label="posterior density")
    ax.axvline(np.median(rho), color="C0", ls="-", lw=1, label="posterior median")
    ax.axvline(re["rho"], color="C3", ls="--", label=f"REML ({re['rho']:.3f})")
    ax.axvline(an["rho"], color="C2", ls=":", lw=2,
               label=f"one-way ANOVA ({an['rho']:.3f})")
    ax.axvspan(an["rho_lower"], an["rho_upper"], color="C2", alpha=0.08,
               label="ANOVA approx. 95% interval")
    ax.set(xlabel="rho = sigma_beta² / (sigma² + sigma_beta²)", ylabel="density",
           title="Intraclass correlation of log radon within counties")
    ax.legend(fontsize=8)
    return fig


def scales_figure(f: Fit, frame: pd.DataFrame):
    post = az.extract(f.idata)
    re, an = reml(frame), anova(frame)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, name, label in zip(axes, ("sigma_beta", "sigma"),
                               ("between-county sd, sigma_beta", "within-county sd, sigma")):
        az.plot_kde(post[name].values, ax=ax, plot_kwargs={"color": "C0"})
        ax.axvline(re[name], color="C3", ls="--", label="REML")
        ax.axvline(an[name], color="C2", ls=":", lw=2, label="one-way ANOVA")
        ax.set(xlabel=f"{label} (log pCi/L)", ylabel="posterior density", title=label)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def county_means_figure(f: Fit, frame: pd.DataFrame):
    """Raw county means against posterior county means: shrinkage by sample size."""
    info = counties(frame)
    beta = az.extract(f.idata, var_names="beta").values
    alpha = az.extract(f.idata, var_names="alpha").values.mean()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    sc = ax.scatter(info.mean_log_radon, beta.mean(1), c=np.log10(info.n), cmap="viridis",
                    s=18)
    lims = [info.mean_log_radon.min() - 0.1, info.mean_log_radon.max() + 0.1]
    ax.plot(lims, lims, color="0.6", lw=0.8, label="no shrinkage (y = x)")
    ax.axhline(alpha, color="C3", ls="--", lw=0.8, label="alpha (posterior mean)")
    fig.colorbar(sc, ax=ax, label="log10 houses in county")
    ax.set(xlabel="county mean of log radon (log pCi/L)",
           ylabel="posterior mean of beta_j (log pCi/L)",
           title="County means shrink towards alpha, small counties most")
    ax.legend(fontsize=8)
    return fig


# --- the analysis -----------------------------------------------------------------

def analyse(args: argparse.Namespace, opts: RunOptions) -> report.Report:
    frame = load(args.data)
    f = fit(frame, opts)
    rep = report.Report("Intraclass correlation of log radon within Minnesota counties")
    rep.problems = list(f.problems)
    table = estimates_table(f, frame)
    an = anova(frame)
    info = counties(frame)
    rho = table.loc["rho"]
    rep.answer = (
        f"Two houses in the same county have log radon levels correlated by rho = "
        f"{rho['50%']:.3f} (posterior median; 95% interval {rho['2.5%']:.3f} to "
        f"{rho['97.5%']:.3f}): county explains about {100 * rho['50%']:.0f}% of the "
        f"variance. The classical estimates agree: REML {rho['REML']:.3f}, one-way ANOVA "
        f"{an['rho']:.3f} (approximate 95% interval {an['rho_lower']:.3f} to "
        f"{an['rho_upper']:.3f}). The between-county sd sigma_beta is "
        f"{table.loc['sigma_beta', 'mean']:.2f} (REML {table.loc['sigma_beta', 'REML']:.2f}) "
        f"against a within-county sd sigma of {table.loc['sigma', 'mean']:.2f} "
        f"(REML {table.loc['sigma', 'REML']:.2f}).")
    if not opts.quiet:
        print(table[["mean", "sd", "2.5%", "50%", "97.5%", "REML", "one-way ANOVA"]]
              .round(3).to_string())

    rep.section("Data", report.para(
        f"Log radon (log pCi/L; Gelman & Hill's transform, 0 replaced by 0.1, column "
        f"log_radon as given) in {len(frame)} Minnesota houses, grouped by their "
        f"{len(info)} counties: median {int(info.n.median())} houses a county, range "
        f"{info.n.min()} to {info.n.max()} ({int((info.n == 1).sum())} counties with one "
        f"house). Floor and uranium are ignored here (see the radon example). Source: "
        f"{args.data}; see data/README.md."))
    rep.section("Model", report.para(
        "Y_i ~ N(beta_j[i], sigma^2), beta_j ~ N(alpha, sigma_beta^2), p(alpha) ∝ 1, "
        f"sigma, sigma_beta ~ half-normal(0, {SCALE_PRIOR_SD:g}); non-centred "
        "(beta_j = alpha + sigma_beta eta_j, eta_j ~ N(0, 1)). rho = sigma_beta^2 / "
        "(sigma^2 + sigma_beta^2) is computed from each draw in generated quantities."))
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
    rep.section("Posterior density of rho", report.figure(rho_figure(f, frame), "rho"),
                report.figure(scales_figure(f, frame), "sigma_beta and sigma"))
    rep.section("County means", report.figure(county_means_figure(f, frame),
                                              "county means"),
                report.para("Each point is a county: its raw mean of log radon against "
                            "the posterior mean of beta_j. With a correlation of "
                            f"{rho['50%']:.2f}, a county with n houses keeps a fraction "
                            "n rho / (1 + (n - 1) rho) of its own deviation from alpha: "
                            f"{rho['50%']:.2f} for one house, "
                            f"{10 * rho['50%'] / (1 + 9 * rho['50%']):.2f} for ten.",
                            "note"))
    rep.section("Trace plots", report.figure(
        report.trace_figure(f.idata, PARAMS, "Trace plots"), "trace"))
    rep.section("Timing", report.table(pd.DataFrame([efficiency(f, PARAMS)]), 1,
                                       index=False),
                report.para("compile (s) is blank when the executable came from the cache.",
                            "note"))
    rep.fits = [f]
    rep.section("Provenance", cli.provenance(rep.fits, opts))
    return rep


def main(argv: list[str] | None = None) -> int:
    def extend(p):
        p.add_argument("--data", default=DATA, help="radon CSV (default: %(default)s)")
    return cli.run("icc", __doc__.splitlines()[0], analyse, argv, extend)


if __name__ == "__main__":
    sys.exit(main())
