"""Where the package's own files are: the Stan programs and the bundled data.

A wheel carries them inside the package, as ``pystan_models/stan`` and
``pystan_models/data`` (see ``[tool.setuptools.package-dir]`` in
pyproject.toml), found through ``importlib.resources``.  In the repository (a
checkout or an editable install) they sit at its top, ``stan/`` and ``data/``,
beside the package folder: the design card's layout.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _folder(name: str) -> Path:
    packaged = files("pystan_models") / name
    if packaged.is_dir():   # installed from a wheel (always unpacked on disk)
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / name


STAN_DIR = _folder("stan")
INCLUDE_DIR = STAN_DIR / "include"
DATA_DIR = _folder("data")
