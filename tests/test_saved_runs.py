"""Saved runs: --save writes every fit, the summary and run.json; --from and
load_run rebuild the same Results and report without sampling, and refuse a run
whose data or programs changed since, or a directory that is not a saved run."""
import importlib
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

import pandas as pd
import pytest
import xarray as xr

from pystan_models import EXAMPLES as ALL_EXAMPLES
from pystan_models import fitting, load_run, programs, report, runs
from pystan_models.resources import STAN_DIR
from pystan_models.results import Results

SHORT = dict(chains=2, iter_warmup=200, iter_sampling=200, quick=True, quiet=True)
CLI_SHORT = ["--chains", "2", "--iter-warmup", "200", "--iter-sampling", "200",
             "--quick", "--quiet"]
# one example with NUTS only, one with a Gibbs sampler beside NUTS
EXAMPLES = {"beetles": "beetles_logit", "probit": "probit_regression"}


# --- no CmdStan ---------------------------------------------------------------------

@pytest.mark.parametrize("label, name", [
    ("Cauchy(0, 2.5)", "cauchy-0-2.5"), ("flat prior (failing case)",
                                         "flat-prior-failing-case"),
    ("inv_chi2 centered 0.95", "inv_chi2-centered-0.95"), ("../..", "fit"),
    ("probit NUTS", "probit-nuts")])
def test_fit_names_are_safe_file_names(label, name):
    assert runs.slug(label) == name


def test_input_hash_is_by_value():
    import numpy as np
    data = {"N": 3, "y": [1, 0, 1], "X": [[0.5], [1.5], [2.5]]}
    same = {"X": np.array([[0.5], [1.5], [2.5]]), "y": np.array([1, 0, 1]), "N": 3}
    assert runs.input_hash(data) == runs.input_hash(same)
    assert runs.input_hash(data) != runs.input_hash({**data, "y": [1, 1, 1]})
    # run options are recorded in run.json, not in the key (--quiet may differ)
    assert runs.input_hash((fitting.RunOptions(quiet=True), data)) == \
        runs.input_hash((fitting.RunOptions(), data))


def test_a_reference_fit_is_kept_exactly():
    """What fitting.reference keeps in remembered.json reads back the same: the
    floats to the last bit, the frames' dtypes, arrays, nested dicts."""
    value = {"table": pd.DataFrame({"MLE": [0.1, -1 / 3, np.nan], "k": [2, 4, 6],
                                    "name": ["a", "b", "c"]}, index=["x", "y", "z"]),
             "fitted": np.array([1e-300, 0.7]), "iterations": np.int64(7),
             "mode": pd.Series([1.25, np.inf], index=["alpha", "beta[NV]"]),
             "warnings": ["ConvergenceWarning: x"], "nested": {"sd": 1.5}}
    back = fitting._from_json(json.loads(json.dumps(fitting._to_json(value))))
    pd.testing.assert_frame_equal(back.pop("table"), value.pop("table"))
    np.testing.assert_array_equal(back.pop("fitted"), value.pop("fitted"))
    pd.testing.assert_series_equal(back.pop("mode"), value.pop("mode"))
    assert back == value


def test_a_directory_that_is_not_a_saved_run_is_refused(tmp_path, capsys):
    from pystan_models import beetles
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    assert beetles.main(["--from", str(other), "--output", str(tmp_path / "r.html")]) == 2
    assert "not a saved run" in capsys.readouterr().err
    with pytest.raises(runs.SavedRunError, match="not a saved run"):
        load_run(other)
    # --save refuses it before anything is sampled, and leaves it alone
    assert beetles.main([*CLI_SHORT, "--save", str(other),
                         "--output", str(tmp_path / "r.html")]) == 2
    assert "is not a saved run" in capsys.readouterr().err
    assert [p.name for p in other.iterdir()] == ["keep.txt"]
    assert not (tmp_path / "r.html").exists()


def test_save_refuses_a_directory_holding_an_input(tmp_path, capsys):
    from pystan_models import beetles
    directory = tmp_path / "run"          # a saved run, with the data put inside it
    directory.mkdir()
    (directory / "run.json").write_text(json.dumps({"format": runs.FORMAT}))
    data = directory / "beetles.csv"
    shutil.copy(beetles.DATA, data)
    assert beetles.main([*CLI_SHORT, "--data", str(data), "--save", str(directory),
                         "--output", str(tmp_path / "r.html")]) == 2
    assert "is or holds an input" in capsys.readouterr().err
    assert data.exists()
    assert beetles.main([*CLI_SHORT, "--save", str(directory),
                         "--output", str(directory / "r.html")]) == 2
    assert "is or holds the report" in capsys.readouterr().err


def test_from_takes_no_run_options(tmp_path, capsys):
    from pystan_models import beetles
    assert beetles.main(["--from", str(tmp_path), "--chains", "3"]) == 2
    assert "--chains cannot be given with it" in capsys.readouterr().err


# --- saved, then rebuilt (samples) ----------------------------------------------------

