"""Saved runs: every fit of a run on disk, and the report rebuilt from them.

``python -m pystan_models.<example> ... --save DIR`` (or :func:`save_run`) writes

* ``DIR/<fit>.nc``: each fit's draws (the DataTree the sampler returned, with the
  Stan data as ``constant_data``), by ``DataTree.to_netcdf``;
* ``DIR/summary.csv``: one row per fit and parameter, named as in the report's
  tables: fit, parameter, mean, sd, q2.5, q50, q97.5, r_hat, ess_bulk, ess_tail;
* ``DIR/run.json``: the example, its run options and keyword arguments, the data
  files and their hashes, the programs and their hashes, and every fit in the
  order it was made, with what the report needs that the draws do not hold
  (diagnostics, timings, compile time);
* ``DIR/remembered.json``: costly results of the draws alone (the LOO
  comparison), keyed by a hash of the draws they were computed from.

``--from DIR`` (or :func:`load_run`) checks that no program and no data file has
changed since, then runs the example's ``analyse`` again on the saved options
with the engine in replay mode: each sampler call gets the saved fit of the same
place in the run (keyed by program and a hash of its inputs) instead of sampling.
Everything else ``analyse`` computes is computed again, from the same draws, so
the Results and the report are the same.

A directory is written whole or not at all: into a temporary sibling, renamed
into place at the end.
"""
from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import importlib
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from . import fitting, programs
from .errors import PystanModelsError
from .fitting import Fit, RunOptions
from .report import file_hash
from .results import Results

FORMAT = "pystan_models saved run"
VERSION = 1
RUN_FILE, SUMMARY_FILE = "run.json", "summary.csv"
REMEMBERED_FILE = "remembered.json"    # results of the draws kept for a rebuild (LOO)
SUMMARY_COLUMNS = ["fit", "parameter", "mean", "sd", "q2.5", "q50", "q97.5", "r_hat",
                   "ess_bulk", "ess_tail"]
_SUMMARY_NAMES = {"2.5%": "q2.5", "50%": "q50", "97.5%": "q97.5"}


class SavedRunError(PystanModelsError):
    """A saved run that cannot be written, read or replayed as asked."""


# --- hashing what a sampler was given ------------------------------------------------

def input_hash(value) -> str:
    """sha256 (16 hex digits) of a sampler's inputs: dicts, lists, arrays, frames,
    dataclasses and scalars, by value.  Run options are left out: the saved run
    records them, and ``--quiet`` may differ on the rebuild."""
    digest = hashlib.sha256()
    _feed(digest, value)
    return digest.hexdigest()[:16]


def remembered_key(name: str, inputs) -> str:
    """A remembered result's key: its name and the hash of its inputs and of the
    code that computes it (render_key), so other code computes it again."""
    return f"{name} {input_hash({'inputs': inputs, 'code': render_key()})}"


def _feed(digest, v) -> None:
    if isinstance(v, RunOptions):
        digest.update(b"<options>")
    elif isinstance(v, (pd.DataFrame, pd.Series)):
        names = v.columns if isinstance(v, pd.DataFrame) else [v.name]
        digest.update(b"<frame>" + ",".join(map(str, names)).encode())
        digest.update(pd.util.hash_pandas_object(v, index=True).to_numpy().tobytes())
    elif isinstance(v, (xr.DataTree, xr.Dataset)):
        data = v.to_dataset() if isinstance(v, xr.DataTree) else v
        _feed(digest, {name: data[name] for name in data.data_vars})
    elif isinstance(v, xr.DataArray):
        digest.update(f"<dataarray {v.dims}>".encode())
        _feed(digest, v.values)
    elif isinstance(v, dict):
        digest.update(b"{")
        for k in sorted(v, key=str):
            _feed(digest, k)
            _feed(digest, v[k])
        digest.update(b"}")
    elif isinstance(v, (list, tuple, np.ndarray)):
        try:
            array = np.asarray(v)
        except (ValueError, TypeError):       # ragged, or of objects numpy refuses
            array = None
        if array is not None and array.dtype.kind in "biuf":
            array = np.ascontiguousarray(array, dtype=float if array.dtype.kind == "f"
                                         else array.dtype)
            digest.update(f"<array {array.dtype} {array.shape}>".encode())
            digest.update(array.tobytes())
        else:
            digest.update(b"[")
            for item in v:
                _feed(digest, item)
            digest.update(b"]")
    elif dataclasses.is_dataclass(v) and not isinstance(v, type):
        digest.update(type(v).__name__.encode())
        _feed(digest, {f.name: getattr(v, f.name) for f in dataclasses.fields(v)})
    elif isinstance(v, np.generic):
        _feed(digest, v.item())
    elif isinstance(v, Path):
        _feed(digest, str(v))
    else:
        digest.update(f"<{type(v).__name__}>{v!r}".encode())


