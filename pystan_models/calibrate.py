"""Simulation-based calibration (Talts et al. 2018) on Dask distributed.

    python -m pystan_models.calibrate counts_hurdle --replications 1000      # LocalCluster
    python -m pystan_models.calibrate --all --replications 1000 --scheduler tcp://head:8786
    python -m pystan_models.calibrate --all --replications 50 --workers 2    # quick, here

For a program with a proper prior: draw the parameters from the prior, simulate a
data set of the example's shape, fit, and record the rank of each true value
among L thinned posterior draws.  If the program (and the sampler) are right, each
rank is uniform on 0..L; a rank histogram that is U-shaped, peaked or skewed shows
a bias in the posterior.

One replication is one Dask task.  It derives its parameters, simulated data and
sampler seed from (program, seed, replication index) alone, so its result does not
depend on which worker ran it or when, and it writes nothing: the client records
each result in a JSON-lines file as it arrives, so an interrupted run resumes where
it stopped.  A task whose worker dies is retried elsewhere by Dask; a replication
whose fit fails (a CmdStan error, a time-out) is recorded as failed with its
reason, counted in the report, and never retried or recorded twice.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm

from . import cli, cmdstan, programs, report
from .errors import PystanModelsError

# Simulator: rng -> (true parameter values {name: float}, data for the program)
Simulator = Callable[[np.random.Generator], tuple[dict, dict]]
# Sampler (for the Gibbs samplers): (data, seed, warmup, iterations) ->
# {parameter name: draws after warmup}
Sampler = Callable[[dict, int, int, int], dict]


@dataclass(frozen=True)
class Target:
    program: str            # Stan program, or the Gibbs sampler's name
    params: list[str]       # scalar parameter names as cmdstanpy names them
    simulate: Simulator
    note: str = ""
    sampler: Sampler | None = None   # None: NUTS on the Stan program


@dataclass(frozen=True)
class Settings:
    """What every replication of one calibration shares (the results file's header)."""
    program: str
    seed: int = 1
    draws: int = 99         # L: thinned posterior draws a true value is ranked among
    thin: int = 3
    warmup: int = 500
    timeout: float | None = None   # seconds per fit; None: no limit

    def header(self) -> dict:
        return {"program": self.program, "seed": self.seed, "draws": self.draws,
                "thin": self.thin, "warmup": self.warmup}


def targets() -> dict[str, Target]:
    """Every calibratable program in the collection (imported lazily)."""
    from .calibration_targets import TARGETS
    return TARGETS


def stream(settings: Settings, i: int) -> np.random.Generator:
    """The replication's random stream: (program, seed, index) and nothing else."""
    return np.random.default_rng([zlib.crc32(settings.program.encode()), settings.seed, i])


def replicate(target: Target, settings: Settings, i: int, exe: str | None = None,
              fields: tuple[str, ...] | None = None) -> dict:
    """One replication, as a task: simulate, fit, rank.  A failed fit is a record
    with its reason, not an exception (Dask would retry it; it would fail again).
    ``exe``: the compiled program, when the client compiled it for local workers;
    otherwise the worker compiles it through its own (hash-keyed) cache.  ``fields``:
    the program's prediction fields, read by the client (a worker may not see the
    client's program files), left empty."""
    rng = stream(settings, i)
    truth, data = target.simulate(rng)
    fit_seed = int(rng.integers(0, 2**31 - 1))
    iterations = settings.draws * settings.thin
    try:
        if target.sampler is not None:
            chains = target.sampler(data, fit_seed, settings.warmup, iterations)
            draws = {k: np.asarray(v)[::settings.thin] for k, v in chains.items()}
            divergent = 0
        else:
            draws, divergent = _nuts(target, settings,
                                     programs.with_no_predictions(target.program, data,
                                                                  fields),
                                     fit_seed, exe)
    except Exception as exc:   # CmdStan's error, a time-out: the replication failed
        return {"replication": i, "failed": f"{type(exc).__name__}: {exc}"[:500]}
    ranks = {name: int((np.asarray(draws[name]) < truth[name]).sum())
             for name in target.params}
    return {"replication": i, "ranks": ranks, "divergent": divergent}


def _nuts(target: Target, settings: Settings, data: dict, seed: int, exe: str | None):
    import cmdstanpy
    if exe is None:
        model = programs.load(target.program, quiet=True)
    else:
        model = cmdstanpy.CmdStanModel(exe_file=exe)
    with programs.cmdstanpy_log_level(logging.CRITICAL):   # a worker's log stays quiet
        fit = model.sample(data=data, chains=1, iter_warmup=settings.warmup,
                           iter_sampling=settings.draws * settings.thin,
                           thin=settings.thin, seed=seed, show_progress=False,
                           timeout=settings.timeout)
    frame = fit.draws_pd(vars=sorted({n.split("[")[0] for n in target.params}))
    divergent = int(fit.method_variables()["divergent__"].sum())
    return {name: frame[name].to_numpy() for name in target.params}, divergent


def client_for(scheduler: str | None = None, workers: int | None = None):
    """A Dask client: on an existing cluster (``scheduler``: its address), or on a
    LocalCluster here with one single-threaded worker process per core."""
    from dask.distributed import Client, LocalCluster
    if scheduler:
        return Client(scheduler)
    cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                           processes=True, dashboard_address=":0")
    return Client(cluster)


