"""Sampling, conversion to ArviZ, posterior tables and sampler diagnostics.

One kind of fit for every sampler: :class:`Fit` holds a Stan program's draws
(NUTS through cmdstanpy) or a Gibbs sampler's (:func:`gibbs_fit`), so
diagnostics, efficiency tables, MCSE comparisons and provenance are written
once, here.  Every ArviZ statistic the package uses is called in this module
(its plots in :mod:`report`): the examples ask it for draws, tables and
diagnostics.  Draws are held as ArviZ 1.x's ``xarray.DataTree`` (groups
``posterior``, ``posterior_predictive``, ``log_likelihood``, ``sample_stats``,
``observed_data``), the successor of ArviZ 0.x's InferenceData.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import re
import sys
import time
import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

import cmdstanpy
import numpy as np
import pandas as pd
import xarray as xr

from . import programs
from .errors import PystanModelsError

SEED_MAX = 2**32 - 1   # CmdStan's seed is an unsigned 32-bit integer


@dataclass(frozen=True)
class RunOptions:
    """How every fit of a run samples.  ``quick``: a smoke check with short chains,
    where bulk-ESS shortfalls are expected and reported as notes, not failures."""
    chains: int = 4
    iter_warmup: int = 1000
    iter_sampling: int = 1000
    seed: int = 20261125
    quiet: bool = False
    quick: bool = False

    def checked(self) -> "RunOptions":
        """These options, or one clear error before anything compiles."""
        for name, low in (("chains", 1), ("iter_warmup", 0), ("iter_sampling", 2)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or value < low:
                raise PystanModelsError(
                    f"{name.replace('_', '-')} must be a whole number of at least {low} "
                    f"(got {value!r})" + ("; R-hat and ESS need 2 or more draws"
                                         if name == "iter_sampling" else ""))
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) \
                or not 0 <= self.seed <= SEED_MAX:
            raise PystanModelsError(f"seed must be a whole number from 0 to {SEED_MAX} "
                                    f"(got {self.seed!r})")
        return self


def run_options(defaults: RunOptions, run: dict) -> RunOptions:
    """``defaults`` with the keyword arguments an ``analyse`` call was given
    (chains, iter_warmup, iter_sampling, seed, quiet, quick), checked."""
    known = {f.name for f in fields(RunOptions)}
    unknown = sorted(set(run) - known)
    if unknown:
        raise PystanModelsError(f"unknown option(s) {', '.join(unknown)} "
                                f"(run options are {', '.join(sorted(known))})")
    return replace(defaults, **run).checked()


@dataclass
class Fit:
    """One program (or sampler) fitted to one data set, with everything a report
    needs.  ``fit`` and ``stan_path`` are None for a Gibbs sampler (numba)."""
    program: str                                    # program or sampler name
    fit: cmdstanpy.CmdStanMCMC | None
    idata: xr.DataTree
    seconds: float                                  # sampling wall time
    stan_path: str | None = None
    problems: list[str] = field(default_factory=list)  # failed diagnostics
    main: list[str] = field(default_factory=list)      # the parameters diagnosed
    sampler: str = "NUTS (CmdStan)"
    notes: list[str] = field(default_factory=list)     # diagnostics not counted (quick)
    summaries: dict = field(default_factory=dict, repr=False, compare=False)
    # what CmdStan said beside the draws (kept so a fit reloaded from a saved run,
    # which has no CmdStanMCMC, reports the same): compile time (NaN when the
    # executable came from the cache), max tree depth, each chain's own seconds,
    # the errors CmdStan carried on after
    compile_seconds: float = float("nan")
    max_depth: int | None = None
    chain_seconds: list[float] = field(default_factory=list)
    cmdstan_errors: list[str] = field(default_factory=list)
    call: int | None = field(default=None, compare=False)  # position in a recorded run
    replaces: int | None = field(default=None, compare=False)  # the call it extends
    # how :func:`sample` was called (program, Stan data, observed, coords, dims,
    # y_rep), so the engine can run the same program again with prior_only = 1
    spec: dict | None = field(default=None, repr=False, compare=False)
    # the posterior as sampled, where the draws the fit holds are rescaled or were
    # read from a saved run (whose example rescales them in place): what
    # generated quantities run on when there are no CmdStan files (generated.py)
    as_sampled: xr.Dataset | None = field(default=None, repr=False, compare=False)

    def stat(self, name: str) -> np.ndarray | None:
        """The sampler statistic ``name`` (ArviZ's names: ``diverging``,
        ``tree_depth``, ``step_size``, ``n_steps``, ``energy``), chain x draw, read
        from the draws' ``sample_stats``, so it is there for a fit reloaded from a
        saved run too; None for a sampler without it (the Gibbs samplers)."""
        if "sample_stats" not in self.idata.children:
            return None
        stats = self.idata["sample_stats"]
        return stats[name].values if name in stats.data_vars else None

    def divergences(self) -> int:
        """How many transitions after warmup diverged (0 for a Gibbs sampler)."""
        diverging = self.stat("diverging")
        return 0 if diverging is None else int(diverging.sum())

    def table(self, var_names: list[str] | None = None) -> pd.DataFrame:
        """:func:`posterior_table` of ``var_names`` (default: the diagnosed
        parameters), computed once per fit and reused."""
        key = tuple(var_names or self.main)
        if key not in self.summaries:
            self.summaries[key] = posterior_table(self.idata, list(key))
        return self.summaries[key]


def rescale(f: Fit, posterior: xr.Dataset, shift: float = 0.0) -> None:
    """Give ``f`` the draws ``posterior`` (on the user's scale) and, for a fit to
    y - ``shift``, its replicated and observed outcome back as y."""
    f.idata["posterior"] = posterior
    for group in ("posterior_predictive", "observed_data"):
        if shift and group in f.idata.children:
            f.idata[group] = f.idata[group].to_dataset() + shift
    f.summaries.clear()


def say(opts: RunOptions, msg: str) -> None:
    if not opts.quiet:
        print(msg, file=sys.stderr, flush=True)


# --- saved runs: every sampler goes through engine_call ---------------------------
#
# Outside a session (the usual case) engine_call just runs the sampler.  While
# :mod:`pystan_models.runs` records a run (``--save``) it keeps each call's Fit;
# while it replays one (``--from``) it returns the saved Fit of the next call
# instead of sampling, so an example's ``analyse`` runs unchanged on saved draws.

_session = None     # the active runs.Recorder or runs.Replay, if any


@contextlib.contextmanager
def session(active):
    """Route every sampler call through ``active`` (its ``call`` method) inside
    the block."""
    global _session
    previous, _session = _session, active
    try:
        yield active
    finally:
        _session = previous


def engine_call(name: str, inputs, run: Callable[[], Fit], constant_data=None,
                rerun: Callable[..., Fit] | None = None) -> Fit:
    """``run()`` (a sampler returning a Fit named ``name``), or, in a session, what
    the session makes of it: ``inputs`` is what the call was given (hashed to key
    it), ``constant_data`` the Stan data dict to keep beside the draws; ``rerun(data,
    opts, **sample_kw)`` the same sampler on other data or options (a Stan
    program's: a prior-only session runs it with prior_only = 1 instead)."""
    if _session is None:
        return run()
    if rerun is not None and getattr(_session, "reruns", False):
        return _session.call(name, inputs, run, constant_data, rerun=rerun)
    return _session.call(name, inputs, run, constant_data)


def remembered(name: str, inputs, compute: Callable, encode: Callable, decode: Callable):
    """``compute()``, a costly result of the draws alone (PSIS-LOO), which a saved
    run keeps (``encode``: to JSON) and a rebuild reads back (``decode``) when
    ``inputs`` hash the same, instead of computing it again."""
    if _session is None:
        return compute()
    return _session.remembered(name, inputs, compute, encode, decode)


def reference(compute: Callable) -> Callable:
    """Decorator for a reference fit of the data alone, not a draw (statsmodels'
    maximum likelihood or REML, CmdStan's posterior mode): a saved run keeps its
    result and a rebuild reads it back (:func:`remembered`), neither fitting again
    nor importing statsmodels (a second of a rebuild's time) nor loading a
    program.  The result is made of frames, arrays, numbers, strings, and lists
    and dicts of them."""
    @functools.wraps(compute)
    def call(*args, **kwargs):
        return remembered(f"reference {compute.__module__}.{compute.__name__}",
                          {"args": args, "kwargs": kwargs},
                          lambda: compute(*args, **kwargs), _to_json, _from_json)
    return call


def _to_json(v):
    """A remembered result as JSON, exactly (floats as Python writes them; the
    frames' dtypes kept; a series' name is not)."""
    if isinstance(v, pd.DataFrame):
        return {"frame": _to_json(v.to_dict(orient="split")),
                "dtypes": [str(t) for t in v.dtypes]}
    if isinstance(v, pd.Series):
        return {"series": _to_json(v.to_frame("values"))}
    if isinstance(v, np.ndarray):
        return {"array": v.tolist(), "dtype": str(v.dtype)}
    if isinstance(v, dict):
        return {"dict": [[_to_json(k), _to_json(x)] for k, x in v.items()]}
    if isinstance(v, (list, tuple)):
        return [_to_json(x) for x in v]
    return v.item() if isinstance(v, np.generic) else v


def _from_json(v):
    if isinstance(v, list):
        return [_from_json(x) for x in v]
    if not isinstance(v, dict):
        return v
    if "frame" in v:
        split = _from_json(v["frame"])
        frame = pd.DataFrame(split["data"], index=split["index"], columns=split["columns"])
        return frame.astype(dict(zip(frame.columns, v["dtypes"])))
    if "series" in v:
        return _from_json(v["series"])["values"].rename(None)
    if "array" in v:
        return np.array(v["array"], dtype=v["dtype"])
    return {_from_json(k): _from_json(x) for k, x in v["dict"]}


def replayable(name: str):
    """Decorator for a sampler's entry point that returns a :class:`Fit` (the Gibbs
    samplers): it goes through :func:`engine_call`, keyed by its arguments."""
    def wrap(sampler):
        @functools.wraps(sampler)
        def call(*args, **kwargs):
            def rerun(data, opts: RunOptions, **kw) -> Fit:   # other run options only
                def swap(v):
                    return opts if isinstance(v, RunOptions) else v
                return sampler(*map(swap, args), **{k: swap(v) for k, v in kwargs.items()})
            return engine_call(name, {"args": args, "kwargs": kwargs},
                               lambda: sampler(*args, **kwargs), rerun=rerun)
        return call
    return wrap


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
    # keyed by the data alone: sampler settings such as threads per chain may
    # differ between machines, and a saved run must rebuild on any of them
    def rerun(new_data: dict, new_opts: RunOptions, **kw) -> Fit:
        return _sample(program, new_data, new_opts, main=main, observed=observed,
                       coords=coords, dims=dims, y_rep=y_rep, log_lik=log_lik,
                       cpp_options=cpp_options, **{**sample_kw, **kw})
    f = engine_call(program, data, lambda: rerun(data, opts), constant_data=data,
                    rerun=rerun)
    f.spec = {"program": program, "data": data, "main": list(main),
              "observed": observed, "coords": coords, "dims": dims, "y_rep": y_rep,
              "log_lik": log_lik, "cpp_options": cpp_options, "sample_kw": sample_kw}
    return f


def _sample(program: str, data: dict, opts: RunOptions, *, main: list[str],
            observed: dict | None, coords: dict | None, dims: dict | None,
            y_rep: str | None, log_lik: str | None, cpp_options: dict | None,
            **sample_kw) -> Fit:
    model = programs.load(program, cpp_options=cpp_options, quiet=opts.quiet)
    sample_kw = {**short_warmup_windows(opts.iter_warmup), **sample_kw}
    say(opts, f"sampling {program}: {opts.chains} chains x "
              f"({opts.iter_warmup} warmup + {opts.iter_sampling} draws)")
    start = time.monotonic()
    # progress bars on a terminal only: in a log (CI) they are a wall of \r lines
    with programs.cmdstanpy_log_level(logging.ERROR if opts.quiet else logging.WARNING):
        try:
            fit = model.sample(data=programs.with_no_predictions(program, data),
                               chains=opts.chains, iter_warmup=opts.iter_warmup,
                               iter_sampling=opts.iter_sampling, seed=opts.seed,
                               show_progress=not opts.quiet and sys.stderr.isatty(),
                               **sample_kw)
        except RuntimeError as exc:   # CmdStan stopped: its own message, our file name
            said = [line.strip() for line in str(exc).splitlines()
                    if "Exception" in line or "rror" in line and "Error during" not in line]
            said = list(dict.fromkeys(said))[:2] or [str(exc).splitlines()[0]]
            raise PystanModelsError(
                f"{programs.stan_file(program)}: CmdStan failed while sampling: "
                f"{programs.clean_message(' '.join(said), model)}") from None
    seconds = time.monotonic() - start
    idata = to_idata(fit, observed=observed, coords=coords, dims=dims,
                     y_rep=y_rep, log_lik=log_lik)
    f = Fit(program, fit, idata, seconds, str(programs.stan_file(program)), main=main,
            compile_seconds=programs.compile_seconds.get(program, float("nan")),
            max_depth=int(fit.metadata.cmdstan_config.get("max_depth", 10)),
            chain_seconds=[float(t["total"]) for t in fit.time],
            cmdstan_errors=runtime_errors(fit, model))
    f.problems, f.notes = diagnostics(f, quick=opts.quick)
    f.problems += f.cmdstan_errors
    for p in f.problems:   # the command line prints them again at the end, even if quiet
        say(opts, f"  WARNING ({program}): {p}")
    return f


def run_chains(run_chain, seed: int, chains: int) -> float:
    """Run ``run_chain(c, rng)`` for chains c = 0..chains-1, each with its own random
    stream spawned from ``seed``, as many at once as there are cores (the numba
    samplers release the GIL: ``@njit(nogil=True)``), as CmdStan runs its chains.
    The draws are the same as one chain after another.  Returns the wall time."""
    import os
    from concurrent.futures import ThreadPoolExecutor
    rngs = np.random.default_rng(seed).spawn(chains)
    start = time.perf_counter()
    with ThreadPoolExecutor(min(chains, os.cpu_count() or 1)) as pool:
        list(pool.map(run_chain, range(chains), rngs))
    return time.perf_counter() - start


def gibbs_fit(name: str, idata: xr.DataTree, seconds: float, main: list[str],
              opts: RunOptions, sampler: str = "Gibbs (numba)") -> Fit:
    """A Gibbs sampler's draws as a :class:`Fit`, diagnosed like NUTS's
    (R-hat, bulk ESS, non-finite draws; no divergences or tree depth)."""
    f = Fit(name, None, idata, seconds, None, main=main, sampler=sampler)
    f.problems, f.notes = diagnostics(f, quick=opts.quick)
    for p in f.problems:
        say(opts, f"  WARNING ({name}): {p}")
    return f


_REJECTION = re.compile(r"Informational Message|is about to be rejected")


def runtime_errors(fit: cmdstanpy.CmdStanMCMC, model=None) -> list[str]:
    """CmdStan's non-fatal errors: exceptions it caught and carried on after (an
    error in generated quantities leaves NaN in that draw).  Rejected proposals
    during warmup ("Informational Message") are normal and not counted."""
    errors: list[str] = []
    for path in fit.runset.stdout_files:
        try:
            lines = Path(path).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for before, line in zip([""] + lines, lines):
            if "Exception" in line and not _REJECTION.search(before + line):
                errors.append(line.strip())
    if not errors:
        return []
    first = programs.clean_message(errors[0], model) if model is not None else errors[0]
    return [f"CmdStan reported {len(errors)} error(s) while sampling and carried on "
            f"(draws affected are NaN); the first: {first}"]


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
             ) -> xr.DataTree:
    import arviz as az
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
        idata["posterior_predictive"] = (idata["posterior_predictive"].to_dataset()
                                         .rename({y_rep: obs_name}))
    return idata


def from_draws(posterior: dict, coords: dict | None = None, dims: dict | None = None
               ) -> xr.DataTree:
    """A Gibbs sampler's draws (each array chain x draw x ...) as a DataTree."""
    import arviz as az
    return az.from_dict({"posterior": posterior}, coords=coords, dims=dims)


def draws(idata: xr.DataTree, name: str, group: str = "posterior") -> np.ndarray:
    """A variable's draws with chains stacked: shape (chains * draws, ...)."""
    values = idata[group][name].values
    return values.reshape(-1, *values.shape[2:])


def stacked(idata: xr.DataTree, var_names=None, group: str = "posterior"):
    """Draws with chains stacked into one ``sample`` dimension (the last), keeping
    the coordinates, so a parameter can be picked by name (``.sel(fixed="floor")``):
    a Dataset, or a DataArray for one name given as a string."""
    from arviz_base import extract   # az.extract itself, without arviz-stats and -plots
    return extract(idata, group=group, var_names=var_names)


def bfmi(idata: xr.DataTree) -> np.ndarray:
    """E-BFMI of each chain (Betancourt 2016), from the sampler's energy.  A saved
    run keeps it (keyed by the energy draws): a rebuild need not import ArviZ's
    statistics."""
    def compute():
        import arviz as az
        return np.atleast_1d(az.bfmi(idata)["energy"].values)
    return remembered("bfmi", {"energy": idata["sample_stats"]["energy"].values}, compute,
                      _to_json, _from_json)


def mcse(idata: xr.DataTree, var_names: list[str], method: str = "mean") -> xr.Dataset:
    """Monte Carlo standard error of each variable's posterior ``method``
    ("mean", "sd", "median", ...), by ArviZ; kept by a saved run like :func:`bfmi`."""
    def compute():
        import arviz as az
        return az.mcse(idata, var_names=var_names, method=method).to_dataset()
    draws = [idata["posterior"][v].values for v in var_names]
    return remembered("mcse", {"vars": var_names, "draws": draws, "method": method},
                      compute, lambda ds: ds.to_dict(data="list"), xr.Dataset.from_dict)


def posterior_table(idata: xr.DataTree, var_names: list[str]) -> pd.DataFrame:
    """mean, sd, 2.5/50/97.5% quantiles, R-hat, bulk and tail ESS and the MCSE of
    the mean per parameter.  The interval is set to ArviZ 0.x's meaning, the
    central 95% (ArviZ 1.x's default is 89%); sd has ddof = 1; R-hat is the
    rank-normalised split R-hat; ESS bulk and tail as Vehtari et al. (2021).
    A saved run keeps it (keyed by the draws) for a rebuild."""
    draws = [idata["posterior"][v].values for v in var_names]
    return remembered("posterior table", {"vars": var_names, "draws": draws},
                      lambda: _posterior_table(idata, var_names), _to_json, _from_json)


def _posterior_table(idata: xr.DataTree, var_names: list[str]) -> pd.DataFrame:
    import arviz as az
    stats = az.summary(idata, var_names=var_names, kind="all", ci_prob=0.95,
                       ci_kind="eti", round_to="none")
    median = az.summary(idata, var_names=var_names, kind="stats_median", round_to="none")
    out = pd.DataFrame(stats).rename(columns={"eti95_lb": "2.5%", "eti95_ub": "97.5%"})
    out["50%"] = pd.DataFrame(median)["median"]
    return out[["mean", "sd", "2.5%", "50%", "97.5%", "r_hat", "ess_bulk", "ess_tail",
                "mcse_mean"]]


def diagnostics(f: Fit, quick: bool = False) -> tuple[list[str], list[str]]:
    """Plain-language sampler problems of ``f``: divergences, treedepth, E-BFMI
    (for Stan fits), non-finite draws, R-hat and bulk ESS (for any draws, e.g. a
    Gibbs sampler's).  Returns (problems, notes): under ``quick`` (short chains) a
    bulk ESS below the threshold is a note, not a problem.  R-hat and ESS come from
    the fit's posterior table, which is cached for the report to reuse."""
    idata, main = f.idata, f.main
    problems, notes = [], []
    diverging = f.stat("diverging")
    if diverging is not None:   # NUTS: from the draws' sample_stats
        n = diverging.size
        div = f.divergences()
        if div:
            problems.append(f"{div} of {n} transitions diverged ({100 * div / n:.1f}%); "
                            "the posterior geometry is not being explored reliably")
        max_depth = f.max_depth or 10
        hit = int((f.stat("tree_depth") >= max_depth).sum())
        if hit:
            problems.append(f"{hit} of {n} transitions hit the maximum tree depth "
                            f"({max_depth})")
        low = [f"{b:.2f}" for b in bfmi(idata) if b < 0.3]
        if low:
            problems.append(f"E-BFMI below 0.3 in {len(low)} chain(s) ({', '.join(low)})")
    problems += nonfinite_draws(idata)
    finite = [v for v in main if np.isfinite(idata.posterior[v].values).all()]
    if not finite:
        return problems, notes
    chains = idata.posterior.sizes["chain"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # judged after rounding to 2 decimals, as this check always was (through
        # az.summary's default round_to=2): an R-hat of 1.014 passes
        summ = f.table(finite)[["r_hat", "ess_bulk"]].round(2)
    if chains < 2:
        notes.append("R-hat needs 2 or more chains: not checked with 1 chain")
    else:
        rhat = summ["r_hat"]
        if rhat.isna().any():
            problems.append(f"R-hat could not be computed for {rhat.isna().sum()} "
                            f"parameter(s) ({rhat.index[rhat.isna()][0]}): their draws "
                            "do not vary")
        elif rhat.max() > 1.01:
            problems.append(f"R-hat up to {rhat.max():.3f} ({rhat.idxmax()}); "
                            "chains disagree")
    ess = summ["ess_bulk"]
    if ess.isna().any() or ess.min() < 100 * chains:
        worst = ess.index[ess.isna()][0] if ess.isna().any() else ess.idxmin()
        text = (f"bulk ESS as low as {ess.min():.0f} ({worst}); below {100 * chains} "
                f"(100 per chain)")
        (notes if quick else problems).append(
            text + (" — expected with --quick's short chains" if quick else ""))
    return problems, notes


def nonfinite_draws(idata: xr.DataTree) -> list[str]:
    """Every variable with a NaN or infinite draw, in the posterior and in the
    posterior predictive and log-likelihood groups (az.summary would skip them:
    its R-hat maximum ignores NaN)."""
    bad = []
    for group in ("posterior", "posterior_predictive", "log_likelihood"):
        if group not in idata.children:
            continue
        for name, var in idata[group].data_vars.items():
            values = var.values
            if values.dtype.kind in "fc" and not np.isfinite(values).all():
                share = 1 - np.isfinite(values).mean()
                bad.append(f"{group} variable {name} has non-finite draws "
                           f"({100 * share:.2g}% of its values are NaN or infinite)")
    return bad


def efficiency(f: Fit, names: list[str] | None = None) -> dict:
    """One row of an efficiency table: compile time (blank when the executable came
    from the cache), sampling wall time, the worst bulk ESS over ``names`` (default:
    the parameters the fit was diagnosed on) and that ESS per second."""
    ess = f.table(names)["ess_bulk"]
    return {"program": f.program,
            "compile (s)": f.compile_seconds,
            "sampling (s)": f.seconds, "min bulk ESS": float(ess.min()),
            "worst parameter": ess.idxmin(), "min bulk ESS / s": ess.min() / f.seconds}


def efficiency_table(fits: dict[str, Fit], names: list[str] | None = None
                     ) -> pd.DataFrame:
    """One row per fit: sampler, compile time (blank when cached or not Stan),
    sampling wall time, the worst bulk ESS over ``names`` (default: each fit's
    diagnosed parameters), ESS per second, and, for NUTS, the step size and
    leapfrog steps per draw; the last column relative to the first fit."""
    rows = {}
    for label, f in fits.items():
        row = {"sampler": f.sampler, **efficiency(f, names)}
        if f.stat("step_size") is not None:   # NUTS: the adapted step size per chain
            row["step size"] = float(np.mean(f.stat("step_size")[:, 0]))
            row["leapfrog steps per draw"] = float(f.stat("n_steps").mean())
        rows[label] = row
    out = pd.DataFrame(rows).T.infer_objects()
    first = out["min bulk ESS / s"].iloc[0]
    out[f"ESS / s vs {out.index[0]}"] = out["min bulk ESS / s"].astype(float) / first
    return out


def mcse_comparison(a: Fit, b: Fit, var_names: list[str], labels=("A", "B")
                    ) -> pd.DataFrame:
    """Posterior means of two fits of one posterior, and their difference in units
    of its Monte Carlo standard error, (mean_a - mean_b) / sqrt(mcse_a^2 + mcse_b^2):
    two correct samplers give values like draws from N(0, 1)."""
    ta, tb = a.table(var_names), b.table(var_names)
    la, lb = labels
    out = pd.DataFrame({f"{la} mean": ta["mean"], f"{lb} mean": tb["mean"],
                        f"{la} sd": ta["sd"], f"{lb} sd": tb["sd"]})
    out["difference / combined MCSE"] = (ta["mean"] - tb["mean"]) / np.hypot(
        ta["mcse_mean"], tb["mcse_mean"])
    return out


MCSE_NOTE = ("difference / combined MCSE: (mean_A - mean_B) / sqrt(mcse_A^2 + mcse_B^2). "
             "Two correct samplers of one posterior give values like draws from N(0, 1): "
             "most within ±2, rarely beyond ±3.")
LOO_NOTE = ("elpd_loo: expected log pointwise predictive density (higher is better), by "
            "PSIS-LOO (ArviZ); p_loo: effective number of parameters; elpd_diff and dse: "
            "difference from the best model and its standard error; weight: stacking "
            "weight.")


def loo_compare(fits: dict[str, Fit]) -> tuple[pd.DataFrame, list[str]]:
    """ArviZ's LOO comparison of ``fits``, plus every Pareto-k warning in words.
    The table's ``attrs["pareto_k"]`` holds each fit's Pareto k per observation.
    Kept in a saved run (PSIS for every observation of every fit is most of the
    time a rebuild would take)."""
    inputs = [(name, f.idata["posterior"], f.idata["log_likelihood"])
              for name, f in fits.items()]
    return remembered("loo_compare", inputs, lambda: _loo_compare(fits),
                      _loo_to_json, _loo_from_json)


def _loo_to_json(result: tuple[pd.DataFrame, list[str]]) -> dict:
    table, notes = result
    return {"index": table.index.tolist(), "index_name": table.index.name,
            "columns": {c: table[c].tolist() for c in table},
            "dtypes": {c: str(table[c].dtype) for c in table},
            "pareto_k": {k: v.tolist() for k, v in table.attrs["pareto_k"].items()},
            "notes": notes}


def _loo_from_json(saved: dict) -> tuple[pd.DataFrame, list[str]]:
    table = pd.DataFrame({c: pd.Series(v, dtype=saved["dtypes"][c])
                          for c, v in saved["columns"].items()})
    table.index = pd.Index(saved["index"], name=saved["index_name"])
    table.attrs["pareto_k"] = {k: np.asarray(v, dtype=float)
                               for k, v in saved["pareto_k"].items()}
    return table, list(saved["notes"])


def _loo_compare(fits: dict[str, Fit]) -> tuple[pd.DataFrame, list[str]]:
    import arviz as az
    notes, pareto_k = [], {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loos = {name: az.loo(f.idata, pointwise=True) for name, f in fits.items()}
        table = az.compare(loos, round_to="none")   # reuses each fit's LOO
        for name, loo in loos.items():
            k = pareto_k[name] = np.asarray(loo.pareto_k).ravel()
            bad = int((k > 0.7).sum())
            if bad:
                notes.append(f"{name}: {bad} of {k.size} observations have Pareto k > 0.7 "
                             f"(max {k.max():.2f}); PSIS-LOO is unreliable for them, so "
                             "treat this comparison with caution (K-fold CV or moment "
                             "matching would be more trustworthy).")
    table = pd.DataFrame(table).rename(columns={"elpd": "elpd_loo", "p": "p_loo"})
    # ArviZ 1.x gives elpd_diff as elpd - best elpd (<= 0); the reports read it as
    # ArviZ 0.x gave it, how far below the best each model is (>= 0)
    table["elpd_diff"] = table["elpd_loo"].max() - table["elpd_loo"]
    table = table[["rank", "elpd_loo", "p_loo", "elpd_diff", "se", "dse", "weight"]].copy()
    table.attrs["pareto_k"] = pareto_k
    return table, notes


def pareto_k(idata: xr.DataTree, log_lik: np.ndarray | None = None) -> np.ndarray:
    """PSIS Pareto k per observation, for the fit's log-likelihood or for
    ``log_lik`` (draws shaped like it, e.g. a mixture's integrated log-likelihood).
    A saved run keeps it (keyed by the draws) for a rebuild."""
    (name, ref), = idata["log_likelihood"].data_vars.items()
    draws = ref.values if log_lik is None else np.reshape(log_lik, ref.shape)
    return remembered("pareto k", {"log_lik": draws}, lambda: _pareto_k(idata, draws),
                      _to_json, _from_json)


def _pareto_k(idata: xr.DataTree, log_lik: np.ndarray) -> np.ndarray:
    import arviz as az
    (name, ref), = idata["log_likelihood"].data_vars.items()
    idata = xr.DataTree.from_dict({
        "posterior": idata["posterior"].to_dataset(),
        "log_likelihood": xr.Dataset({name: (ref.dims, log_lik)}, coords=ref.coords)})
    with warnings.catch_warnings():  # the caller reports the k values themselves
        warnings.simplefilter("ignore")
        return np.asarray(az.loo(idata, pointwise=True).pareto_k).ravel()