def _comparable(html: str) -> str:
    """The report without what may differ on a rebuild: the time it was written,
    the date in the provenance and the provenance's note on the saved run."""
    html = re.sub(r"Written by pystan_models on [^<]*", "", html)
    html = re.sub(r"run on \d{4}-\d\d-\d\d", "", html)
    return re.sub(r"<p class='note'>Rebuilt without sampling[^<]*</p>", "", html)


@pytest.fixture(scope="module", params=list(EXAMPLES))
def saved(request, tmp_path_factory):
    """(example, live Results, live report HTML, saved directory, copied data)."""
    name = request.param
    module = importlib.import_module(f"pystan_models.{name}")
    root = tmp_path_factory.mktemp(name)
    data = root / module.DATA.name       # a copy, which a test changes and restores
    shutil.copy(module.DATA, data)
    directory = root / "run"
    live = runs.save_run(directory, name, data=str(data), **SHORT)
    return name, live, live.report().render(), directory, data


@pytest.mark.slow
def test_rebuilt_results_are_the_same(saved, monkeypatch):
    name, live, _, directory, _ = saved

    def no_sampling(*args, **kwargs):
        raise AssertionError("a rebuild must not sample, compile or redo PSIS-LOO")
    monkeypatch.setattr(fitting, "_sample", no_sampling)
    monkeypatch.setattr(programs, "load", no_sampling)
    monkeypatch.setattr(fitting, "_loo_compare", no_sampling)   # read back, not redone
    rebuilt = load_run(directory)
    assert isinstance(rebuilt, Results) and rebuilt.example == name
    assert list(rebuilt.tables) == list(live.tables)
    for table, frame in live.tables.items():
        if isinstance(frame, pd.DataFrame):
            pd.testing.assert_frame_equal(rebuilt.tables[table], frame, obj=table)
        else:
            assert rebuilt.tables[table] == frame
    assert rebuilt.answer == live.answer
    assert rebuilt.problems == live.problems and rebuilt.notes == live.notes
    assert list(rebuilt.fits) == list(live.fits)
    assert all(f.fit is None for f in rebuilt.fits.values())
    assert rebuilt.options == live.options


@pytest.mark.slow
def test_from_writes_the_same_report(saved, tmp_path, monkeypatch):
    """By the code that saved it, the rebuild reads the rendered report back: it
    draws no figure."""
    name, live, live_html, directory, _ = saved
    module = importlib.import_module(f"pystan_models.{name}")
    monkeypatch.setattr(report, "figure", lambda *a: pytest.fail("drew a figure"))
    out = tmp_path / "rebuilt.html"
    assert module.main(["--from", str(directory), "--output", str(out), "--quiet"]) == 0
    html = out.read_text()
    assert "Rebuilt without sampling from the saved run" in html
    assert _comparable(html) == _comparable(live_html)


@pytest.mark.slow
def test_other_code_draws_the_same_report_again(saved, monkeypatch):
    """With other code or libraries (another render key) nothing rendered is read
    back: every figure and table is drawn again from the saved draws, and the
    report is the same."""
    name, live, live_html, directory, _ = saved
    drawn = []
    real = report.figure
    monkeypatch.setattr(report, "figure", lambda *a: drawn.append(1) or real(*a))
    monkeypatch.setattr(runs, "render_key", lambda: "other code")
    html = load_run(directory, quiet=True).report().render()
    assert drawn and _comparable(html) == _comparable(live_html)


