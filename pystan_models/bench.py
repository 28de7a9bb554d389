"""Benchmark the collection: ``python -m pystan_models.bench``.

1. Every example at a fixed seed and 4 x 1000 x 1000, from a cold compile cache:
   per program the compile time, sampling wall time, minimum bulk ESS and ESS per
   second over the model's main parameters, and divergences; then a warm rerun of
   the example, to measure the time spent outside sampling.
2. A scaling run on simulated data (200 groups, 5 predictors) at N = 2,000,
   20,000 and 200,000 rows: the mixed-effects program (varying intercepts) and
   the plain and fast varying-intercept logistic programs, showing how sampling
   time grows with N.
3. Speed-up ratios: each fast program's ESS/s against its plain reference, the
   numba-compiled Gibbs samplers (rats, probit) among them.
4. numba's one-time compile of the Gibbs samplers, measured apart in a fresh
   process with an empty numba cache (their sampling times above exclude it).
5. ``--cold-waits`` (instead of 1-4): each example's wait for its report from empty compile
   and numba caches, as a user's first run, with its programs compiled one after
   another (as before they compiled in parallel) and as many at once as there are
   cores; and ``all --quick`` the same way.
6. ``--rebuilds`` (instead of 1-4): each example saved (``--save``) at the
   benchmark's options, then the wall time of ``--from DIR`` in a fresh process,
   reading the kept rendering back (median of 3 after a first that writes the byte
   code, as a user's Python keeps it), and of ``load_run`` + the report drawn again
   (as by other code or libraries), in process after a warm-up.
7. ``--scale`` (instead of 1-4): the formula path on a user's big data (issue 11): a
   200,000-row varying-intercept logistic data set with 200 groups through
   ``separation --formula "y ~ x1 + ... + x5 + (1 | g)"`` against the hand-tuned
   fast program on the same data (ESS/s); 200,000 Bernoulli rows with 50 covariate
   patterns through ``separation --formula "y ~ dose + C(arm)"`` (aggregated to
   binomial counts; sampling time); and on the notes' data, each example's formula
   path against its default path (the time the formula layer takes, and the time
   outside sampling both ways).

Prints a table and writes ``reports/benchmark.html`` and ``reports/benchmark.json``.
This is a benchmark, not a test: nothing here asserts a speed.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import EXAMPLES, cli, cmdstan, programs, report
from .errors import PystanModelsError
from .fitting import Fit, RunOptions, efficiency, sample

# (plain reference, fast variant, target ratio of ESS/s)
SPEEDUPS = [
    ("rats_conjugate", "rats_marginal", 13.0),
    ("rats_conjugate", "rats_gibbs", 20.0),
    # the numpy Albert-Chib sampler measured about 7x probit NUTS; compiled, twice that
    ("probit_regression", "probit_gibbs", 14.0),
    ("mixed_effects_clusters[uranium]", "radon_intercepts_marginal", 5.0),
    ("varying_intercept_logistic@20000", "varying_intercept_logistic_fast@20000", 3.0),
]


def fit_row(f: Fit, label: str | None = None) -> dict:
    row = efficiency(f, f.main or list(f.idata.posterior.data_vars)[:5])
    row = {**row, "program": label or getattr(f, "label", f.program),
           "divergences": f.divergences()}
    if f.stat("n_steps") is not None:      # NUTS (a Gibbs sampler has no leapfrog)
        # wall time per leapfrog step is the cost of a gradient, which grows with N;
        # how many steps a draw takes (the geometry) is counted apart
        steps = int(f.stat("n_steps").sum())
        row.update({"leapfrog steps": steps, "ms per 1000 steps": 1e6 * f.seconds / steps})
    return row


def bench_examples(names: list[str], opts: RunOptions, out_dir: Path) -> tuple[list, list]:
    """Each example cold (compiles included), then warm; its fits' rows and the warm
    rerun's time outside sampling."""
    run = dataclasses.asdict(opts)
    rows, warm = [], []
    for name in names:
        module = importlib.import_module(f"pystan_models.{name}")
        print(f"== {name} (cold)", file=sys.stderr, flush=True)
        try:
            results = module.analyse(**run)
            results.write_report(out_dir / f"{name}.html")
        except PystanModelsError as exc:
            print(f"error ({name}): {exc}", file=sys.stderr)
            rows.append({"example": name, "program": f"ERROR: {exc}"})
            continue
        for label, f in results.fits.items():
            rows.append({"example": name, "fit": label, **fit_row(f)})
        print(f"== {name} (warm)", file=sys.stderr, flush=True)
        start = time.monotonic()
        results = module.analyse(**run)
        results.write_report(out_dir / f"{name}.html")
        wall = time.monotonic() - start
        sampling = sum(f.seconds for f in results.fits.values())
        warm.append({"example": name, "warm wall time (s)": wall,
                     "sampling (s)": sampling, "outside sampling (s)": wall - sampling})
    return rows, warm


