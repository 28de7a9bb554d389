"""Sampling, conversion to ArviZ, posterior tables and sampler diagnostics."""
from __future__ import annotations

import logging
import warnings
import sys
import time
from dataclasses import dataclass, field

import arviz as az
import cmdstanpy
import numpy as np
import pandas as pd

from . import programs



@dataclass(frozen=True)
class RunOptions:
    chains: int = 4
    iter_warmup: int = 1000
    iter_sampling: int = 1000
    seed: int = 20261125
    quiet: bool = False


@dataclass
class Fit:
    """One program fitted to one data set, with everything a report needs."""
    program: str
    fit: cmdstanpy.CmdStanMCMC
    idata: az.InferenceData
    seconds: float
    stan_path: str
    problems: list[str] = field(default_factory=list)
    main: list[str] = field(default_factory=list)  # the parameters diagnosed


def say(opts: RunOptions, msg: str) -> None:
    if not opts.quiet:
        print(msg, file=sys.stderr, flush=True)


def sample(program: str, data: dict, opts: RunOptions, *, main: list[str],
           observed: dict | None = None, coords: dict | None = None,
           dims: dict | None = None, y_rep: str | None = "y_rep",
           log_lik: str | None = "log_lik", cpp_options: dict | None = None,
           **sample_kw) -> Fit:
    """Compile (cached) and sample ``program``; diagnose the parameters in ``main``.

    ``observed`` maps an observed-data name to its values; when given, ``y_rep`` and
    ``log_lik`` from the program are stored under that same name so posterior
    predictive checks and LOO pair them.
    """
    model = programs.load(program, cpp_options=cpp_options, quiet=opts.quiet)
    sample_kw = {**short_warmup_windows(opts.iter_warmup), **sample_kw}
    say(opts, f"sampling {program}: {opts.chains} chains x "
              f"({opts.iter_warmup} warmup + {opts.iter_sampling} draws)")
    start = time.monotonic()
    # progress bars on a terminal only: in a log (CI) they are a wall of \r lines
    with programs.cmdstanpy_log_level(logging.ERROR if opts.quiet else logging.WARNING):
        fit = model.sample(data=data, chains=opts.chains, iter_warmup=opts.iter_warmup,
                           iter_sampling=opts.iter_sampling, seed=opts.seed,
                           show_progress=not opts.quiet and sys.stderr.isatty(),
                           **sample_kw)
    seconds = time.monotonic() - start
    idata = to_idata(fit, observed=observed, coords=coords, dims=dims,
                     y_rep=y_rep, log_lik=log_lik)
    problems = diagnose(fit, idata, main)
    for p in problems:
        say(opts, f"  WARNING ({program}): {p}")
    return Fit(program, fit, idata, seconds, str(programs.stan_file(program)), problems, main)


def short_warmup_windows(iter_warmup: int) -> dict:
    """Adaptation windows for a warmup shorter than CmdStan's default 75 + 25 + 50.

    CmdStan 2.27 then falls back to 15% / 75% / 10% of the warmup but adapts no
    metric (rats_marginal after 100 warmup iterations keeps the unit metric, 22
    leapfrog steps a draw and a third of the ESS); the same split given explicitly
    is adapted."""
    if not 20 <= iter_warmup < 150:
        return {}
    init, term = int(0.15 * iter_warmup), int(0.1 * iter_warmup)
    return {"adapt_init_phase": init, "adapt_metric_window": iter_warmup - init - term,
            "adapt_step_size": term}


def to_idata(fit: cmdstanpy.CmdStanMCMC, *, observed: dict | None = None,
             coords: dict | None = None, dims: dict | None = None,
             y_rep: str | None = "y_rep", log_lik: str | None = "log_lik"
             ) -> az.InferenceData:
    names = set(fit.metadata.stan_vars)
    kw: dict = {"coords": coords, "dims": dims}
    if observed:
        (obs_name, obs_values), = observed.items()
        kw["observed_data"] = {obs_name: np.asarray(obs_values)}
        if y_rep in names:
            kw["posterior_predictive"] = y_rep
        if log_lik in names:
            kw["log_likelihood"] = {obs_name: log_lik}
        if dims and obs_name in dims:
            for extra in (y_rep, log_lik):
                dims.setdefault(extra, dims[obs_name])
    idata = az.from_cmdstanpy(fit, **kw)
    if observed and "posterior_predictive" in kw:
        # pair y_rep with the observed data under one name, for PPC and LOO-PIT
        idata.posterior_predictive = idata.posterior_predictive.rename({y_rep: obs_name})
    return idata