def say_dashboard(client) -> None:
    try:
        link = client.dashboard_link
    except Exception:   # no dashboard (bokeh is not installed)
        return
    if link:
        print(f"Dask dashboard: {link}", file=sys.stderr)


def _is_local(client) -> bool:
    from dask.distributed import LocalCluster
    return isinstance(getattr(client, "cluster", None), LocalCluster)


def run(jobs: list[tuple[Target, Settings, int]], client, record: Callable[[str, dict], None],
        progress: bool = True, compile_here: bool | None = None) -> None:
    """Submit one task per (target, settings, replication) and hand every result to
    ``record(program, result)`` as it finishes, in the client, once each.

    ``compile_here``: compile each program in the client and hand local workers the
    executable (default: when the cluster is a LocalCluster); otherwise every
    worker compiles through its own compile cache (a cluster's machines, or many
    workers sharing one cache folder: the cache's atomic rename makes that safe)."""
    from dask.distributed import as_completed
    if compile_here is None:
        compile_here = _is_local(client)
    exes: dict[str, str | None] = {}
    fields: dict[str, tuple[str, ...]] = {}
    for target, _, _ in jobs:
        if target.program not in exes:
            exes[target.program] = (programs.load(target.program, quiet=True).exe_file
                                    if target.sampler is None and compile_here else None)
            fields[target.program] = (programs.prediction_fields(target.program)
                                      if target.sampler is None else ())
    futures = {}
    for target, settings, i in jobs:
        future = client.submit(replicate, target, settings, i, exes[target.program],
                               fields[target.program], key=f"sbc-{target.program}-{settings.seed}-{i}", pure=False)
        futures[future] = (target.program, i)
    bar = tqdm(total=len(futures), disable=not progress, unit="fit", desc="SBC")
    for future in as_completed(futures):
        program, i = futures[future]
        if future.status == "error":   # the worker died too often, or a bug
            exc = future.exception()
            result = {"replication": i, "failed": f"{type(exc).__name__}: {exc}"[:500]}
        else:
            result = future.result()
        record(program, result)
        future.release()
        bar.update()
    bar.close()


class ResultsFile:
    """A calibration's JSON-lines file: a header, then one record per replication.
    Only the client writes it; a record already there is never written again."""

    def __init__(self, path: Path, settings: Settings):
        self.path = Path(path)
        done = read_results(self.path)
        header = settings.header()
        if done and done[0] != header:
            raise PystanModelsError(f"{path}: written with other settings {done[0]}; "
                                    "remove it or use the same settings to resume")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not done:
            report.write_atomic(self.path, json.dumps(header) + "\n")
        self.done = {r["replication"] for r in done[1:]}

    def add(self, result: dict) -> None:
        if result["replication"] in self.done:
            return
        with open(self.path, "a") as out:
            out.write(json.dumps(result) + "\n")
            out.flush()
            os.fsync(out.fileno())
        self.done.add(result["replication"])