def simulate_logistic(n: int, groups: int = 200, k: int = 5, seed: int = 1) -> dict:
    """Varying-intercept logistic data with a fixed seed: true mu = -0.5, tau = 0.8,
    beta evenly spaced from -1 to 1; the likelihood on, no pointwise output."""
    rng = np.random.default_rng([seed, n])
    group = rng.integers(1, groups + 1, size=n)
    X = rng.normal(size=(n, k))
    beta = np.linspace(-1, 1, k)
    alpha = -0.5 + 0.8 * rng.normal(size=groups)
    p = 1 / (1 + np.exp(-(alpha[group - 1] + X @ beta)))
    return {"N": n, "K": k, "X": X.tolist(), "y": (rng.random(n) < p).astype(int).tolist(),
            "J": groups, "group": group.tolist(), "prior_only": 0, "pointwise": 0}


def logistic_frame(data: dict) -> pd.DataFrame:
    """:func:`simulate_logistic`'s data as a user's table: y, x1..xK and the group
    g (labels g001, g002, ...), for the formula path ``y ~ x1 + ... + (1 | g)``."""
    X = np.asarray(data["X"])
    frame = pd.DataFrame(X, columns=[f"x{k + 1}" for k in range(X.shape[1])])
    return frame.assign(g=[f"g{j:03d}" for j in data["group"]], y=data["y"])


def simulate_patterns(n: int, seed: int = 1) -> pd.DataFrame:
    """0/1 rows on a dose with 10 values and 5 arms: 50 covariate patterns.  True
    logit: -1 + 0.3 dose + arm effects 0, 0.5, -0.5, 1, -1."""
    rng = np.random.default_rng([seed, n, 3])
    dose = rng.integers(0, 10, n).astype(float)
    arm = rng.integers(0, 5, n)
    eta = -1 + 0.3 * dose + np.array([0, 0.5, -0.5, 1, -1])[arm]
    return pd.DataFrame({"y": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int),
                         "dose": dose, "arm": np.array(list("ABCDE"))[arm]})


# Each example's notes' model written as a formula on its bundled data (the schools
# example takes columns, not a formula).
NOTES_FORMULAS = {
    "beetles": {"formula": "p(killed, exposed) ~ dose"},
    "icc": {"formula": "log_radon ~ 1 + (1 | county)"},
    "radon": {"formula": "log_radon ~ floor + (1 | county)"},
    "rats": {"formula": "weight ~ age_days + (age_days | rat)"},
    "counts": {"formula": "y ~ roach1 + treatment + senior", "exposure": "exposure2"},
    "probit": {"formula": "p(germinated, total) ~ C(seed_type) + C(root_extract)"},
    "separation": {"formula": "hg ~ nv + pi + eh"},
    "schools": {"estimate": "effect", "se": "se", "label": "school"},
}


# the bundled file and family each formula above is read with (the formula layer's
# own time: parsing, checks, design matrices)
LAYER = {"beetles": ("beetles.csv", "binomial"), "icc": ("radon_mn.csv", "gaussian"),
         "radon": ("radon_mn.csv", "gaussian"), "rats": ("rats.csv", "gaussian"),
         "counts": ("roaches.csv", "poisson"), "probit": ("seeds.csv", "binomial"),
         "separation": ("endometrial.csv", "binomial")}


def timed(call) -> tuple[object, float]:
    start = time.monotonic()
    out = call()
    return out, time.monotonic() - start


