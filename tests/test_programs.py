"""The compile cache and compile errors."""

import pytest

from pystan_models import programs
from pystan_models.errors import StanCompileError

TINY = """// A normal mean: a program small enough to compile in tests.
data {
  int<lower=0> N;
  vector[N] y;
}
parameters {
  real mu;
}
model {
  mu ~ normal(0, 10);
  y ~ normal(mu, 1);
}
"""


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A private stan/ folder and compile cache."""
    stan = tmp_path / "stan"
    stan.mkdir()
    monkeypatch.setattr(programs, "STAN_DIR", stan)
    monkeypatch.setenv("PYSTAN_MODELS_CACHE", str(tmp_path / "cache"))
    return stan


def test_hash_depends_on_text_version_and_options(sandbox):
    path = sandbox / "tiny.stan"
    path.write_text(TINY)
    h = programs.program_hash(path, "2.27.0")
    assert h == programs.program_hash(path, "2.27.0")
    assert h != programs.program_hash(path, "2.36.0")
    assert h != programs.program_hash(path, "2.27.0", {"STAN_THREADS": True})
    path.write_text(TINY + "\n")
    assert h != programs.program_hash(path, "2.27.0")


def test_hash_follows_includes(sandbox):
    (sandbox / "f.stanfunctions").write_text("real f(real x) { return x; }\n")
    path = sandbox / "inc.stan"
    path.write_text("functions {\n#include f.stanfunctions\n}\n" + TINY)
    h = programs.program_hash(path, "2.27.0")
    (sandbox / "f.stanfunctions").write_text("real f(real x) { return 2 * x; }\n")
    assert h != programs.program_hash(path, "2.27.0")


def test_unknown_program(sandbox):
    with pytest.raises(StanCompileError, match="no such Stan program"):
        programs.stan_file("nope")


@pytest.mark.slow
def test_cache_compiles_once_and_recompiles_on_change(sandbox, cmdstan_home, monkeypatch):
    (sandbox / "tiny.stan").write_text(TINY)
    calls = []
    real_compile = programs._compile
    monkeypatch.setattr(programs, "_compile", lambda *a: calls.append(a) or real_compile(*a))
    first = programs.load("tiny", quiet=True)
    second = programs.load("tiny", quiet=True)
    assert len(calls) == 1 and first.exe_file == second.exe_file
    assert programs.STAN_DIR not in __import__("pathlib").Path(first.exe_file).parents
    assert not (sandbox / "tiny").exists(), "no executable written next to the source"
    (sandbox / "tiny.stan").write_text(TINY.replace("normal(0, 10)", "normal(0, 5)"))
    third = programs.load("tiny", quiet=True)
    assert len(calls) == 2 and third.exe_file != first.exe_file
    fit = third.sample(data={"N": 3, "y": [1.0, 2.0, 3.0]}, chains=1, iter_warmup=200,
                       iter_sampling=200, seed=1, show_progress=False)
    assert abs(fit.stan_variable("mu").mean() - 2.0) < 0.3
    leftovers = [p for p in (sandbox.parent / "cache").rglob(".tiny-*")]
    assert not leftovers, "temporary compile folders are removed"


@pytest.mark.slow
def test_syntax_error_is_a_clear_message(sandbox, cmdstan_home):
    (sandbox / "broken.stan").write_text(TINY.replace("y ~ normal(mu, 1);", "y ~ normal(mu 1);"))
    with pytest.raises(StanCompileError) as err:
        programs.load("broken", quiet=True)
    message = str(err.value)
    assert str(sandbox / "broken.stan") in message
    assert "Syntax error" in message or "Ill-formed" in message or "Expected" in message
    cache = sandbox.parent / "cache"
    assert not list(cache.rglob("broken*")) and not list(cache.rglob(".broken*"))


def _load_in_child(stan_dir, cache, queue):
    import os
    os.environ["PYSTAN_MODELS_CACHE"] = cache
    programs.STAN_DIR = __import__("pathlib").Path(stan_dir)
    queue.put(programs.load("tiny", quiet=True).exe_file)


@pytest.mark.slow
def test_two_runs_compiling_at_once_share_one_complete_executable(sandbox, cmdstan_home):
    import multiprocessing
    mp = multiprocessing.get_context("spawn")   # forking after polars has run can deadlock
    (sandbox / "tiny.stan").write_text(TINY.replace("normal(0, 10)", "normal(0, 7)"))
    cache = str(sandbox.parent / "cache")
    queue = mp.Queue()
    procs = [mp.Process(target=_load_in_child, args=(str(sandbox), cache, queue))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0]
    exes = {queue.get(timeout=5), queue.get(timeout=5)}
    assert len(exes) == 1, "both runs use the one cached executable"
    folders = [p for p in (sandbox.parent / "cache").rglob("tiny*") if p.is_dir()]
    assert len(folders) == 1 and not list((sandbox.parent / "cache").rglob(".tiny-*"))


@pytest.mark.slow
def test_compile_all_builds_the_missing_programs_at_once(sandbox, cmdstan_home, monkeypatch,
                                                          capsys):
    for name in ("one", "two", "three"):
        (sandbox / f"{name}.stan").write_text(TINY.replace("normal(0, 10)",
                                                           f"normal(0, {len(name)})"))
    programs.load("one", quiet=True)               # already cached: not rebuilt
    monkeypatch.setenv("PYSTAN_MODELS_COMPILE_JOBS", "2")
    programs.compile_all(["one", "two", "three", "two"])
    err = capsys.readouterr().err
    assert "compiling 2 programs, 2 at a time: two, three" in err
    seen = set()
    for name in ("one", "two", "three"):
        exe = programs.load(name, quiet=True).exe_file
        assert programs.cache_root() in __import__("pathlib").Path(exe).parents
        seen.add(exe)
    assert len(seen) == 3
    assert not [p for p in programs.cache_root().rglob(".*-*") if p.is_dir()], "temp left"


def test_compile_all_stops_at_a_compile_error(sandbox, cmdstan_home):
    (sandbox / "broken.stan").write_text("parameters { real mu }\n")
    (sandbox / "fine.stan").write_text(TINY)
    with pytest.raises(StanCompileError, match="broken.stan: does not compile"):
        programs.compile_all(["broken", "fine"], quiet=True)


def test_compile_all_keeps_the_working_directory(sandbox, monkeypatch, tmp_path):
    """cmdstanpy runs make inside a process-wide chdir and back (its do_command's
    pushd).  Two compiles at once, the first to start finishing first, used to leave
    the process in the second's folder: the report was written into CmdStan's."""
    import os
    import threading
    from cmdstanpy.utils.command import do_command

    for name in ("first", "second"):
        (sandbox / f"{name}.stan").write_text(TINY)
    make_dir = tmp_path / "cmdstan"
    make_dir.mkdir()
    started = threading.Event()

    def fake_compile(path, folder, cpp_options, quiet):
        if path.stem == "first":          # chdir, then finish first
            do_command(["sh", "-c", "echo in; sleep 0.2"], cwd=str(make_dir), fd_out=None,
                       pbar=lambda line: started.set())
        else:                             # chdir while the first is inside, finish last
            started.wait(5)
            do_command(["sh", "-c", "sleep 0.6"], cwd=str(make_dir), fd_out=None)

    monkeypatch.setattr(programs, "_compile", fake_compile)
    monkeypatch.setenv("PYSTAN_MODELS_COMPILE_JOBS", "2")
    # a model made before, so the two compile at once (the first into an empty
    # cache compiles alone)
    made = programs._cached("first", None, True)[1].parent / "made-0"
    made.mkdir(parents=True)
    (made / "made").touch()
    before = os.getcwd()
    programs.compile_all(["first", "second"], quiet=True)
    assert os.getcwd() == before