def ranks_of(path: Path, replications: int, draws: int) -> pd.DataFrame:
    """The recorded ranks (one row per successful replication); attrs carry the
    draws L, the divergences and the failed replications with their reasons."""
    rows = [r for r in read_results(path)[1:] if r["replication"] < replications]
    ok = [r for r in rows if "ranks" in r]
    ranks = pd.DataFrame([r["ranks"] for r in ok])
    ranks.attrs.update(draws=draws, divergent=sum(r["divergent"] for r in ok),
                       failed={r["replication"]: r["failed"] for r in rows
                               if "failed" in r})
    return ranks


def calibrate(target: Target, replications: int, results: Path, *, seed: int = 1,
              workers: int = 2, draws: int = 99, thin: int = 3, warmup: int = 500,
              progress: bool = True, client=None, timeout: float | None = None
              ) -> pd.DataFrame:
    """Run (or resume) the replications not yet in ``results``; return all ranks.
    Without ``client``, a LocalCluster of ``workers`` processes is started and
    stopped."""
    return calibrate_many([target], replications, {target.program: results}, seed=seed,
                          workers=workers, draws=draws, thin=thin, warmup=warmup,
                          progress=progress, client=client, timeout=timeout
                          )[target.program]


def calibrate_many(chosen: list[Target], replications: int, results: dict[str, Path], *,
                   seed: int = 1, workers: int = 2, draws: int = 99, thin: int = 3,
                   warmup: int = 500, progress: bool = True, client=None,
                   timeout: float | None = None) -> dict[str, pd.DataFrame]:
    """Every target's missing replications as one pool of tasks (so workers stay
    busy across programs); each target's ranks."""
    files, jobs = {}, []
    for t in chosen:
        settings = Settings(t.program, seed, draws, thin, warmup, timeout)
        files[t.program] = ResultsFile(results[t.program], settings)
        jobs += [(t, settings, i) for i in range(replications)
                 if i not in files[t.program].done]
    if jobs:
        own = client is None
        client = client or client_for(None, workers)
        try:
            if progress:
                say_dashboard(client)
            run(jobs, client, lambda program, r: files[program].add(r), progress)
        finally:
            if own:
                client.close()
                if client.cluster is not None:
                    client.cluster.close()
    return {t.program: ranks_of(results[t.program], replications, draws) for t in chosen}


def read_results(path: Path) -> list[dict]:
    """The header and the replications recorded so far.  A last line cut short (the
    run was killed while writing it) is dropped from the file, to be redone; a
    damaged line elsewhere is an error naming it."""
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines):
                raise PystanModelsError(f"{path}, line {number}: not a results record; "
                                        "remove the file to start again") from None
            kept = "".join(f"{x}\n" for x in lines[:number - 1])
            report.write_atomic(path, kept)   # the cut-off replication is redone
    return records


def bins_for(n: int, draws: int) -> int:
    """Histogram bins dividing the L + 1 possible ranks, about 10 ranks per bin."""
    candidates = [b for b in (20, 10, 5, 4, 2) if (draws + 1) % b == 0 and n / b >= 5]
    return candidates[0] if candidates else 1