# --- recording and replaying the engine's calls --------------------------------------

@dataclasses.dataclass
class Call:
    """One sampler call of a run: its name (program or sampler), the hash of what
    it was given, the Fit as the sampler returned it (before the example changed
    it), and the Stan data it was given (None for a Gibbs sampler)."""
    name: str
    key: str
    fit: Fit
    constant_data: dict | None = None


class Recorder:
    """A session that samples as usual and keeps every call (``--save``), and
    every result the engine asks to be remembered (by name and inputs' hash)."""

    def __init__(self):
        self.calls: list[Call] = []
        self.remembered_results: dict[str, object] = {}

    def remembered(self, name, inputs, compute, encode, decode):
        result = compute()
        self.remembered_results[remembered_key(name, inputs)] = encode(result)
        return result

    def call(self, name, inputs, run, constant_data=None) -> Fit:
        f = run()
        f.call = len(self.calls)
        kept = dataclasses.replace(f, idata=f.idata.copy(), problems=list(f.problems),
                                   notes=list(f.notes), main=list(f.main), summaries={})
        self.calls.append(Call(name, input_hash(inputs), kept, constant_data))
        return f


class Replay:
    """A session that answers every call with the saved fit of the same place in
    the run (``--from``), after checking it is the same call."""

    def __init__(self, directory: Path, entries: list[dict], remembered: dict):
        self.directory, self.entries, self.next = directory, entries, 0
        self.remembered_results = remembered

    def remembered(self, name, inputs, compute, encode, decode):
        saved = self.remembered_results.get(remembered_key(name, inputs))
        return compute() if saved is None else decode(saved)

    def call(self, name, inputs, run, constant_data=None) -> Fit:
        where = f"{self.directory}: fit {self.next + 1}"
        if self.next >= len(self.entries):
            raise SavedRunError(f"{where} ({name}) is not in the saved run, which has "
                                f"{len(self.entries)} fits: the example's code changed "
                                "since it was saved; run it again with --save")
        entry = self.entries[self.next]
        if entry["call"] != name:
            raise SavedRunError(f"{where} is now {name}, in the saved run "
                                f"{entry['call']}: the example's code changed since it "
                                "was saved; run it again with --save")
        if entry["key"] != input_hash(inputs):
            raise SavedRunError(f"{where} ({name}) is now given other data than when "
                                "the run was saved (the example's code changed since); "
                                "run it again with --save")
        f = read_fit(self.directory, entry)
        f.call = self.next
        self.next += 1
        return f


# --- run.json entries ------------------------------------------------------------------

