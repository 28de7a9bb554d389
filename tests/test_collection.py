"""`python -m pystan_models all`: every example, one index, failures contained."""
import re
import sys
import types

import pytest

from pystan_models import EXAMPLES, collection
from pystan_models.__main__ import main as cli_main


def test_listing_names_every_example(capsys):
    assert cli_main([]) == 0
    out = capsys.readouterr().out
    for name in EXAMPLES:
        assert re.search(rf"^\s+{name}\s+\S", out, re.MULTILINE), name


def test_every_listed_example_has_the_library_shape():
    import importlib
    import inspect
    for name in EXAMPLES:
        module = importlib.import_module(f"pystan_models.{name}")
        for part in ("load", "analyse", "render", "main"):
            assert callable(getattr(module, part, None)), f"{name}.{part}"
        assert module.__doc__.splitlines()[0], name
        params = inspect.signature(module.analyse).parameters
        assert any(p.kind is p.VAR_KEYWORD for p in params.values()), \
            f"{name}.analyse takes the run options as keywords"


@pytest.mark.slow
def test_failing_example_is_a_row_and_does_not_stop_the_others(tmp_path, monkeypatch,
                                                               cmdstan_home):
    broken = types.ModuleType("pystan_models.broken")
    broken.analyse = lambda **run: 1 / 0
    monkeypatch.setitem(sys.modules, "pystan_models.broken", broken)
    monkeypatch.setitem(EXAMPLES, "broken", "an example with a bug")
    code = collection.run_all(["broken", "beetles"], tmp_path, quick=True, seed=5)
    assert code == 1
    html = (tmp_path / "index.html").read_text()
    assert "ZeroDivisionError" in html
    assert '<a href="beetles.html">beetles</a>' in html
    assert (tmp_path / "beetles.html").exists()
    row = re.search(r"beetles</a></td>(.*?)</tr>", html, re.S).group(1)
    assert "beetles_logit" in row and "beetles_cloglog" in row


def _fake(problems=(), notes=()):
    """An example whose analyse returns a Results with the given diagnostics."""
    from pystan_models.fitting import Fit, RunOptions
    from pystan_models.results import Results
    module = types.ModuleType("pystan_models.fake")

    def analyse(**run):
        f = Fit("fake_program", None, None, 1.0, notes=list(notes))
        return Results("fake", "A fake example", RunOptions(), {"fit": f}, {}, "answer",
                       problems=list(problems))
    module.analyse = analyse
    module.render = lambda results, rep: rep.section("Body", "<p>body</p>")
    return module


@pytest.mark.parametrize("problems, notes, code", [
    ((), ("bulk ESS as low as 250 — expected with --quick's short chains",), 0),
    (("R-hat up to 1.050 (beta); chains disagree",), (), 1),
])
def test_quick_runs_pass_on_ess_notes_and_fail_on_real_problems(tmp_path, monkeypatch,
                                                                problems, notes, code):
    monkeypatch.setitem(sys.modules, "pystan_models.fake", _fake(problems, notes))
    monkeypatch.setitem(EXAMPLES, "fake", "a fake example")
    assert collection.run_all(["fake"], tmp_path, quick=True, seed=5) == code
    html = (tmp_path / "fake.html").read_text()
    assert ("Short chains" in html) == bool(notes)
    assert ('id="diagnostics-failed"' in html) == bool(problems)
