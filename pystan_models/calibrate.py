"""Simulation-based calibration (Talts et al. 2018): ``python -m pystan_models.calibrate MODEL``.

For a program with a proper prior: draw the parameters from the prior, simulate a
data set of the example's shape, fit, and record the rank of each true value
among L thinned posterior draws.  If the program (and the sampler) are right, each
rank is uniform on 0..L; a rank histogram that is U-shaped, peaked or skewed shows
a bias in the posterior.

Replications run in parallel processes (one chain each), results are appended to a
JSON-lines file as they finish, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cmdstanpy
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm

from . import cli, cmdstan, programs, report
from .errors import PystanModelsError

# Simulator: rng -> (true parameter values {name: float}, Stan data dict)
Simulator = Callable[[np.random.Generator], tuple[dict, dict]]


@dataclass(frozen=True)
class Target:
    program: str
    params: list[str]       # scalar parameter names as cmdstanpy names them
    simulate: Simulator
    note: str = ""


def targets() -> dict[str, Target]:
    """Every calibratable program in the collection (imported lazily)."""
    from .calibration_targets import TARGETS
    return TARGETS


def _replicate(target: Target, exe: str, i: int, seed: int, draws: int, thin: int,
               warmup: int) -> dict:
    rng = np.random.default_rng([seed, i])
    truth, data = target.simulate(rng)
    model = cmdstanpy.CmdStanModel(exe_file=exe)
    fit = model.sample(data=data, chains=1, iter_warmup=warmup, iter_sampling=draws * thin,
                       thin=thin, seed=seed + i, show_progress=False)
    ranks = {}
    for name in target.params:
        sample = fit.draws_pd(vars=[name.split("[")[0]])[name].to_numpy()
        ranks[name] = int((sample < truth[name]).sum())
    divergent = int(fit.method_variables()["divergent__"].sum())
    return {"replication": i, "ranks": ranks, "divergent": divergent}


def calibrate(target: Target, replications: int, results: Path, *, seed: int = 1,
              workers: int = 2, draws: int = 99, thin: int = 3, warmup: int = 500,
              progress: bool = True) -> pd.DataFrame:
    """Run (or resume) the replications not yet in ``results``; return all ranks."""
    exe = programs.load(target.program, quiet=not progress).exe_file  # compiled once
    done = read_results(results)
    header = {"program": target.program, "seed": seed, "draws": draws, "thin": thin,
              "warmup": warmup}
    if done and done[0] != header:
        raise PystanModelsError(f"{results}: written with other settings {done[0]}; "
                                "remove it or use the same settings to resume")
    finished = {r["replication"] for r in done[1:]}
    todo = [i for i in range(replications) if i not in finished]
    results.parent.mkdir(parents=True, exist_ok=True)
    with open(results, "a") as out:
        if not done:
            out.write(json.dumps(header) + "\n")
        # spawned, not forked: cmdstanpy reads its CSVs with polars, whose thread pool
        # deadlocks in a child forked from a process that has used it
        with ProcessPoolExecutor(max_workers=workers,
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            jobs = [pool.submit(_replicate, target, exe, i, seed, draws, thin, warmup)
                    for i in todo]
            for job in tqdm(as_completed(jobs), total=len(todo), disable=not progress,
                            desc=f"SBC {target.program}", unit="fit"):
                out.write(json.dumps(job.result()) + "\n")
                out.flush()
    rows = [r for r in read_results(results)[1:] if r["replication"] < replications]
    ranks = pd.DataFrame([r["ranks"] for r in rows])
    ranks.attrs["divergent"] = sum(r["divergent"] for r in rows)
    ranks.attrs["draws"] = draws
    return ranks


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
    rep = report.Report(f"Simulation-based calibration: {target.program}")
    rep.answer = (f"{len(ranks)} replications; {verdict}. "
                  f"{ranks.attrs['divergent']} divergent transitions in all fits.")
    if not verdict.startswith("calibrated"):
        rep.problems.append(verdict)
    rep.section("Rank histograms", report.figure(
        histograms(ranks, f"SBC ranks: {target.program}"), "rank histograms"),
        report.para("Each histogram should be flat, inside the grey band (the 99% range "
                    "of a bin count when ranks are uniform). A U shape means the posterior "
                    "is too narrow; a hump, too wide; a slope, biased.", "note"))
    rep.section("Uniformity tests", report.table(table, {"chi-square": 1, "p-value": 4}),
                report.para("Chi-square test of equal bin counts per parameter; the verdict "
                            "fails a parameter with p < 0.01 / (number of parameters)."))
    rep.section("Settings", report.para(
        f"Program stan/{target.program}.stan. {target.note} Each replication: one chain, "
        f"thinned draws L = {ranks.attrs['draws']}."),
        report.code(programs.stan_file(target.program).read_text()))
    rep.write(path)
    return verdict


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pystan_models.calibrate",
                                description="Simulation-based calibration of one program.")
    p.add_argument("model", help="program to calibrate (see --list)", nargs="?")
    p.add_argument("--list", action="store_true", help="list calibratable programs")
    p.add_argument("--replications", type=int, default=200)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--output", type=Path, help="report (default reports/calibration-MODEL.html)")
    p.add_argument("--results", type=Path, help="resumable results file (JSON lines)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    all_targets = targets()
    if args.list or not args.model:
        for name, t in all_targets.items():
            print(f"  {name:<32} {', '.join(t.params)}")
        return 0
    def work() -> int:
        if args.model not in all_targets:
            raise PystanModelsError(f"{args.model}: not calibratable; choose one of "
                                    f"{', '.join(all_targets)}")
        if args.replications < 1 or args.workers < 1:
            raise PystanModelsError("--replications and --workers must be at least 1")
        cmdstan.ensure_cmdstan(quiet=args.quiet)
        target = all_targets[args.model]
        out = args.output or report.REPORTS_DIR / f"calibration-{args.model}.html"
        results = args.results or report.REPORTS_DIR / "calibration" / f"{args.model}.jsonl"
        ranks = calibrate(target, args.replications, results, seed=args.seed,
                          workers=args.workers, progress=not args.quiet)
        verdict = write_report(args.model, target, ranks, out)
        print(f"{args.model}: {verdict}\nreport written to {out}")
        return 0 if verdict.startswith("calibrated") else 1
    return cli.guarded(work)


if __name__ == "__main__":
    sys.exit(main())
