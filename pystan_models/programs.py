"""Stan programs: where they live, and a compile cache keyed by what they are.

cmdstanpy writes the executable next to the ``.stan`` file and decides whether to
recompile by modification time alone.  Instead, every program is compiled in a
cache folder named by a hash of

* its text and the text of every ``#include``-d file,
* the CmdStan version,
* the compiler options,

so editing a program recompiles it on the next run, a stale executable is never
used, and an unchanged program is never recompiled.  A compile happens in a
private temporary folder that is renamed into place when complete, so two runs
at once cannot leave a half-written executable in the cache.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cmdstanpy

from . import cmdstan
from .errors import StanCompileError
from .resources import INCLUDE_DIR, STAN_DIR


@contextlib.contextmanager
def cmdstanpy_log_level(level: int):
    """cmdstanpy's console messages below ``level`` are dropped inside the block
    (its INFO lines, "CmdStan start processing" ..., drown our own progress); the
    handlers' levels are restored after it, so importing or using the package
    changes nothing in the user's logging set-up."""
    handlers = cmdstanpy.utils.get_logger().handlers
    before = [h.level for h in handlers]
    for h in handlers:
        h.setLevel(max(level, h.level))
    try:
        yield
    finally:
        for h, old in zip(handlers, before):
            h.setLevel(old)


# seconds each program took to compile in this process (for the benchmark)
compile_seconds: dict[str, float] = {}
_INCLUDE = re.compile(r"^\s*#include\s+[<\"]?([^>\"\s]+)", re.MULTILINE)


def stan_file(name: str) -> Path:
    """The path of program ``name`` (``beetles_logit`` or ``beetles_logit.stan``)."""
    path = STAN_DIR / (name if name.endswith(".stan") else f"{name}.stan")
    if not path.is_file():
        raise StanCompileError(f"{path}: no such Stan program")
    return path


def header(name: str) -> str:
    """The program's first comment block (what it models, the notes' equations, its
    priors, the data source), without the comment markers: the report's model
    description comes from the program it ran, not from a copy in Python."""
    lines = []
    for line in stan_file(name).read_text().splitlines():
        if not line.startswith("//"):
            break
        lines.append(line[3:] if line.startswith("// ") else line[2:])
    return "\n".join(lines).strip()


_PRED_FIELD = re.compile(r"^\s*(?:array\[[^\]]*\]\s*)?[a-z_]+(?:<[^>]*>)?(?:\[[^\]]*\])?"
                         r"\s+(\w+_pred)\s*;", re.MULTILINE)


@functools.cache
def prediction_fields(name: str) -> tuple[str, ...]:
    """The data fields of program ``name`` for rows to predict (``N_pred``,
    ``X_pred``, ...: :mod:`pystan_models.predict`), in the order declared."""
    text = stan_file(name).read_text()
    block = re.search(r"^data \{(.*?)^\}", text, re.M | re.S)
    return tuple(_PRED_FIELD.findall(block.group(1))) if block else ()   # no data


def with_no_predictions(name: str, data: dict, fields=None) -> dict:
    """``data`` with the program's prediction fields (``fields``, default: read
    from its file) set to no rows (``N_pred = 0``, empty arrays) where the caller
    gave none, as every fit samples."""
    fields = prediction_fields(name) if fields is None else fields
    missing = [f for f in fields if f not in data]
    return {**data, **{f: 0 if f == "N_pred" else [] for f in missing}} if missing \
        else data


def _digest(path: Path) -> "hashlib._Hash":
    digest = hashlib.sha256()
    for src in _sources(path):
        digest.update(src.name.encode() + b"\0" + src.read_bytes() + b"\0")
    return digest


def source_hash(name: str) -> str:
    """sha256 (16 hex digits) of the program's text and its includes."""
    return _digest(stan_file(name)).hexdigest()[:16]