# the columns of posterior_table besides ArviZ's diagnostics, as az.summary stat_funcs
_STATS = {"mean": np.mean, "sd": lambda x: np.std(x, ddof=1),
          "2.5%": lambda x: np.quantile(x, 0.025), "50%": np.median,
          "97.5%": lambda x: np.quantile(x, 0.975)}


def posterior_table(idata: az.InferenceData, var_names: list[str]) -> pd.DataFrame:
    """mean, sd, 2.5/50/97.5% quantiles, R-hat, bulk and tail ESS per parameter."""
    stats = az.summary(idata, var_names=var_names, kind="diagnostics", stat_funcs=_STATS,
                       extend=True, round_to="none")
    return stats[[*_STATS, "r_hat", "ess_bulk", "ess_tail", "mcse_mean"]]


def diagnose(fit: cmdstanpy.CmdStanMCMC | None, idata: az.InferenceData,
             main: list[str]) -> list[str]:
    """Plain-language sampler problems: divergences, treedepth, E-BFMI (for Stan
    fits), R-hat and bulk ESS (for any draws, e.g. a Gibbs sampler's: fit=None)."""
    problems = []
    if fit is not None:
        mv = fit.method_variables()
        n = mv["divergent__"].size
        div = int(mv["divergent__"].sum())
        if div:
            problems.append(f"{div} of {n} transitions diverged ({100 * div / n:.1f}%); "
                            "the posterior geometry is not being explored reliably")
        max_depth = fit.metadata.cmdstan_config.get("max_depth", 10)
        hit = int((mv["treedepth__"] >= max_depth).sum())
        if hit:
            problems.append(f"{hit} of {n} transitions hit the maximum tree depth "
                            f"({max_depth})")
        bfmi = np.atleast_1d(az.bfmi(idata))
        low = [f"{b:.2f}" for b in bfmi if b < 0.3]
        if low:
            problems.append(f"E-BFMI below 0.3 in {len(low)} chain(s) ({', '.join(low)})")
    chains = idata.posterior.sizes["chain"]
    summ = az.summary(idata, var_names=main, kind="diagnostics")
    rhat = summ["r_hat"].max()
    if not np.isfinite(rhat) or rhat > 1.01:
        worst = summ["r_hat"].idxmax() if np.isfinite(rhat) else "?"
        problems.append(f"R-hat up to {rhat:.3f} ({worst}); chains disagree")
    ess = summ["ess_bulk"].min()
    if not np.isfinite(ess) or ess < 100 * chains:
        problems.append(f"bulk ESS as low as {ess:.0f} ({summ['ess_bulk'].idxmin()}); "
                        f"below {100 * chains}")
    return problems


def efficiency(f, names: list[str] | None = None) -> dict:
    """One row of an efficiency table: compile time (blank when the executable came
    from the cache), sampling wall time, the worst bulk ESS over ``names`` (default:
    the parameters the fit was diagnosed on) and that ESS per second.  ``f`` is a
    Fit or any object with ``program``, ``idata``, ``seconds`` (a Gibbs run)."""
    names = names or f.main
    ess = az.ess(f.idata, var_names=names)
    worst, name = min((float(ess[v].min()), v) for v in names)
    return {"program": f.program,
            "compile (s)": programs.compile_seconds.get(f.program, np.nan),
            "sampling (s)": f.seconds, "min bulk ESS": worst, "worst parameter": name,
            "min bulk ESS / s": worst / f.seconds}


def min_ess_per_second(f, var_names: list[str]) -> float:
    return efficiency(f, var_names)["min bulk ESS / s"]


def loo_compare(fits: dict[str, Fit]) -> tuple[pd.DataFrame, list[str]]:
    """ArviZ's LOO comparison of ``fits``, plus every Pareto-k warning in words."""
    notes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loos = {name: az.loo(f.idata, pointwise=True) for name, f in fits.items()}
        table = az.compare(loos, ic="loo")   # reuses the LOO computed once per fit
        for name, loo in loos.items():
            k = np.asarray(loo.pareto_k).ravel()
            bad = int((k > 0.7).sum())
            if bad:
                notes.append(f"{name}: {bad} of {k.size} observations have Pareto k > 0.7 "
                             f"(max {k.max():.2f}); PSIS-LOO is unreliable for them, so "
                             "treat this comparison with caution (K-fold CV or moment "
                             "matching would be more trustworthy).")
    table = table[["rank", "elpd_loo", "p_loo", "elpd_diff", "se", "dse", "weight"]]
    return table, notes