REBUILD = """
import json, sys
from pystan_models import fitting, load_run, programs
def refuse(*args, **kwargs):
    raise AssertionError("a rebuild must not sample, load a program or redo PSIS-LOO")
fitting._sample = programs.load = fitting._loo_compare = refuse
results = load_run(sys.argv[1], quiet=True)
results.report().render()
print(json.dumps({"answer": results.answer, "imported": [
    m for m in ("statsmodels", "arviz", "arviz_stats", "arviz_plots", "matplotlib.pyplot",
                "formulae") if m in sys.modules]}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ALL_EXAMPLES))
def test_every_example_rebuilds_without_sampling_or_slow_imports(name, tmp_path):
    """In a fresh process, as ``--from`` runs: no sampling, no optimizing, no
    program loaded, and the maximum-likelihood references, the ArviZ statistics
    and the drawn report read back from the saved run, so neither statsmodels,
    ArviZ's statistics and plots, pyplot nor formulae is imported (together
    about half of a rebuild's time)."""
    live = runs.save_run(tmp_path / "run", name, **SHORT)
    done = subprocess.run([sys.executable, "-c", REBUILD, str(tmp_path / "run")],
                          capture_output=True, text=True,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr
    rebuilt = json.loads(done.stdout.strip().splitlines()[-1])
    assert rebuilt == {"answer": live.answer, "imported": []}


@pytest.mark.slow
def test_summary_and_run_json(saved):
    name, live, _, directory, data = saved
    summary = pd.read_csv(directory / "summary.csv")
    assert list(summary.columns) == ["fit", "parameter", "mean", "sd", "q2.5", "q50",
                                     "q97.5", "r_hat", "ess_bulk", "ess_tail"]
    assert list(dict.fromkeys(summary.fit)) == list(live.fits)
    for label, f in live.fits.items():
        rows = summary[summary.fit == label].set_index("parameter")
        table = f.table()
        assert list(rows.index) == list(table.index)    # the report's names
        assert rows["mean"].to_numpy() == pytest.approx(table["mean"].to_numpy())
        assert rows["q97.5"].to_numpy() == pytest.approx(table["97.5%"].to_numpy())
    run = json.loads((directory / "run.json").read_text())
    assert run["example"] == name
    assert run["options"] == {"chains": 2, "iter_warmup": 200, "iter_sampling": 200,
                              "seed": fitting.RunOptions().seed, "quiet": True,
                              "quick": True}
    assert run["arguments"]["data"] == str(data.resolve())
    assert run["data"][0]["path"] == str(data.resolve())
    assert run["data"][0]["sha256"] == runs.file_hash(data)
    program = EXAMPLES[name]
    assert run["programs"][program]["sha256"] == programs.source_hash(program)
    assert set(run["fit_names"]) == set(live.fits)
    for label, file_name in run["fit_names"].items():
        assert re.fullmatch(r"[a-z0-9._-]+", file_name)
        tree = xr.open_datatree(directory / f"{file_name}.nc")
        try:
            groups = set(tree.children)
            assert set(live.fits[label].idata.children) <= groups   # every group
            if live.fits[label].stan_path:      # NUTS: CmdStan's statistics and data
                assert {"posterior", "sample_stats", "observed_data",
                        "constant_data"} <= groups
        finally:
            tree.close()
    entry = run["fits"][0]
    for key in ("name", "label", "file", "program", "key", "sampler", "seconds",
                "compile_seconds", "problems", "notes", "main"):
        assert key in entry


@pytest.mark.slow
def test_a_changed_data_file_is_refused(saved, tmp_path, capsys):
    name, _, _, directory, data = saved
    module = importlib.import_module(f"pystan_models.{name}")
    original = data.read_bytes()
    lines = original.decode().splitlines()
    data.write_text("\n".join(lines[:-1]) + "\n")   # the last row dropped
    try:
        out = tmp_path / "r.html"
        assert module.main(["--from", str(directory), "--output", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"the data file {data.resolve()} changed" in err
        assert err.count("\n") == 1 and not out.exists()
    finally:
        data.write_bytes(original)
    assert load_run(directory, quiet=True).example == name


@pytest.mark.slow
def test_a_changed_program_is_refused(saved, tmp_path, monkeypatch, capsys):
    name, _, _, directory, _ = saved
    program = EXAMPLES[name]
    stan = tmp_path / "stan"
    shutil.copytree(STAN_DIR, stan)
    path = stan / f"{program}.stan"
    path.write_text(path.read_text() + "\n// edited since the run was saved\n")
    monkeypatch.setattr(programs, "STAN_DIR", stan)
    module = importlib.import_module(f"pystan_models.{name}")
    out = tmp_path / "r.html"
    assert module.main(["--from", str(directory), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"the program {path} (or a file it includes) changed" in err
    assert not out.exists()


# an option that changes the data a sampler is given, as a change of the code would
CHANGED = {"beetles": {"grid_size": 51}, "probit": {"prior_sd": 5.0}}


@pytest.mark.slow
def test_changed_code_is_refused(saved, tmp_path):
    """The example now gives a sampler other data than the saved run's (here: an
    option edited in run.json)."""
    name, _, _, directory, _ = saved
    copy = tmp_path / "run"
    shutil.copytree(directory, copy)
    run = json.loads((copy / "run.json").read_text())
    run["arguments"].update(CHANGED[name])
    (copy / "run.json").write_text(json.dumps(run))
    with pytest.raises(runs.SavedRunError, match="fit 1 .* other data than"):
        load_run(copy, quiet=True)


@pytest.mark.slow
def test_save_replaces_a_saved_run_whole(saved, tmp_path):
    """Saving again into a saved run replaces it: no stale files, no temporary
    folders left beside it."""
    name, _, _, directory, data = saved
    if name != "beetles":
        pytest.skip("one example is enough")
    copy = tmp_path / "run"
    shutil.copytree(directory, copy)
    (copy / "stale.nc").write_text("")
    runs.save_run(copy, name, data=str(data), **SHORT)
    assert not (copy / "stale.nc").exists() and (copy / "run.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


@pytest.mark.slow
def test_an_interrupted_save_leaves_the_older_run(saved, tmp_path, monkeypatch):
    name, _, _, directory, data = saved
    if name != "beetles":
        pytest.skip("one example is enough")
    copy = tmp_path / "run"
    shutil.copytree(directory, copy)
    before = sorted(p.name for p in copy.iterdir())
    written = []

    def interrupted(tree, path, **kwargs):
        written.append(path)
        if len(written) == 2:
            raise KeyboardInterrupt
        return original(tree, path, **kwargs)
    original = xr.DataTree.to_netcdf
    monkeypatch.setattr(xr.DataTree, "to_netcdf", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runs.save_run(copy, name, data=str(data), **SHORT)
    assert sorted(p.name for p in copy.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]     # no temporary folder
    assert load_run(copy, quiet=True).example == name
