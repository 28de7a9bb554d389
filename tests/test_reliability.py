"""Issue 15: nothing wrong goes unflagged, nothing a user gave is lost, every error
is one line.  Each class of bad input or interruption: the exit status, stderr is
one line naming what it must, no traceback, and the previous report and the input
files are byte-for-byte untouched."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pystan_models import beetles, calibrate, cli, programs
from pystan_models.__main__ import main as package_main
from pystan_models.data import Column, check_rows, validate
from pystan_models.errors import DataError, PystanModelsError

GOOD = "dose,killed,exposed\n1.69,6,59\n1.72,13,60\n1.76,18,62\n"
PREVIOUS = "<html>the previous report</html>\n"


@pytest.fixture
def files(tmp_path):
    """A data file and a previous report, whose bytes the tests check afterwards."""
    report = tmp_path / "out" / "beetles.html"
    report.parent.mkdir()
    report.write_text(PREVIOUS)
    return tmp_path, report


def one_error_line(capsys, code, expected_code=2) -> str:
    assert code == expected_code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("content, names", [
    (b"dose,killed,exposed\n1.69,6,4294967356\n", ["column 'exposed'", "row 1", "2^31"]),
    (b"dose,killed,exposed\n1e300,6,59\n", ["column 'dose'", "row 1", "2^53"]),
    (b"dose,killed,exposed\n1.69,1e300,59\n", ["column 'killed'", "row 1", "2^53"]),
    (b"dose,killed,exposed\n1.69,nan,59\n", ["column 'killed'", "not a finite number"]),
    (b"dose,killed,exposed\n1.69,inf,59\n", ["column 'killed'", "not a finite number"]),
    (b"dose,killed,exposed\n1.69,\xe9,59\n", ["not UTF-8", "line 2, byte 25"]),
    (b"dose,killed ,exposed\n1.69,6,59\n", ["missing column(s) killed", "'killed '"]),
    (b"", ["empty"]),
    (b"dose;killed;exposed\n1.69;6;59\n", ["missing column(s)", "separated by ';'"]),
    (b"dose,killed,exposed\n1.69,61,60\n", ["column 'killed'", "more beetles killed"]),
])
def test_bad_data_is_one_line_naming_file_row_and_column(files, capsys, content, names):
    tmp, report = files
    data = write_bytes(tmp / "assay.csv", content)
    code = beetles.main(["--data", str(data), "--output", str(report), "--quiet"])
    line = one_error_line(capsys, code)
    assert line.startswith("error: ") and str(data) in line
    for name in names:
        assert name in line, line
    assert report.read_text() == PREVIOUS and data.read_bytes() == content


def test_byte_order_mark_is_read(tmp_path):
    frame = beetles.load(write_bytes(tmp_path / "bom.csv", b"\xef\xbb\xbf" + GOOD.encode()))
    assert list(frame.columns) == ["dose", "killed", "exposed"] and len(frame) == 3


def test_a_directory_is_not_a_data_file(files, capsys):
    tmp, report = files
    code = beetles.main(["--data", str(tmp), "--output", str(report), "--quiet"])
    assert "is a directory, not a data file" in one_error_line(capsys, code)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(files, capsys):
    tmp, report = files
    data = write_bytes(tmp / "locked.csv", GOOD.encode())
    data.chmod(0)
    code = beetles.main(["--data", str(data), "--output", str(report), "--quiet"])
    assert "permission denied" in one_error_line(capsys, code)


def test_frames_are_checked_like_files():
    bad = pd.DataFrame({"dose": [1.7, 1.8], "killed": [70, 3], "exposed": [60, 5]})
    with pytest.raises(DataError, match=r"data frame, row 1, column 'killed' \(value 70\)"):
        beetles.load(bad)
    huge = bad.assign(killed=[3, 3], exposed=[4294967356, 5])
    with pytest.raises(DataError, match=r"row 1, column 'exposed' \(value 4294967356\)"):
        beetles.load(huge)
    assert bad.killed.tolist() == [70, 3], "the caller's frame is untouched"


def test_values_are_shown_as_written_not_as_numpy_reprs():
    frame = validate(pd.DataFrame({"n": [61, 2]}), [Column("n", "count")])
    with pytest.raises(DataError) as err:
        check_rows("data frame", frame, "n", frame.n > 60, "too many")
    assert "(value 61)" in str(err.value) and "np.int64" not in str(err.value)


@pytest.mark.parametrize("argv, names", [
    (["--seed", "-1"], ["seed", "4294967295"]),
    (["--seed", "4294967296"], ["seed", "4294967295"]),
    (["--iter-sampling", "1"], ["iter-sampling", "at least 2"]),
    (["--chains", "0"], ["chains", "at least 1"]),
    (["--iter-warmup", "-5"], ["iter-warmup", "at least 0"]),
])
def test_bad_options_are_refused_before_compiling(files, capsys, monkeypatch, argv, names):
    tmp, report = files
    monkeypatch.setattr(programs, "load", lambda *a, **k: pytest.fail("compiled"))
    line = one_error_line(capsys, beetles.main([*argv, "--output", str(report), "--quiet"]))
    for name in names:
        assert name in line, line
    assert report.read_text() == PREVIOUS


def test_output_that_is_the_input_is_refused(files, capsys, monkeypatch):
    tmp, _ = files
    data = write_bytes(tmp / "assay.csv", GOOD.encode())
    monkeypatch.setattr(programs, "load", lambda *a, **k: pytest.fail("compiled"))
    code = beetles.main(["--data", str(data), "--output", str(data), "--quiet"])
    assert "is an input file" in one_error_line(capsys, code)
    assert data.read_bytes() == GOOD.encode()
    # the same file by another name
    code = beetles.main(["--data", str(data), "--output",
                         str(tmp / "out" / ".." / "assay.csv"), "--quiet"])
    assert "is an input file" in one_error_line(capsys, code)


def test_output_that_is_a_directory_or_unwritable_is_refused(files, capsys, monkeypatch):
    tmp, report = files
    monkeypatch.setattr(programs, "load", lambda *a, **k: pytest.fail("compiled"))
    code = beetles.main(["--output", str(report.parent), "--quiet"])
    assert "is a directory" in one_error_line(capsys, code)
    code = beetles.main(["--output", str(report / "inside.html"), "--quiet"])
    assert "cannot write in" in one_error_line(capsys, code)
    assert report.read_text() == PREVIOUS


def test_install_cmdstan_version_needs_from_github(capsys):
    line = one_error_line(capsys, package_main(["install-cmdstan", "--version", "2.33.0"]))
    assert "--from-github" in line and "2.27.0" in line


def test_all_refuses_an_output_folder_it_cannot_write(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = one_error_line(capsys, package_main(["all", "--output-dir", str(blocker)]))
    assert "cannot write in" in line and blocker.read_text() == "not a folder"


@pytest.mark.parametrize("argv, text", [
    (["--examples", "nosuch"], "invalid choice"),
    (["--sizes", "-3"], "not a whole number of at least 1"),
])
def test_bench_bad_arguments_are_one_error(capsys, argv, text):
    from pystan_models import bench
    with pytest.raises(SystemExit) as exit_:
        bench.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err


@pytest.mark.parametrize("error, text", [
    (OSError(errno.ENOSPC, "No space left on device", "/full/disk/x.html"),
     "no space left on /full/disk"),
    (PermissionError(errno.EACCES, "Permission denied", "/ro/x"), "/ro/x: Permission denied"),
    (KeyboardInterrupt(), "interrupted"),
    (PystanModelsError("a clear message"), "a clear message"),
    (ZeroDivisionError("boom"), "unexpected ZeroDivisionError"),
])
def test_one_error_path(capsys, error, text):
    def work():
        raise error
    code = cli.guarded(work)
    assert code == {KeyboardInterrupt: 130, ZeroDivisionError: 1}.get(type(error), 2)
    line = one_error_line(capsys, code, code)
    assert text in line


def test_a_full_cache_is_no_space_not_a_compile_error(tmp_path, monkeypatch):
    def no_space(*a, **k):
        raise RuntimeError("make: *** ... g++: fatal error: error writing to "
                           "/tmp/ccX.s: No space left on device")
    monkeypatch.setattr(programs.cmdstanpy, "CmdStanModel", no_space)
    folder = tmp_path / "cache" / "beetles_logit-abc"
    with pytest.raises(PystanModelsError, match="no space left on") as err:
        programs._compile(programs.stan_file("beetles_logit"), folder, None, quiet=True)
    assert "does not compile" not in str(err.value)
    assert not any(folder.parent.iterdir()), "nothing half-written"


def test_stale_compile_folders_are_removed(tmp_path):
    stale, live = tmp_path / ".beetles_logit-old", tmp_path / ".beetles_logit-new"
    for d in (stale, live):
        d.mkdir()
    old = time.time() - 2 * programs.STALE_SECONDS
    os.utime(stale, (old, old))
    programs.remove_stale(tmp_path)
    assert not stale.exists() and live.exists()


def test_truncated_last_results_line_is_redone(tmp_path):
    path = tmp_path / "r.jsonl"
    header = {"program": "x", "seed": 1}
    path.write_text(json.dumps(header) + "\n" + json.dumps({"replication": 0}) + "\n"
                    + '{"replication": 1, "ra')
    assert calibrate.read_results(path) == [header, {"replication": 0}]
    assert path.read_text().endswith('{"replication": 0}\n'), "ready to append"
    path.write_text(json.dumps(header) + "\n{broken\n" + json.dumps({"replication": 0}) + "\n")
    with pytest.raises(PystanModelsError, match="line 2"):
        calibrate.read_results(path)


def test_import_changes_nothing_in_the_session():
    # statsmodels installs warning filters of its own when imported: count from after it
    code = ("import warnings, logging, matplotlib, statsmodels.api; "
            "b = matplotlib.get_backend(); "
            "f = list(warnings.filters); "
            "import cmdstanpy; lv = [h.level for h in cmdstanpy.utils.get_logger().handlers]; "
            "import pystan_models, pystan_models.beetles, pystan_models.radon; "
            "assert warnings.filters == f, 'filters'; "
            "assert matplotlib.get_backend() == b, 'backend'; "
            "assert [h.level for h in cmdstanpy.utils.get_logger().handlers] == lv, 'log'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "MPLBACKEND": "svg"})
    assert proc.returncode == 0, proc.stderr


# --- interrupted runs (need CmdStan: the run must be sampling when it is stopped) ---

def _start_and_stop(tmp_path, sig):
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    report = tmp_path / "beetles.html"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pystan_models.beetles", "--output", str(report),
         "--iter-warmup", "20000", "--iter-sampling", "20000"],
        stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:          # wait until CmdStan is running
        if line.startswith("sampling "):
            break
    time.sleep(2)
    proc.send_signal(sig)
    rest = proc.stderr.read()
    return proc.wait(timeout=60), rest, report, tmp_path / "tmp"


@pytest.mark.slow
@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGTERM, 143, "terminated")])
def test_interrupt_is_one_line_and_leaves_nothing(tmp_path, cmdstan_home, sig, code, word):
    status, err, report, tmp = _start_and_stop(tmp_path, sig)
    assert status == code, err
    assert word in err and "Traceback" not in err
    assert not report.exists(), "no report from an interrupted run"
    assert not any(tmp.iterdir()), f"temporary files left: {list(tmp.iterdir())}"


# --- errors inside CmdStan -----------------------------------------------------------

@pytest.fixture
def sandbox_stan(tmp_path, monkeypatch):
    """A private stan/ folder, for programs edited the way a user edits them."""
    stan = tmp_path / "stan"
    stan.mkdir()
    monkeypatch.setattr(programs, "STAN_DIR", stan)
    return stan


@pytest.mark.slow
def test_an_error_in_generated_quantities_fails_the_diagnostics(sandbox_stan, cmdstan_home):
    from pystan_models.fitting import RunOptions, sample
    from pystan_models.resources import STAN_DIR
    text = (STAN_DIR / "beetles_logit.stan").read_text()
    marker = "generated quantities {\n"
    assert marker in text
    text = text.replace(marker, marker + "  if (beta[1] > 34) reject(\"beta too big\");\n")
    (sandbox_stan / "beetles_logit.stan").write_text(text)
    data = beetles.stan_data(beetles.load())
    f = sample("beetles_logit", data, RunOptions(2, 200, 200, 1, quiet=True),
               main=["alpha", "beta"])
    assert any("non-finite draws" in p and "alpha" in p for p in f.problems), f.problems
    assert any("CmdStan reported" in p and "beta too big" in p for p in f.problems)
    assert str(programs.cache_root()) not in " ".join(f.problems)


@pytest.mark.slow
def test_a_fatal_cmdstan_error_names_the_program_in_stan(sandbox_stan, cmdstan_home):
    from pystan_models.fitting import RunOptions, sample
    (sandbox_stan / "always_rejects.stan").write_text(
        "// A program that cannot start: its model block always rejects.\n"
        "parameters {\n  real mu;\n}\nmodel {\n  reject(\"no start here\");\n}\n")
    with pytest.raises(PystanModelsError) as err:
        sample("always_rejects", {}, RunOptions(1, 10, 10, 1, quiet=True), main=["mu"])
    message = str(err.value)
    assert str(sandbox_stan / "always_rejects.stan") in message
    assert "no start here" in message or "Initialization" in message
    assert str(programs.cache_root()) not in message


def test_arviz_is_called_only_in_the_engine():
    """Every ArviZ call sits in fitting.py (statistics) and report.py (figures): a
    move to another ArviZ touches two modules, not every example."""
    import re
    from pathlib import Path
    import pystan_models
    package = Path(pystan_models.__file__).parent
    calls = re.compile(r"^\s*(import arviz|from arviz)|\baz\.\w+\(|\barviz\.\w+\(", re.M)
    outside = [f.name for f in sorted(package.glob("*.py"))
               if f.name not in ("fitting.py", "report.py") and calls.search(f.read_text())]
    assert outside == []
    assert calls.search((package / "fitting.py").read_text())


def test_a_fit_saves_to_netcdf_and_reads_back(tmp_path):
    """The README's fit.idata.to_netcdf(...): the DataTree's groups round-trip."""
    import numpy as np
    import xarray as xr
    from pystan_models.fitting import from_draws
    draws = np.random.default_rng(3).normal(size=(2, 50, 3))
    tree = from_draws({"theta": draws}, coords={"school": ["a", "b", "c"]},
                      dims={"theta": ["school"]})
    tree.to_netcdf(tmp_path / "fit.nc")
    back = xr.open_datatree(tmp_path / "fit.nc")
    np.testing.assert_array_equal(back["posterior"]["theta"].values, draws)
    assert list(back["posterior"]["theta"].coords["school"].values) == ["a", "b", "c"]


def test_loo_comparison_reads_as_under_arviz_0x():
    """elpd_diff is how far below the best each model is (>= 0, 0 for the best), as
    the reports' sentences read it; ArviZ 1.x itself gives elpd - best (<= 0)."""
    import numpy as np
    from pystan_models.fitting import Fit, from_draws, loo_compare
    import xarray as xr
    rng = np.random.default_rng(4)

    def fit(shift):
        tree = from_draws({"mu": rng.normal(size=(2, 200))})
        ll = rng.normal(-1 - shift, 0.05, size=(2, 200, 40))
        tree["log_likelihood"] = xr.Dataset({"y": (("chain", "draw", "obs"), ll)})
        return Fit("p", None, tree, 0.0)
    table, _ = loo_compare({"good": fit(0.0), "worse": fit(0.5)})
    assert list(table.index) == ["good", "worse"]
    assert table.loc["good", "elpd_diff"] == 0
    assert 15 < table.loc["worse", "elpd_diff"] < 25      # 40 observations x 0.5
    assert table.loc["worse", "elpd_diff"] == pytest.approx(
        table.loc["good", "elpd_loo"] - table.loc["worse", "elpd_loo"])
