"""``python -m pystan_models``: list the examples, install CmdStan, compile the
programs ahead of time, or run every example."""
from __future__ import annotations

import argparse
import sys

from pathlib import Path

from . import EXAMPLES, cmdstan
from .collection import run_all
from .report import REPORTS_DIR
from .errors import PystanModelsError
from .cli import guarded


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pystan_models",
                                description="Worked Bayesian examples in Stan.")
    sub = p.add_subparsers(dest="command")
    inst = sub.add_parser("install-cmdstan", help="install CmdStan (once)")
    inst.add_argument("--from-github", action="store_true",
                      help="use cmdstanpy's installer (latest release; needs internet) "
                           "instead of the CmdStan 2.27.0 source on PyPI")
    inst.add_argument("--version", help="with --from-github: the CmdStan version")
    comp = sub.add_parser("compile", help="compile every program now (installing CmdStan "
                          "if there is none), several at once, so no example waits")
    comp.add_argument("programs", nargs="*", metavar="PROGRAM",
                      help="only these (default: every program in stan/)")
    every = sub.add_parser("all", help="run every example, then write reports/index.html")
    every.add_argument("--quick", action="store_true", help="short chains (smoke check)")
    every.add_argument("--seed", type=int, help="seed for every example")
    every.add_argument("--output-dir", type=Path, default=REPORTS_DIR)
    every.add_argument("examples", nargs="*", choices=[[], *EXAMPLES], metavar="EXAMPLE",
                       help="only these (default: all)")
    args = p.parse_args(argv)
    if args.command == "all":
        import matplotlib
        matplotlib.use("Agg")   # a command-line run draws to files only
        return guarded(lambda: run_all(args.examples or list(EXAMPLES), args.output_dir,
                                       args.quick, args.seed))
    if args.command == "compile":
        from . import programs
        from .resources import STAN_DIR
        names = args.programs or sorted(p.stem for p in STAN_DIR.glob("*.stan"))

        def build() -> int:
            cmdstan.ensure_cmdstan()
            programs.compile_all(names)
            print(f"{len(names)} programs ready in the compile cache")
            return 0
        return guarded(build)
    if args.command == "install-cmdstan":
        if args.version and not args.from_github:
            print(f"error: --version {args.version} needs --from-github: the package "
                  f"registry route installs CmdStan {cmdstan.REGISTRY_VERSION} only",
                  file=sys.stderr)
            return 2
        try:
            if args.from_github:
                path = cmdstan.install_from_github(args.version)
            else:
                path = cmdstan.find_cmdstan() or cmdstan.install_from_registry()
        except PystanModelsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"CmdStan {cmdstan.version_of(path)} ready at {path}")
        return 0
    print("Examples (run one with: python -m pystan_models.<name>):\n")
    for name, text in EXAMPLES.items():
        print(f"  {name:<12} {text}")
    print("\nOther commands:\n  python -m pystan_models all [--quick]       every example, "
          "then reports/index.html\n  python -m pystan_models install-cmdstan [--from-github]"
          "\n  python -m pystan_models compile [PROGRAM ...]   compile ahead of time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
