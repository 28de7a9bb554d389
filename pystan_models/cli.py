"""The command line every example shares: options, checks, one error path.

``python -m pystan_models.<example>`` parses options, checks them and the output
path, calls the example's ``analyse`` and writes its report.  Whatever a user can
get wrong ends in one ``error:`` line and exit status 2, never a traceback; Ctrl-C
and SIGTERM end in one line too (exit 130 / 143), after stopping CmdStan, with
nothing half-written (reports are written atomically; cmdstanpy's temporary
files go with the process).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import os
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from . import report
from .errors import PystanModelsError
from .fitting import RunOptions

RUN_OPTIONS = ("chains", "iter_warmup", "iter_sampling", "seed", "quiet", "quick")
SAVED_RUN_OPTIONS = ("save", "from_dir", "prior_only", "predict")


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C, so temporary files are removed."""


def parser(name: str, description: str, defaults: RunOptions = RunOptions()
           ) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m pystan_models.{name}",
                                description=description)
    p.add_argument("--chains", type=int, default=defaults.chains)
    p.add_argument("--iter-warmup", type=int, default=defaults.iter_warmup)
    p.add_argument("--iter-sampling", type=int, default=defaults.iter_sampling)
    p.add_argument("--seed", type=int, default=defaults.seed,
                   help="0 to 2^32 - 1 (default: %(default)s)")
    p.add_argument("--output", type=Path, default=report.REPORTS_DIR / f"{name}.html",
                   help="where to write the HTML report (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress output "
                   "(failed diagnostics and errors are still printed)")
    p.add_argument("--quick", action="store_true", help="smoke check: short chains "
                   "are expected to miss the ESS thresholds (noted, not failed)")
    p.add_argument("--predict", type=Path, metavar="CSV", help="also predict the "
                   "outcome for each row of CSV (new rows with the model's columns): "
                   "written to <report stem>-predictions.csv and shown in the report")
    saved = p.add_mutually_exclusive_group()
    saved.add_argument("--prior-only", action="store_true", help="run the prior "
                       "predictive check alone (every fit with a proper prior run with "
                       "prior_only = 1; no posterior sampled) and write a short report")
    saved.add_argument("--save", type=Path, metavar="DIR", help="also save every fit "
                       "(DIR/<fit>.nc), DIR/summary.csv and DIR/run.json")
    saved.add_argument("--from", dest="from_dir", type=Path, metavar="DIR",
                       help="rebuild the report from a run saved with --save, without "
                       "sampling (its options are the saved run's)")
    return p


def add_formula_options(p: argparse.ArgumentParser, *, exposure: bool = False) -> None:
    """The options every example takes to fit a user's own data with a formula
    (passed to ``analyse`` as ``formula``, ``dropna``, ``prior_scale``, ``exposure``)."""
    p.add_argument("--formula", help="lme4/brms-style formula for your --data, e.g. "
                   "\"y ~ x + C(group)\" or \"y ~ x + (1 | g)\" (default: the notes' model)")
    p.add_argument("--dropna", action="store_true",
                   help="drop rows with blank cells in the formula's columns (the report "
                   "says how many) instead of stopping at them")
    p.add_argument("--prior-scale", type=float, default=1.0,
                   help="multiply the default prior scales for your data (default: 1)")
    if exposure:
        p.add_argument("--exposure", help="column of exposure times (> 0): an offset "
                       "log(exposure) in the count model")


def options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(**{k: getattr(args, k) for k in RUN_OPTIONS if hasattr(args, k)}
                      ).checked()


def check_output(path: Path | str, inputs=()) -> Path:
    """Refuse, before any sampling, an output that is an input file, a directory,
    or in a folder that cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise PystanModelsError(f"--output {path} is a directory; give a file name, "
                                f"e.g. {path / 'report.html'}")
    for given in inputs:
        if path.exists() and Path(given).exists() and os.path.samefile(path, given):
            raise PystanModelsError(f"--output {path} is an input file; refusing to "
                                    "overwrite it (choose another report name)")
    folder = path.resolve().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise PystanModelsError(f"--output {path}: cannot write in {folder} "
                                "(permission denied)")
    return path


def rebuilt(p: argparse.ArgumentParser, args: argparse.Namespace, name: str,
            new=None):
    """``--from DIR``: the saved run's Results (with the predictions of ``new``, on
    its saved draws); only --output, --quiet and --predict may be given beside it
    (the rest are the saved run's)."""
    from . import runs
    given = [f"--{k.replace('_', '-')}" for k, v in vars(args).items()
             if k not in ("from_dir", "output", "quiet", "predict")
             and v != p.get_default(k)]
    if given:
        raise PystanModelsError(f"--from {args.from_dir} rebuilds the saved run with its "
                                f"own options; {', '.join(given)} cannot be given with it "
                                "(only --output, --quiet and --predict)")
    example = runs.read_run(args.from_dir)["example"]
    if example != name:
        raise PystanModelsError(f"{args.from_dir} is a saved run of {example}, not "
                                f"{name}: python -m pystan_models.{example} --from "
                                f"{args.from_dir}")
    check_output(args.output, [args.from_dir])
    return runs.load_run(args.from_dir, quiet=args.quiet or None, predict=new)


def prior_only(module, given: dict, opts: RunOptions):
    """``--prior-only``: the example's analysis in a session that samples only
    prior-only fits (:class:`pystan_models.priors.PriorOnly`)."""
    from . import fitting, priors
    session = priors.PriorOnly(opts)
    with fitting.session(session):
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")   # the placeholders' constant draws
                analysed = module.analyse(**given, **dataclasses.asdict(opts))
        except Exception:
            if not session.calls:    # bad data or options: before any fit
                raise
            analysed = None          # the analysis failed on the placeholders' draws
        return session.results(module, analysed)


def _children() -> list[int]:
    """Our child processes (CmdStan chains, compilers), from /proc (Linux)."""
    me, kids = os.getpid(), []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1]
                    state, ppid = fields.split()[:2]
                    if int(ppid) == me and state != "Z":   # a zombie is already dead
                        kids.append(int(entry))
    return kids