def bench_formula_scale(opts: RunOptions, threads: int, n: int = 200_000) -> list[dict]:
    """The formula path against the fast program on n rows in 200 groups, and on n
    Bernoulli rows with 50 covariate patterns."""
    from . import separation
    run = dataclasses.asdict(opts)
    data = simulate_logistic(n, seed=opts.seed)
    print(f"== scale: fast program, N = {n}", file=sys.stderr, flush=True)
    fast = sample("varying_intercept_logistic_fast", {**data, "grainsize": 500}, opts,
                  main=["mu", "tau", "beta"], y_rep=None, log_lik=None,
                  cpp_options={"STAN_THREADS": True}, threads_per_chain=threads,
                  parallel_chains=max(1, (os.cpu_count() or 2) // threads))
    rows = [{"run": f"fast program, {n:,} rows, 200 groups", **fit_row(fast)}]
    terms = " + ".join(f"x{k + 1}" for k in range(data["K"]))
    print(f"== scale: formula path, N = {n}", file=sys.stderr, flush=True)
    res, wall = timed(lambda: separation.analyse(logistic_frame(data),
                                                 formula=f"y ~ {terms} + (1 | g)", **run))
    f = next(iter(res.fits.values()))
    rows.append({"run": f"formula path (1 | g), {n:,} rows, 200 groups", **fit_row(f),
                 "wall (s)": wall, "choice": res.extras["choice"].sentence,
                 "ESS/s vs fast": fit_row(f)["min bulk ESS / s"]
                 / rows[0]["min bulk ESS / s"]})
    print(f"== scale: formula path, {n} Bernoulli rows, 50 patterns", file=sys.stderr,
          flush=True)
    res, wall = timed(lambda: separation.analyse(simulate_patterns(n, opts.seed),
                                                 formula="y ~ dose + C(arm)", **run))
    for name, f in res.fits.items():
        rows.append({"run": f"formula path, {n:,} Bernoulli rows as "
                     f"{res.extras['patterns']} patterns: {name}", **fit_row(f),
                     "wall (s)": wall})
    return rows


def bench_formula_overhead(opts: RunOptions) -> list[dict]:
    """On the notes' data: the formula layer's own time (parsing, checks, design) and
    each path's wall time outside sampling (warm compile cache)."""
    from . import formula
    from .data import data_file, read_table
    run = dataclasses.asdict(opts)
    rows = []
    for name, options in NOTES_FORMULAS.items():
        module = importlib.import_module(f"pystan_models.{name}")
        module.analyse(**run)                            # compiles, then timed warm
        print(f"== formula overhead: {name}", file=sys.stderr, flush=True)
        notes, notes_wall = timed(lambda: module.analyse(**run))
        user, user_wall = timed(lambda: module.analyse(**options, **run))
        row = {"example": name, "options": " ".join(f"{k}={v!r}" for k, v in
                                                     options.items()),
               "notes: outside sampling (s)": notes_wall - sum(
                   f.seconds for f in notes.fits.values()),
               "formula: outside sampling (s)": user_wall - sum(
                   f.seconds for f in user.fits.values())}
        if name in LAYER:
            file, family = LAYER[name]
            frame = read_table(data_file(file))
            _, row["formula layer (s)"] = timed(lambda: formula.checked_structure(
                formula.design(frame, options["formula"], family=family,
                               exposure=options.get("exposure")), example=name))
        rows.append(row)
    return rows


def simulate_mixed(n: int, groups: int = 200, k: int = 5, seed: int = 1) -> dict:
    """Varying-intercept linear data for mixed_effects_clusters.stan (one cluster of
    group intercepts with a free mean; 5 predictors in X, no fixed intercept), without
    pointwise output."""
    from .radon import Design, stan_data
    rng = np.random.default_rng([seed, n, 2])
    g = rng.integers(0, groups, size=n)
    X = pd.DataFrame(rng.normal(size=(n, k)), columns=[f"x{j + 1}" for j in range(k)])
    gamma = 1.0 + 0.5 * rng.normal(size=groups)
    y = gamma[g] + X.to_numpy() @ np.linspace(-1, 1, k) + 0.8 * rng.normal(size=n)
    Z = np.zeros((n, groups))
    Z[np.arange(n), g] = 1.0
    d = Design("scaling", X, Z, [f"group {j + 1}" for j in range(groups)],
               np.ones(groups, int), ["group intercept"], [1])
    return stan_data(y, d, pointwise=False)


def bench_scaling(sizes: list[int], opts: RunOptions, threads: int) -> list[dict]:
    rows = []
    for n in sizes:
        print(f"== scaling N = {n}", file=sys.stderr, flush=True)
        mixed = sample("mixed_effects_clusters", simulate_mixed(n, seed=opts.seed), opts,
                       main=["beta", "alpha", "sigma_gamma", "sigma"], y_rep=None,
                       log_lik=None)
        rows.append({"N": n, **fit_row(mixed, f"mixed_effects_clusters@{n}")})
        data = simulate_logistic(n, seed=opts.seed)
        plain = sample("varying_intercept_logistic", data, opts,
                       main=["mu", "tau", "beta"], y_rep=None, log_lik=None)
        rows.append({"N": n, **fit_row(plain, f"varying_intercept_logistic@{n}")})
        fast = sample("varying_intercept_logistic_fast", {**data, "grainsize": 500}, opts,
                      main=["mu", "tau", "beta"], y_rep=None, log_lik=None,
                      cpp_options={"STAN_THREADS": True}, threads_per_chain=threads,
                      parallel_chains=max(1, (os.cpu_count() or 2) // threads))
        rows.append({"N": n, **fit_row(fast, f"varying_intercept_logistic_fast@{n}")})
    return rows


# Run in a fresh process whose numba cache is empty: each Gibbs sampler's first
# (tiny) run compiles it; the second run's time, subtracted, leaves the compile.
COMPILE_PROBE = """
import json, time
import numba
from pystan_models import probit, rats
from pystan_models.fitting import RunOptions
opts = RunOptions(1, 0, 2, 1, True)
frame = rats.load()
inits = rats.initial_values(frame, 1, 1)
data = probit.stan_data(probit.expand(probit.load()))
calls = {"rats_gibbs": lambda: rats.fit_gibbs(frame, opts, inits),
         "probit_gibbs": lambda: probit.gibbs_probit(data["X"], data["y"], 10.0, opts)}
start = time.perf_counter()
numba.njit(lambda x: x + 1)(1)   # numba's own start-up, paid by the first compile
out = {"numba start-up": time.perf_counter() - start}
for name, call in calls.items():
    times = []
    for _ in range(2):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    out[name] = times[0] - times[1]
print(json.dumps(out))
"""


def numba_compile() -> list[dict]:
    """numba's one-time compile (s) of each Gibbs sampler, from an empty cache."""
    print("== numba compile of the Gibbs samplers", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as cache:
        done = subprocess.run([sys.executable, "-c", COMPILE_PROBE], capture_output=True,
                              text=True, env={**os.environ, "NUMBA_CACHE_DIR": cache})
    if done.returncode:
        print(f"error (numba compile): {done.stderr.strip()[-500:]}", file=sys.stderr)
        return []
    seconds = json.loads(done.stdout.strip().splitlines()[-1])
    return [{"sampler": k, "numba compile (s)": v} for k, v in seconds.items()]


def bench_calibration(replications: int, workers: int = 2) -> pd.DataFrame:
    """Calibration throughput: one cheap target with 1 and with ``workers`` local
    workers (scaling efficiency), every target at ``replications`` on ``workers``
    (the time of ``calibrate --all``), and from that run's cost per replication the
    time of ``--all --replications 1000`` on a 100-worker cluster, on paper."""
    from . import calibrate
    targets = calibrate.targets()
    cheap = targets["schools_noncentered"]
    rows = [calibrate.throughput(cheap, 4 * replications // 5 or 1, n)
            for n in (1, workers)]
    rows[1]["scaling efficiency"] = (rows[1]["replications / min"]
                                     / (workers * rows[0]["replications / min"]))
    for t in targets.values():       # compiled first: the run below times fits only
        if t.sampler is None:
            programs.load(t.program, quiet=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        calibrate.calibrate_many(list(targets.values()), replications,
                                 {k: Path(tmp) / f"{k}.jsonl" for k in targets},
                                 workers=workers, progress=False)
    wall = time.monotonic() - start
    per_rep = wall * workers / (replications * len(targets))   # worker-seconds each
    rows.append({"program": f"--all ({len(targets)} targets)", "workers": workers,
                 "replications": replications * len(targets), "seconds": wall,
                 "replications / min": 60 * replications * len(targets) / wall,
                 "projected: --all x 1000 on 100 workers (min)":
                     1000 * len(targets) * per_rep / 100 / 60})
    return pd.DataFrame(rows)


def cold_waits(names: list[str]) -> pd.DataFrame:
    """Wall time of ``python -m pystan_models.<name>`` (and of ``all --quick``) from
    empty caches, compiling one program at a time and one per core."""
    cores = programs.compile_jobs()
    rows = []
    for name in [*names, "all --quick"]:
        module = ("pystan_models" if name.startswith("all") else f"pystan_models.{name}")
        count = (len({p for n in EXAMPLES for p in importlib.import_module(
            f"pystan_models.{n}").PROGRAMS}) if name.startswith("all")
                 else len(importlib.import_module(module).PROGRAMS))
        row = {"example": name, "programs": count}
        for jobs in (1, cores):
            print(f"== {name}: cold, {jobs} compile(s) at a time", file=sys.stderr, flush=True)
            with tempfile.TemporaryDirectory() as tmp:
                env = {**os.environ, "PYSTAN_MODELS_CACHE": f"{tmp}/cache",
                       "NUMBA_CACHE_DIR": f"{tmp}/numba",
                       "PYSTAN_MODELS_COMPILE_JOBS": str(jobs), "MPLBACKEND": "Agg"}
                start = time.monotonic()
                args = name.split() if name.startswith("all") else ["--quiet"]
                done = subprocess.run([sys.executable, "-m", module, *args],
                                      cwd=tmp, env=env, capture_output=True, text=True)
                row[f"{jobs} at a time (s)"] = (time.monotonic() - start
                                                 if done.returncode in (0, 1) else np.nan)
        row["ratio"] = row[f"{cores} at a time (s)"] / row["1 at a time (s)"]
        rows.append(row)
    return pd.DataFrame(rows)


REBUILD_REPEATS = 3


def rebuilds(names: list[str], opts: RunOptions) -> pd.DataFrame:
    """Seconds to rebuild each example's report from a saved run: the command
    line's ``--from DIR`` in a fresh process (imports included; the median of
    REBUILD_REPEATS after one that warms the byte-code and file caches), and the
    report drawn again from the saved draws (another render key)."""
    from . import runs
    rows = []
    for name in names:
        print(f"== {name}: saved, then rebuilt", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            runs.save_run(Path(tmp) / "run", name, **dataclasses.asdict(opts))
            # as a user's Python runs it: byte code cached (a first run writes it)
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env["MPLBACKEND"] = "Agg"
            seconds = []
            for _ in range(1 + REBUILD_REPEATS):      # the first warms the caches
                start = time.monotonic()
                done = subprocess.run([sys.executable, "-m", f"pystan_models.{name}",
                                       "--from", f"{tmp}/run", "--output",
                                       f"{tmp}/rebuilt.html", "--quiet"],
                                      env=env, capture_output=True, text=True)
                seconds.append(time.monotonic() - start if done.returncode in (0, 1)
                               else np.nan)
            kept = float(np.median(seconds[1:]))
            start = time.monotonic()
            runs.load_run(Path(tmp) / "run", quiet=True, reuse=False).report().render()
            drawn = time.monotonic() - start
        rows.append({"example": name, "--from, kept rendering (s)": kept,
                     "load_run + report drawn again (s)": drawn})
    return pd.DataFrame(rows)


def speedups(rows: list[dict]) -> pd.DataFrame:
    by = {r["program"]: r for r in rows if "min bulk ESS / s" in r}
    out = []
    for plain, fast, target in SPEEDUPS:
        if plain in by and fast in by:
            ratio = by[fast]["min bulk ESS / s"] / by[plain]["min bulk ESS / s"]
            out.append({"plain": plain, "fast": fast, "plain ESS/s": by[plain]["min bulk ESS / s"],
                        "fast ESS/s": by[fast]["min bulk ESS / s"], "ratio": ratio, "target": target,
                        "met": "yes" if ratio >= target else "no"})
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pystan_models.bench", description=__doc__)
    p.add_argument("--examples", nargs="*", default=list(EXAMPLES), choices=list(EXAMPLES),
                   metavar="EXAMPLE", help=f"examples to run (default: all; {', '.join(EXAMPLES)})")
    p.add_argument("--sizes", nargs="*", type=positive, default=[2000, 20000, 200000])
    p.add_argument("--threads", type=int, default=2, help="threads per chain (fast logistic)")
    p.add_argument("--seed", type=int, default=20261125)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--iter-warmup", type=int, default=1000)
    p.add_argument("--iter-sampling", type=int, default=1000)
    p.add_argument("--scaling-iter", type=int, nargs=2, metavar=("WARMUP", "SAMPLING"),
                   help="iterations for the scaling run (default: as for the programs)")
    p.add_argument("--calibration", type=positive, metavar="R", default=0,
                   help="also measure calibration: throughput with 1 and 2 local workers "
                   "and every target at R replications on 2 (default: skipped)")
    p.add_argument("--cold-waits", action="store_true",
                   help="instead of the above, time each example's first run from empty "
                   "caches, compiling one program at a time and one per core")
    p.add_argument("--rebuilds", action="store_true",
                   help="instead of the above, time each example's report rebuilt "
                   "from a saved run (--from DIR)")
    p.add_argument("--scale", action="store_true",
                   help="instead of the above, the formula path on big simulated data "
                   "against the fast program, and its overhead on the notes' data")
    p.add_argument("--warm-cache", action="store_true",
                   help="keep the compile cache (default: compile every program cold)")
    p.add_argument("--output-dir", type=Path, default=report.REPORTS_DIR)
    args = p.parse_args(argv)
    return cli.guarded(lambda: run(args))


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def run(args) -> int:
    import matplotlib
    matplotlib.use("Agg")
    opts = RunOptions(args.chains, args.iter_warmup, args.iter_sampling, args.seed,
                      True).checked()
    cli.check_output(args.output_dir / "benchmark.html")
    cmdstan.ensure_cmdstan()
    if args.cold_waits:
        tables = {"cold waits": cold_waits(args.examples)}
        print(tables["cold waits"].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        write(tables, args, args.output_dir, "cold-waits")
        return 0
    if args.rebuilds:
        tables = {"rebuilds": rebuilds(args.examples, opts)}
        print(tables["rebuilds"].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        write(tables, args, args.output_dir, "rebuilds")
        return 0
    if args.scale:
        tables = {"formula path at scale": pd.DataFrame(bench_formula_scale(
                      opts, args.threads, max(args.sizes))),
                  "formula path on the notes' data": pd.DataFrame(
                      bench_formula_overhead(opts))}
        with pd.option_context("display.width", 250, "display.max_columns", 20,
                               "display.max_colwidth", 60):
            for title, frame in tables.items():
                print(f"\n{title}\n{frame.to_string(index=False, float_format=lambda v: f'{v:.2f}')}")
        write(tables, args, args.output_dir, "scale")
        return 0
    with tempfile.TemporaryDirectory() as cache:
        if not args.warm_cache:
            os.environ["PYSTAN_MODELS_CACHE"] = cache
        with tempfile.TemporaryDirectory() as scratch:
            rows, warm = bench_examples(args.examples, opts, Path(scratch))
        scale_opts = (opts if not args.scaling_iter else
                      RunOptions(args.chains, *args.scaling_iter, args.seed, True))
        scaling = bench_scaling(args.sizes, scale_opts, args.threads) if args.sizes else []
    ratios = speedups(rows + scaling)
    tables = {"programs": pd.DataFrame(rows), "warm reruns": pd.DataFrame(warm),
              "scaling": pd.DataFrame(scaling), "speed-ups": ratios,
              "numba compile": pd.DataFrame(numba_compile())}
    if args.calibration:
        tables["calibration"] = bench_calibration(args.calibration)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        for title, frame in tables.items():
            print(f"\n{title}\n{frame.to_string(index=False, float_format=lambda v: f'{v:.2f}')}")
    write(tables, args, args.output_dir)
    failed = [r["example"] for r in rows if str(r.get("program", "")).startswith("ERROR")]
    if failed:
        print(f"error: {', '.join(failed)} failed (see above)", file=sys.stderr)
    return 1 if failed else 0


def write(tables: dict[str, pd.DataFrame], args, out_dir: Path, stem: str = "benchmark"
          ) -> None:
    rep = report.Report("Benchmark of the collection")
    rep.answer = (f"Seed {args.seed}, {args.chains} chains x ({args.iter_warmup} warmup + "
                  f"{args.iter_sampling} draws), {os.cpu_count()} cores, CmdStan "
                  f"{cmdstan.version_of(cmdstan.find_cmdstan())}. ESS/s is the minimum bulk "
                  "ESS over each model's main parameters divided by sampling wall time. "
                  "ms per 1000 steps is sampling wall time per thousand leapfrog steps "
                  "(all chains): the cost of a gradient, which is what grows with N; how "
                  "many steps a draw takes depends on the posterior's geometry.")
    for title, frame in tables.items():
        rep.section(title.capitalize(), report.table(frame, 2, index=False))
    rep.write(out_dir / f"{stem}.html")
    payload = {k: v.to_dict(orient="records") for k, v in tables.items()}
    report.write_atomic(out_dir / f"{stem}.json", json.dumps(
        {"seed": args.seed, "chains": args.chains, "iter_warmup": args.iter_warmup,
         "iter_sampling": args.iter_sampling, **payload}, indent=1, default=float))
    print(f"\nwritten {out_dir / f'{stem}.html'} and {out_dir / f'{stem}.json'}")


if __name__ == "__main__":
    sys.exit(main())