def uniformity(ranks: pd.DataFrame, alpha: float = 0.01) -> tuple[pd.DataFrame, str]:
    """Chi-square test of uniform ranks per parameter, and a verdict.

    The verdict fails a parameter whose p-value is below ``alpha`` divided by the
    number of parameters (Bonferroni), so a calibrated program with many
    parameters is not failed by chance.
    """
    draws = ranks.attrs["draws"]
    bins = bins_for(len(ranks), draws)
    if bins < 2:
        return (pd.DataFrame(columns=["chi-square", "df", "p-value"]),
                f"undecided: {len(ranks)} replications are too few to test uniformity "
                "(at least 10 are needed)")
    rows = []
    for name in ranks.columns:
        counts = np.bincount(ranks[name].to_numpy() * bins // (draws + 1), minlength=bins)
        chi2, p = stats.chisquare(counts)
        rows.append({"parameter": name, "chi-square": chi2, "df": bins - 1, "p-value": p})
    table = pd.DataFrame(rows).set_index("parameter")
    bad = table.index[table["p-value"] < alpha / len(table)].tolist()
    verdict = ("calibrated: no rank histogram departs from uniform" if not bad else
               f"NOT calibrated: ranks of {', '.join(bad)} are not uniform")
    return table, verdict


def histograms(ranks: pd.DataFrame, title: str):
    draws = ranks.attrs["draws"]
    bins = bins_for(len(ranks), draws)
    n = len(ranks)
    cols = min(4, len(ranks.columns))
    rows = -(-len(ranks.columns) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    lo, hi = stats.binom.ppf([0.005, 0.995], n, 1 / bins)
    for ax, name in zip(axes.flat, ranks.columns):
        ax.axhspan(lo, hi, color="0.85", label="99% band if uniform")
        ax.hist(ranks[name], bins=np.linspace(0, draws + 1, bins + 1), color="C0",
                edgecolor="white")
        ax.axhline(n / bins, color="0.4", lw=1)
        ax.set(title=name, xlabel=f"rank of true value (0..{draws})", ylabel="replications")
    for ax in list(axes.flat)[len(ranks.columns):]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def write_report(name: str, target: Target, ranks: pd.DataFrame, path: Path) -> str:
    table, verdict = uniformity(ranks)
    failed = ranks.attrs.get("failed", {})
    rep = report.Report(f"Simulation-based calibration: {target.program}")
    rep.problems_title = "Calibration failed"
    rep.answer = (f"{len(ranks)} replications ranked, {len(failed)} failed; {verdict}. "
                  f"{ranks.attrs['divergent']} divergent transitions in all fits.")
    if not verdict.startswith("calibrated"):
        rep.problems.append(verdict)
    if failed:
        rep.problems.append(f"{len(failed)} replication(s) failed (listed below)")
    rep.section("Rank histograms", report.figure(
        histograms(ranks, f"SBC ranks: {target.program}"), "rank histograms")
        if len(ranks) else report.para("No replication was ranked."),
        report.para("Each histogram should be flat, inside the grey band (the 99% range "
                    "of a bin count when ranks are uniform). A U shape means the posterior "
                    "is too narrow; a hump, too wide; a slope, biased.", "note"))
    rep.section("Uniformity tests", report.table(table, {"chi-square": 1, "p-value": 4}),
                report.para("Chi-square test of equal bin counts per parameter; the verdict "
                            "fails a parameter with p < 0.01 / (number of parameters)."))
    if failed:
        rep.section("Failed replications", report.table(pd.DataFrame(
            {"replication": list(failed), "reason": list(failed.values())}), index=False))
    sampler = ("NUTS (CmdStan), one chain" if target.sampler is None
               else "the Gibbs sampler (numba), one chain")
    settings = report.para(f"{target.note} Each replication: {sampler}, thinned draws "
                           f"L = {ranks.attrs['draws']}.")
    if target.sampler is None:
        rep.section("Settings", report.para(f"Program stan/{target.program}.stan."),
                    settings, report.code(programs.stan_file(target.program).read_text()))
    else:
        rep.section("Settings", settings)
    rep.write(path)
    return verdict


def write_index(rows: list[dict], path: Path) -> None:
    """reports/calibration.html: one row per program, linking its own report."""
    rep = report.Report("Simulation-based calibration of the collection")
    rep.problems_title = "Calibration failed"
    frame = pd.DataFrame(rows)
    passed = int(frame.verdict.str.startswith("calibrated").sum())
    rep.answer = (f"{len(frame)} programs: {passed} calibrated, "
                  f"{int(frame.verdict.str.startswith('NOT').sum())} not calibrated, "
                  f"{int(frame.verdict.str.startswith('undecided').sum())} undecided; "
                  f"{int(frame.failed.sum())} replications failed in all.")
    rep.problems = [f"{r['program']}: {r['verdict']}" for r in rows
                    if not r["verdict"].startswith("calibrated")]
    frame["program"] = [f'<a href="{os.path.relpath(r["report"], path.parent)}">'
                        f'{r["program"]}</a>' for r in rows]
    rep.section("Programs", report.table(frame.drop(columns="report"),
                                         {"min p-value": 4}, index=False, escape=False),
                report.para("uniformity: each parameter's chi-square statistic (df) of its "
                            "rank histogram; min p-value: the smallest over its "
                            "parameters.", "note"))
    rep.write(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pystan_models.calibrate",
                                description="Simulation-based calibration on Dask.")
    p.add_argument("model", help="program to calibrate (see --list)", nargs="?")
    p.add_argument("--all", action="store_true", help="every calibratable program")
    p.add_argument("--list", action="store_true", help="list calibratable programs")
    p.add_argument("--replications", type=int, default=200)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                   help="local worker processes (default: one per core)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. "
                   "tcp://head:8786 (default: a LocalCluster on this machine)")
    p.add_argument("--task-timeout", type=float, help="seconds one fit may take before "
                   "its replication is recorded as failed")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--output", type=Path, help="report (default reports/calibration-MODEL"
                   ".html; with --all, reports/calibration.html)")
    p.add_argument("--results", type=Path, help="resumable results file (JSON lines; "
                   "with --all, a folder)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    all_targets = targets()
    if args.list or not (args.model or args.all):
        for name, t in all_targets.items():
            print(f"  {name:<34} {', '.join(t.params)}")
        return 0

    def work() -> int:
        import matplotlib
        matplotlib.use("Agg")
        if args.all and args.model:
            raise PystanModelsError("give one program or --all, not both")
        if not args.all and args.model not in all_targets:
            raise PystanModelsError(f"{args.model}: not calibratable; choose one of "
                                    f"{', '.join(all_targets)}")
        if args.replications < 1 or args.workers < 1:
            raise PystanModelsError("--replications and --workers must be at least 1")
        if args.task_timeout is not None and args.task_timeout <= 0:
            raise PystanModelsError("--task-timeout must be positive")
        chosen = list(all_targets.values()) if args.all else [all_targets[args.model]]
        base = report.REPORTS_DIR
        out = args.output or base / ("calibration.html" if args.all
                                     else f"calibration-{args.model}.html")
        cli.check_output(out)
        if args.all:
            folder = args.results or base / "calibration"
            results = {t.program: folder / f"{t.program}.jsonl" for t in chosen}
        else:
            results = {chosen[0].program: args.results
                       or base / "calibration" / f"{args.model}.jsonl"}
        cmdstan.ensure_cmdstan(quiet=args.quiet)
        client = client_for(args.scheduler, args.workers)
        try:
            ranks = calibrate_many(chosen, args.replications, results, seed=args.seed,
                                   progress=not args.quiet, client=client,
                                   timeout=args.task_timeout)
        finally:
            client.close()
            if client.cluster is not None:
                client.cluster.close()
        rows = []
        for t in chosen:
            path = out if not args.all else out.parent / f"calibration-{t.program}.html"
            verdict = write_report(t.program, t, ranks[t.program], path)
            table, _ = uniformity(ranks[t.program])
            print(f"{t.program}: {verdict}")
            rows.append({"program": t.program, "replications": len(ranks[t.program]),
                         "failed": len(ranks[t.program].attrs["failed"]),
                         "uniformity": "; ".join(
                             f"{k} {r['chi-square']:.1f} ({r['df']})"
                             for k, r in table.iterrows()),
                         "min p-value": table["p-value"].min() if len(table) else np.nan,
                         "verdict": verdict, "report": path})
        if args.all:
            write_index(rows, out)
        print(f"report written to {out}")
        return 0 if all(r["verdict"].startswith("calibrated") for r in rows) else 1
    return cli.guarded(work)


if __name__ == "__main__":
    sys.exit(main())


def throughput(target: Target, replications: int, workers: int, **settings) -> dict:
    """Replications per minute of ``target`` on a fresh LocalCluster of ``workers``
    (the benchmark's calibration rows; the cluster's start-up is not counted)."""
    import tempfile
    client = client_for(None, workers)
    try:
        client.submit(int, 0).result()          # workers up before the clock starts
        programs.load(target.program, quiet=True) if target.sampler is None else None
        with tempfile.TemporaryDirectory() as tmp:
            start = time.monotonic()
            calibrate(target, replications, Path(tmp) / "r.jsonl", client=client,
                      progress=False, **settings)
            seconds = time.monotonic() - start
    finally:
        client.close()
        client.cluster.close()
    return {"program": target.program, "workers": workers, "replications": replications,
            "seconds": seconds, "replications / min": 60 * replications / seconds}