def _stop_children(wait: float = 0) -> None:
    """cmdstanpy waits for its chains before an exception can leave ``sample``:
    stop them, so an interrupt ends the run now.  ``wait``: seconds to wait for
    them to be gone (cmdstanpy removes its temporary folder at exit, which a chain
    still writing would leave behind)."""
    for pid in _children():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while wait and _children() and time.monotonic() < deadline:
        time.sleep(0.05)


def _on_signal(signum, frame):
    import logging
    logging.getLogger("cmdstanpy").disabled = True   # no "chain 1 error" lines: we stop
    _stop_children()
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def guarded(work: Callable[[], int]) -> int:
    """Run ``work`` with the one error path: a user's error is one line."""
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return work()
    except PystanModelsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _stop_children(wait=10)
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        _stop_children(wait=10)
        print("terminated", file=sys.stderr)
        return 143
    except OSError as exc:
        where = exc.filename or "a file"
        if exc.errno == errno.ENOSPC:
            print(f"error: no space left on {Path(where).parent if exc.filename else where}",
                  file=sys.stderr)
        else:
            print(f"error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:   # a bug: say so in one line unless asked for details
        if os.environ.get("PYSTAN_MODELS_DEBUG"):
            traceback.print_exc()
        print(f"error: unexpected {type(exc).__name__}: {exc} (a bug in pystan_models; "
              "PYSTAN_MODELS_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main(module, description: str, argv: list[str] | None = None,
         extend: Callable[[argparse.ArgumentParser], None] | None = None,
         defaults: RunOptions = RunOptions()) -> int:
    """``python -m pystan_models.<example>``: options, then ``module.analyse``, then
    the report.  Every option ``extend`` adds is passed to ``analyse`` by name."""
    import matplotlib
    matplotlib.use("Agg")   # a command-line run draws to files only
    # run as `python -m pystan_models.beetles`, the module's __name__ is __main__
    name = (module.__spec__.name if module.__spec__ else module.__name__).rsplit(".")[-1]
    p = parser(name, description, defaults)
    if extend:
        extend(p)
    args = p.parse_args(argv)

    def work() -> int:
        from . import runs
        from .data import read_table
        from .predict import choose
        start = time.monotonic()
        new = predictions = None
        if args.predict is not None:
            if args.prior_only:
                raise PystanModelsError("--predict needs a posterior; it cannot be given "
                                        "with --prior-only")
            new = read_table(args.predict)
            predictions = check_output(args.output.with_name(
                f"{args.output.stem}-predictions.csv"), [args.predict])
        if args.from_dir is not None:
            results = rebuilt(p, args, name, args.predict)
        else:
            opts = options(args)
            given = {k: v for k, v in vars(args).items()
                     if k not in (*RUN_OPTIONS, *SAVED_RUN_OPTIONS, "output")}
            inputs = [v for v in given.values() if isinstance(v, (str, Path))]
            check_output(args.output, inputs)
            if new is not None:     # the new rows checked before anything is sampled
                if not hasattr(module, "predictor"):
                    raise PystanModelsError(f"{name} has no covariates or groups to "
                                            f"predict from (--predict)")
                source = new.attrs["source"]
                choose(module.predictor(**given), new, source).rows(new, source)
            if args.prior_only:
                results = prior_only(module, given, opts)
            elif args.save is None:
                results = module.analyse(**given, **dataclasses.asdict(opts))
                if new is not None:    # the file, so the report names it
                    results.add_predictions(args.predict)
            else:
                runs.check_save_dir(args.save, inputs, args.output)
                results = runs.save_run(args.save, name, predict=args.predict, **given,
                                        **dataclasses.asdict(opts))
                print(f"run saved to {args.save}")
        path = (results.prior_only_report().write(args.output) if args.prior_only
                else results.write_report(args.output))
        for problem in results.problems:
            print(f"diagnostics: {problem}", file=sys.stderr)
        if predictions is not None:
            report.write_atomic(predictions, results.tables["predictions"]
                                .to_csv(index=False))
            print(f"predictions written to {predictions}")
        print(f"report written to {path} ({time.monotonic() - start:.0f} s)")
        return 0
    return guarded(work)
