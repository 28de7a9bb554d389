"""``python -m pystan_models all``: every example in turn, then ``reports/index.html``.

A failing example is recorded in its row and does not stop the others; the exit
status is 0 only when every example ran and every sampler diagnostic passed.
"""
from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import EXAMPLES, programs, report
from .cli import check_output
from .fitting import RunOptions, run_options
from .errors import PystanModelsError

# a smoke check: short chains, which are expected to miss the ESS thresholds
QUICK = {"chains": 4, "iter_warmup": 300, "iter_sampling": 300, "quick": True}


@dataclass
class Row:
    name: str
    title: str
    models: str
    status: str       # "passed", "diagnostics failed", "error" (failures on purpose,
                      # in report.expected, do not count)
    detail: str
    seconds: float
    report: Path | None


def run_one(name: str, out_dir: Path, run: dict) -> Row:
    """Analyse one example with the run options ``run`` and write its report."""
    path = out_dir / f"{name}.html"
    start = time.monotonic()
    title, models, detail = EXAMPLES[name], "", ""
    try:
        module = importlib.import_module(f"pystan_models.{name}")
        results = module.analyse(**run)
        results.write_report(path)
        title = results.title
        models = ", ".join(sorted({f.program for f in results.fits.values()}))
        status = "diagnostics failed" if results.problems else "passed"
        detail = "; ".join(results.problems)
        if results.expected:
            detail += (" " if detail else "") + (
                f"({len(results.expected)} diagnostics of the deliberately failing fits "
                "fail, as they should)")
    except PystanModelsError as exc:
        print(f"error ({name}): {exc}", file=sys.stderr)
        status, detail = "error", str(exc)
    except Exception as exc:  # one example's bug must not stop the others
        traceback.print_exc()
        status, detail = "error", f"{type(exc).__name__}: {exc}"
    return Row(name, title, models, status, detail, time.monotonic() - start,
               path if status != "error" else None)


def index(rows: list[Row], out_dir: Path) -> report.Report:
    rep = report.Report("pystan_models: the whole collection")
    passed = sum(r.status == "passed" for r in rows)
    rep.answer = (f"{len(rows)} examples ran: {passed} with every sampler diagnostic "
                  f"passed, {sum(r.status == 'diagnostics failed' for r in rows)} with "
                  f"failed diagnostics, "
                  f"{sum(r.status == 'error' for r in rows)} with errors; "
                  f"{sum(r.seconds for r in rows):.0f} s in all.")
    rep.problems = [f"{r.name} ({r.status}): {r.detail}" for r in rows
                    if r.status != "passed"]
    link = (lambda r: f'<a href="{os.path.relpath(r.report, out_dir)}">{r.name}</a>'
            if r.report else r.name)
    frame = pd.DataFrame({
        "example": [link(r) for r in rows], "title": [r.title for r in rows],
        "models": [r.models for r in rows], "status": [r.status for r in rows],
        "details": [r.detail for r in rows], "wall time (s)": [r.seconds for r in rows]})
    rep.section("Examples", report.table(frame, 1, index=False, escape=False))
    return rep


def run_all(names: list[str], out_dir: Path, quick: bool, seed: int | None) -> int:
    """Every example in ``names``; exit status 0 only when each ran and passed its
    diagnostics (under ``quick`` the ESS shortfalls of short chains are noted, not
    counted; divergences, R-hat and non-finite draws still fail)."""
    run = {"quiet": True, **(QUICK if quick else {}),
           **({"seed": seed} if seed is not None else {})}
    run_options(RunOptions(), run)      # a bad seed is one error, not eight
    check_output(Path(out_dir) / "index.html")
    if quick:
        print("quick run: short chains are expected to miss the ESS thresholds; those "
              "shortfalls are noted in the reports, not counted as failures",
              file=sys.stderr)
    # every example's missing programs at once, a core each, before the first example
    needed = [p for name in names if name in EXAMPLES
              for p in getattr(importlib.import_module(f"pystan_models.{name}"),
                               "PROGRAMS", ())]
    try:
        programs.compile_all(needed, quiet=False)
    except PystanModelsError as exc:   # that example's row will say so
        print(f"error: {exc}", file=sys.stderr)
    rows = []
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        rows.append(run_one(name, out_dir, run))
        print(f"   {rows[-1].status} ({rows[-1].seconds:.0f} s)", file=sys.stderr, flush=True)
    path = index(rows, out_dir).write(out_dir / "index.html")
    print(f"index written to {path}")
    return 0 if all(r.status == "passed" for r in rows) else 1
