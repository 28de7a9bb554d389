"""What every example shares: its command line, CmdStan set-up, provenance, errors."""
from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path
from typing import Callable

from . import cmdstan, report
from .errors import PystanModelsError
from .fitting import Fit, RunOptions

# What the last `run` produced, for `python -m pystan_models all` (which runs the
# examples in one process and tabulates them).
last_report: report.Report | None = None


def parser(name: str, description: str, defaults: RunOptions = RunOptions()
           ) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m pystan_models.{name}",
                                description=description)
    p.add_argument("--chains", type=int, default=defaults.chains)
    p.add_argument("--iter-warmup", type=int, default=defaults.iter_warmup)
    p.add_argument("--iter-sampling", type=int, default=defaults.iter_sampling)
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--output", type=Path, default=report.REPORTS_DIR / f"{name}.html",
                   help="where to write the HTML report (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p


def options(args: argparse.Namespace) -> RunOptions:
    for name in ("chains", "iter_warmup", "iter_sampling"):
        if getattr(args, name) < 1:
            raise PystanModelsError(f"--{name.replace('_', '-')} must be at least 1")
    return RunOptions(args.chains, args.iter_warmup, args.iter_sampling, args.seed, args.quiet)


def provenance(fits: list[Fit], opts: RunOptions, extra: str = "") -> str:
    """The section that says exactly how the report was made.  Fits without a Stan
    program (a numpy Gibbs sampler) are described by the example in ``extra``."""
    fits = [f for f in fits if getattr(f, "stan_path", None)]
    rows = "".join(
        f"<tr><td>{report.esc(f.program)}</td><td>{report.esc(f.stan_path)}</td>"
        f"<td>{f.seconds:.1f}</td></tr>" for f in fits)
    sources = "".join(
        f"<details><summary>{report.esc(Path(f.stan_path).name)}</summary>"
        f"{report.code(Path(f.stan_path).read_text())}</details>"
        for f in {f.stan_path: f for f in fits}.values())
    home = cmdstan.find_cmdstan()
    version = cmdstan.version_of(home) if home else "unknown"
    return (f"<p>CmdStan {report.esc(version)}; seed {opts.seed}; {opts.chains} chains x "
            f"({opts.iter_warmup} warmup + {opts.iter_sampling} draws); run on "
            f"{datetime.date.today().isoformat()}. {report.esc(extra)}</p>"
            f"<table><tr><th>program</th><th>file</th><th>sampling time (s)</th></tr>"
            f"{rows}</table>{sources}")


def run(name: str, description: str, analyse: Callable[[argparse.Namespace, RunOptions],
        report.Report], argv: list[str] | None = None,
        extend: Callable[[argparse.ArgumentParser], None] | None = None,
        defaults: RunOptions = RunOptions()) -> int:
    """Parse options, analyse (which finds or installs CmdStan when it first compiles),
    write the report.

    Errors a user can act on are printed as one message (exit status 2); the report
    file is only ever replaced by a complete new one.
    """
    global last_report
    last_report = None
    p = parser(name, description, defaults)
    if extend:
        extend(p)
    args = p.parse_args(argv)
    start = time.monotonic()
    try:  # CmdStan is found (or installed) at the first compile, after input checks
        opts = options(args)
        rep = analyse(args, opts)
        path = rep.write(args.output)
    except PystanModelsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    last_report = rep
    for problem in rep.problems:
        print(f"diagnostics: {problem}", file=sys.stderr)
    print(f"report written to {path} ({time.monotonic() - start:.0f} s)")
    return 0