def _number(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def fit_entry(call: Call, name: str, label: str | None) -> dict:
    f = call.fit
    return {"name": name, "label": label, "file": f"{name}.nc", "call": call.name,
            "program": f.program, "key": call.key, "sampler": f.sampler,
            "stan_file": Path(f.stan_path).name if f.stan_path else None,
            "seconds": f.seconds, "compile_seconds": _number(f.compile_seconds),
            "max_depth": f.max_depth, "chain_seconds": f.chain_seconds,
            "main": f.main, "problems": f.problems, "notes": f.notes,
            "cmdstan_errors": f.cmdstan_errors}


def read_fit(directory: Path, entry: dict) -> Fit:
    """The saved Fit of a run.json entry, its draws read into memory and the file
    closed (a file left open for lazy reads crashed the netCDF library, a segfault,
    when the same file was opened again)."""
    path = directory / entry["file"]
    try:
        tree = xr.open_datatree(path)
        tree.load()
        tree.close()
    except (OSError, ValueError) as exc:
        raise SavedRunError(f"{path}: cannot read the saved draws ({exc})") from None
    if "constant_data" in tree.children:   # kept on disk only: the live fit has none
        tree = tree.drop_nodes("constant_data")
    stan = entry["stan_file"]
    compile_seconds = entry["compile_seconds"]
    return Fit(entry["program"], None, tree, entry["seconds"],
               str(programs.stan_file(stan)) if stan else None,
               problems=list(entry["problems"]), main=list(entry["main"]),
               sampler=entry["sampler"], notes=list(entry["notes"]),
               compile_seconds=float("nan") if compile_seconds is None
               else compile_seconds,
               max_depth=entry["max_depth"], chain_seconds=list(entry["chain_seconds"]),
               cmdstan_errors=list(entry["cmdstan_errors"]),
               # what generated quantities run on (the example may rescale the posterior)
               as_sampled=tree["posterior"].to_dataset().copy(deep=True))


def _with_constant_data(call: Call) -> xr.DataTree:
    """The fit's draws with the Stan data it was given as ``constant_data``."""
    tree = call.fit.idata.copy()
    if call.constant_data:
        variables = {}
        for key, value in call.constant_data.items():
            array = np.asarray(value)
            if array.dtype.kind in "biuf":
                variables[key] = ([f"{key}_dim_{i}" for i in range(array.ndim)], array)
        tree["constant_data"] = xr.Dataset(variables)
    return tree


# --- names --------------------------------------------------------------------------

def slug(label: str) -> str:
    """A safe file name for a fit's label: "Cauchy(0, 2.5)" -> "cauchy-0-2.5",
    "flat prior (failing case)" -> "flat-prior-failing-case"."""
    text = re.sub(r"[^a-z0-9._]+", "-", str(label).lower())
    return re.sub(r"-*\.+-*", ".", text).strip("-.") or "fit"


def fit_names(calls: list[Call], fits: dict[str, Fit], prior_fits: dict[str, Fit] = {}
              ) -> list[tuple[str, str | None]]:
    """(file name, label in Results.fits or None) for each call, names unique: the
    (first) label its fit has in the results, else, for a prior-only fit, that
    label and "prior only" (listed in run.json, not in the posterior summary),
    else its program's name."""
    labels: dict[int, str] = {}
    prior_labels = {f.call: f"{label} prior only" for label, f in reversed(
        list(prior_fits.items())) if f.call is not None}
    for label, f in fits.items():
        if f.call is None:
            raise SavedRunError(f"cannot save the fit {label!r}: it was not made by the "
                                "engine's samplers (fitting.sample, or a sampler "
                                "decorated with fitting.replayable), so it cannot be "
                                "replayed")
        labels.setdefault(f.call, label)
    taken = {Path(RUN_FILE).stem, Path(SUMMARY_FILE).stem}
    out = []
    for i, call in enumerate(calls):
        label = labels.get(i)
        base = slug(label if label is not None else prior_labels.get(i, call.name))
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        out.append((name, label))
    return out


def summary_table(calls: list[Call], names, fits: dict[str, Fit],
                  prior_fits: dict[str, Fit] = {}) -> pd.DataFrame:
    """Every fit's posterior table, in the report's parameter names: each fit the
    results hold by its label (its own table, after the example renamed its
    variables), then any other fit of the run by its file name."""
    extended = {f.replaces for f in fits.values()}    # made again with replicates
    priors = {f.call for f in prior_fits.values()}     # prior-only: not posteriors
    shown = [(label, f) for label, f in fits.items()]
    shown += [(name, call.fit) for i, (call, (name, label)) in enumerate(zip(calls, names))
              if label is None and i not in extended and i not in priors]
    parts = []
    for label, f in shown:
        t = f.table().rename(columns=_SUMMARY_NAMES)
        t = t.rename_axis("parameter").reset_index()
        t.insert(0, "fit", label)
        parts.append(t)
    return pd.concat(parts, ignore_index=True)[SUMMARY_COLUMNS]


# --- the directory ------------------------------------------------------------------

def is_saved_run(directory: Path) -> bool:
    try:
        return json.loads((directory / RUN_FILE).read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def check_save_dir(directory: Path | str, inputs=(), output: Path | str | None = None
                   ) -> Path:
    """Refuse, before any sampling, a ``--save`` directory that exists and is not a
    saved run (nor empty), is or holds an input or the report, or cannot be written."""
    directory = Path(directory)
    flag = f"--save {directory}"
    if directory.exists() and not directory.is_dir():
        raise SavedRunError(f"{flag} is a file, not a directory; refusing to replace it")
    if directory.is_dir() and any(directory.iterdir()) and not is_saved_run(directory):
        raise SavedRunError(f"{flag} exists and is not a saved run (no {RUN_FILE} of "
                            "pystan_models in it); refusing to replace it (choose a new "
                            "directory)")
    here = directory.resolve()
    for given in [*inputs, *([output] if output is not None else [])]:
        path = Path(given).resolve()
        if path == here or here in path.parents:
            what = "the report" if given is output else "an input"
            raise SavedRunError(f"{flag} is or holds {what} ({given}); refusing to "
                                "replace it")
    folder = here.parent
    while not folder.exists():
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SavedRunError(f"{flag}: cannot write in {folder} (permission denied)")
    return directory


def _jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise SavedRunError(f"cannot save a run given a {type(value).__name__} "
                        "(give the data as a file path, not a frame in memory)")


def _arguments(kwargs: dict) -> dict:
    """The example's keyword arguments as JSON, paths to files made absolute (the
    run is rebuilt from wherever it is loaded)."""
    out = {}
    for key, value in kwargs.items():
        value = _jsonable(value)
        if isinstance(value, str) and Path(value).is_file():
            value = str(Path(value).resolve())
        out[key] = value
    return out


def _data_files(results: Results) -> list[dict]:
    rows = []
    for name, frame in results.data.items():
        source = frame.attrs.get("source", "")
        if not (source and Path(source).is_file()):
            raise SavedRunError(f"cannot save a run whose data {name!r} is a frame in "
                                "memory: give it as a file path")
        rows.append({"name": name, "path": str(Path(source).resolve()),
                     "sha256": file_hash(source)})
    return rows


def save_run(directory: Path | str, example: str, *, predict=None, **kwargs) -> Results:
    """Run ``example``'s ``analyse(**kwargs)`` (run options among them) and save
    every fit, the summary and run.json to ``directory``; returns the Results.
    ``predict``: new rows (a CSV path or a DataFrame) to predict, kept with the
    run (:meth:`Results.add_predictions`)."""
    directory = check_save_dir(directory, [v for v in kwargs.values()
                                           if isinstance(v, (str, Path))])
    module = importlib.import_module(f"pystan_models.{example}")
    arguments = _arguments(kwargs)          # refuse a frame in memory before sampling
    with fitting.session(Recorder()) as recorder:
        results = module.analyse(**kwargs)
        if predict is not None:
            results.add_predictions(predict)
        keep_rendered(results, draw=True)
    write_run(directory, results, recorder, arguments)
    return results


def keep_rendered(results: Results, draw: bool) -> None:
    """The report's body (Results.body: the figures drawn, the tables written): drawn
    now and kept in the saved run (``draw``, saving), or read back by a rebuild
    whose code and libraries are the same (render_key); any other rebuild draws it
    when the report is asked for, from the same draws."""
    results.rendered = fitting.remembered(
        "report body", None, results.render_body if draw else lambda: None, _same, _same)


def _same(value):
    return value


@functools.cache
def render_key() -> str:
    """What a remembered result (a posterior table, PSIS-LOO, the report as drawn)
    depends on beyond the run itself: the package's source, its programs, and the
    versions of the libraries that draw and summarise."""
    from importlib.metadata import PackageNotFoundError, version
    from .resources import STAN_DIR
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for path in sorted([*package.glob("*.py"), *STAN_DIR.glob("*.stan"),
                        *STAN_DIR.glob("include/*.stanfunctions")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for lib in ("arviz", "arviz-base", "arviz-stats", "arviz-plots", "matplotlib",
                "numpy", "pandas", "scipy", "xarray"):
        try:
            digest.update(f"{lib}={version(lib)}".encode())
        except PackageNotFoundError:   # not installed (an older ArviZ has no arviz-*)
            digest.update(f"{lib}=-".encode())
    return digest.hexdigest()[:16]


def write_run(directory: Path, results: Results, recorder: Recorder, arguments: dict
              ) -> Path:
    """Write the run into a temporary sibling of ``directory``, then put it in place
    (replacing an older saved run there)."""
    calls = recorder.calls
    names = fit_names(calls, results.fits, results.prior_fits)
    options = dataclasses.asdict(results.options)
    run = {"format": FORMAT, "version": VERSION, "example": results.example,
           "saved": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "options": options,
           "arguments": {k: v for k, v in arguments.items() if k not in options},
           "data": _data_files(results),
           "programs": {c.fit.program: {"file": Path(c.fit.stan_path).name,
                                        "sha256": programs.source_hash(c.fit.program)}
                        for c in calls if c.fit.stan_path},
           "fit_names": {label: names[f.call][0] for label, f in results.fits.items()},
           "fits": [fit_entry(c, name, label) for c, (name, label) in zip(calls, names)]}
    summary = summary_table(calls, names, results.fits, results.prior_fits)
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        for call, (name, _) in zip(calls, names):
            _with_constant_data(call).to_netcdf(tmp / f"{name}.nc")
        summary.to_csv(tmp / SUMMARY_FILE, index=False)
        (tmp / REMEMBERED_FILE).write_text(json.dumps(recorder.remembered_results))
        (tmp / RUN_FILE).write_text(json.dumps(run, indent=1) + "\n")
        os.chmod(tmp, 0o755)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _put_in_place(tmp, directory)
    return directory


def _put_in_place(new: Path, directory: Path) -> None:
    """Rename the complete ``new`` to ``directory``, moving an older saved run
    there aside first (and back, if the rename fails)."""
    old = None
    try:
        if directory.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old.",
                                        dir=directory.parent))
            os.rename(directory, old / "run")
        os.rename(new, directory)
    except BaseException:
        if old is not None and not directory.exists():
            os.rename(old / "run", directory)      # the older run back in place
        shutil.rmtree(new, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --- loading ------------------------------------------------------------------------

def read_run(directory: Path | str) -> dict:
    """run.json of a saved run, or one clear error."""
    directory = Path(directory)
    if not is_saved_run(directory):
        raise SavedRunError(f"{directory} is not a saved run of pystan_models (no "
                            f"readable {RUN_FILE}); make one with --save")
    run = json.loads((directory / RUN_FILE).read_text())
    if run.get("version") != VERSION:
        raise SavedRunError(f"{directory}: saved by another version of pystan_models "
                            f"(format {run.get('version')}, this one reads {VERSION})")
    return run


def changed(run: dict) -> list[str]:
    """What changed since the run was saved: programs and data files."""
    found = []
    for name, program in run["programs"].items():
        try:
            now = programs.source_hash(name)
        except PystanModelsError:
            found.append(f"the program {program['file']} no longer exists")
            continue
        if now != program["sha256"]:
            found.append(f"the program {programs.stan_file(name)} (or a file it "
                         f"includes) changed (sha256 {program['sha256']} -> {now})")
    for data in run["data"]:
        path = Path(data["path"])
        if not path.is_file():
            found.append(f"the data file {path} no longer exists")
        elif (now := file_hash(path)) != data["sha256"]:
            found.append(f"the data file {path} changed (sha256 {data['sha256']} -> "
                         f"{now})")
    return found


class _NoCompiling:
    """Inside a replay the examples' ``programs.compile_all`` does nothing: no fit
    is sampled, so no program needs its executable."""

    def __enter__(self):
        self.saved = programs.compile_all
        programs.compile_all = lambda names, *, quiet=False: None

    def __exit__(self, *exc):
        programs.compile_all = self.saved


def load_run(directory: Path | str, *, quiet: bool | None = None,
             predict=None, reuse: bool = True) -> Results:
    """The Results of a saved run, rebuilt without sampling: the example's
    ``analyse`` on the saved options, every fit the saved one.  Refused, naming
    it, when a program or a data file changed since the run was saved.
    ``quiet``: override the saved run's progress output; ``predict``: new rows to
    predict on the saved draws (those the run was saved with read back, others
    made by generated quantities, as the run itself would have made them);
    ``reuse=False``: compute the remembered results and draw the report again, as
    other code would (the benchmark's measure of a redraw)."""
    directory = Path(directory)
    run = read_run(directory)
    found = changed(run)
    if found:
        raise SavedRunError(f"{directory} cannot be rebuilt: " + "; ".join(found)
                            + " since the run was saved; run it again with --save")
    options = dict(run["options"])
    if quiet is not None:
        options["quiet"] = quiet
    module = importlib.import_module(f"pystan_models.{run['example']}")
    try:
        remembered = json.loads((directory / REMEMBERED_FILE).read_text()) if reuse else {}
    except (OSError, ValueError):   # a cache only: computed again without it
        remembered = {}
    replay = Replay(directory, run["fits"], remembered)
    with fitting.session(replay), _NoCompiling():
        results = module.analyse(**run["arguments"], **options)
        if predict is not None:
            results.add_predictions(predict)
        keep_rendered(results, draw=False)
    if replay.next != len(run["fits"]):
        raise SavedRunError(f"{directory}: the example now makes {replay.next} fits, the "
                            f"saved run has {len(run['fits'])}: its code changed since; "
                            "run it again with --save")
    results.saved_run = str(directory)
    return results