def cache_root() -> Path:
    """``$PYSTAN_MODELS_CACHE``, else ``$XDG_CACHE_HOME/pystan_models``, else ``~/.cache``."""
    env = os.environ.get("PYSTAN_MODELS_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "pystan_models"


def _sources(path: Path) -> list[Path]:
    """``path`` and, recursively, the files it ``#include``s (searched beside it,
    then in ``stan/include``)."""
    seen: list[Path] = []
    todo = [path]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        for inc in _INCLUDE.findall(p.read_text()):
            beside = p.parent / inc
            todo.append(beside if beside.is_file() else INCLUDE_DIR / inc)
    return seen


def program_hash(path: Path, cmdstan_version: str, cpp_options: dict | None = None) -> str:
    digest = _digest(path)
    digest.update(cmdstan_version.encode())
    digest.update(json.dumps(cpp_options or {}, sort_keys=True).encode())
    return digest.hexdigest()[:16]


_models: dict[Path, cmdstanpy.CmdStanModel] = {}   # loaded this process, by executable


def _cached(name: str, cpp_options: dict | None, quiet: bool) -> tuple[Path, Path]:
    """The program's file and its folder in the compile cache."""
    path = stan_file(name)
    version = cmdstan.version_of(cmdstan.ensure_cmdstan(quiet=quiet))
    key = program_hash(path, version, cpp_options)
    return path, cache_root() / f"cmdstan-{version}" / f"{path.stem}-{key}"


def compile_jobs() -> int:
    """How many programs compile at once: ``$PYSTAN_MODELS_COMPILE_JOBS``, else one
    per core (each compile is a single-threaded C++ build of about 1 GB)."""
    env = os.environ.get("PYSTAN_MODELS_COMPILE_JOBS", "")
    return max(1, int(env)) if env.isdigit() else max(1, os.cpu_count() or 1)


def compile_all(names, *, quiet: bool = False) -> None:
    """Compile the programs in ``names`` that the cache lacks, several at a time
    (:func:`compile_jobs`), so an example waits for its slowest compile, not for
    the sum of them.  Each goes through the same private folder and atomic rename
    as :func:`load`."""
    missing = {}
    for name in dict.fromkeys(names):
        path, folder = _cached(name, None, quiet)
        if not (folder / path.stem).is_file():
            missing[name] = (path, folder)
    if missing and not _any_compiled(next(iter(missing.values()))[1].parent):
        # the first model make on a CmdStan rewrites its shared make dependency
        # file (src/cmdstan/main.d); two makes writing it at once corrupt it
        # ("main.d: *** missing separator", seen in CI), so the first runs alone
        _compile(*missing.pop(next(iter(missing))), None, quiet)
    if not missing:
        return
    jobs = min(compile_jobs(), len(missing))
    if jobs == 1:
        for name in missing:
            load(name, quiet=quiet)
        return
    if not quiet:
        print(f"compiling {len(missing)} programs, {jobs} at a time: "
              f"{', '.join(missing)}", file=sys.stderr, flush=True)
    # cmdstanpy runs make inside a process-wide chdir to CmdStan and back: two
    # compiles at once can restore each other's directory, leaving the process in
    # CmdStan's folder (and the report written there), so the caller's is restored
    cwd = os.getcwd()
    try:
        with cmdstanpy_log_level(logging.ERROR if quiet else logging.WARNING), \
                ThreadPoolExecutor(jobs) as pool:
            for done in [pool.submit(_compile, path, folder, None, quiet)
                         for path, folder in missing.values()]:
                done.result()   # the first compile error, as load would raise it
    finally:
        os.chdir(cwd)


def _any_compiled(versions: Path) -> bool:
    """Whether the compile cache of this CmdStan (``versions``) holds any program's
    executable (``<stem>-<key>/<stem>``): CmdStan has made a model before."""
    return versions.is_dir() and any((d / d.name.rsplit("-", 1)[0]).is_file()
                                     for d in versions.iterdir())


def load(name: str, *, cpp_options: dict | None = None, quiet: bool = False
         ) -> cmdstanpy.CmdStanModel:
    """A compiled model for program ``name``, from the cache or freshly compiled."""
    path, folder = _cached(name, cpp_options, quiet)
    exe = folder / path.stem
    with cmdstanpy_log_level(logging.ERROR if quiet else logging.WARNING):
        if not exe.is_file():
            _compile(path, folder, cpp_options, quiet)
            _models.pop(exe, None)
        if exe not in _models:  # loading runs stanc --info: once per process is enough
            _models[exe] = cmdstanpy.CmdStanModel(stan_file=folder / path.name,
                                                  exe_file=exe)
    return _models[exe]


STALE_SECONDS = 6 * 3600   # a compile takes minutes; an older temp folder is dead


def remove_stale(parent: Path) -> None:
    """Temporary compile folders left by a compile that was killed (SIGKILL, a
    power cut): a live compile touches its folder within minutes."""
    now = time.time()
    for tmp in parent.glob(".*-*"):
        try:
            if tmp.is_dir() and now - tmp.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


def _compile(path: Path, folder: Path, cpp_options: dict | None, quiet: bool) -> None:
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(folder.parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.stem}-", dir=folder.parent))
    except OSError as exc:
        raise StanCompileError(
            f"cannot write the compile cache {folder.parent}: {exc.strerror}; set "
            "PYSTAN_MODELS_CACHE to a writable folder") from None
    try:
        for src in _sources(path):
            shutil.copy2(src, tmp / src.name)
            os.utime(tmp / src.name)  # newer than nothing: cmdstanpy compiles it
        if not quiet:
            print(f"compiling {path.name} (once; cached in {folder.parent})...",
                  file=sys.stderr, flush=True)
        start = time.monotonic()
        try:
            cmdstanpy.CmdStanModel(stan_file=tmp / path.name, cpp_options=cpp_options)
        except (ValueError, RuntimeError) as exc:
            text = str(exc)
            if "No space left on device" in text:
                raise StanCompileError(f"no space left on {folder.parent} (compiling "
                                       f"{path.name}): free some space or set "
                                       "PYSTAN_MODELS_CACHE to another disk") from None
            raise StanCompileError(f"{path}: does not compile.\n{_clean(text, tmp, path)}"
                                   ) from None
        except OSError as exc:
            raise StanCompileError(f"cannot compile {path.name} in {folder.parent}: "
                                   f"{exc.strerror}") from None
        compile_seconds[path.stem] = time.monotonic() - start
        if not quiet:
            print(f"compiled {path.name} in {compile_seconds[path.stem]:.0f} s",
                  file=sys.stderr, flush=True)
        try:
            os.rename(tmp, folder)
        except OSError:  # another run got there first; its executable is as good
            if not (folder / path.stem).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def clean_message(message: str, model: cmdstanpy.CmdStanModel) -> str:
    """CmdStan's message about a cached executable, naming the program's file in
    stan/ instead of its copy in the compile cache."""
    cached = Path(model.stan_file)
    source = stan_file(cached.stem)
    # the executable names the temporary folder it was compiled in (since renamed)
    message = re.sub(rf"[^\s'\"]*/{re.escape(cached.name)}", str(source), message)
    return _clean(message, cached.parent, source)


def _clean(message: str, tmp: Path, path: Path) -> str:
    """The compiler's own text, with our temporary folder replaced by the real file."""
    return message.replace(str(tmp / path.name), str(path)).replace(str(tmp), str(path.parent))
