"""Installed as a user installs it: a wheel in a fresh virtual environment, an
example run from a folder that is not the checkout."""
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{cmd}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.slow
def test_wheel_installs_and_runs_an_example_anywhere(tmp_path, cmdstan_home):
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(dist), str(ROOT)])
    wheel, = dist.glob("pystan_models-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         str(wheel)])
    work = tmp_path / "elsewhere"
    work.mkdir()
    # the package and its programs come from the venv, not from this checkout
    where = run([str(python), "-c", "import pystan_models.resources as r; "
                 "print(r.STAN_DIR); print(r.DATA_DIR)"], cwd=work).stdout.split()
    assert all(str(env_dir) in w and "site-packages" in w for w in where), where
    assert (Path(where[0]) / "beetles_logit.stan").is_file()
    assert (Path(where[0]) / "include" / "binomial_links.stanfunctions").is_file()
    assert (Path(where[1]) / "beetles.csv").is_file()
    listing = run([str(python), "-m", "pystan_models"], cwd=work).stdout
    assert "beetles" in listing and "radon" in listing
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "CMDSTAN": str(cmdstan_home)}
    out = run([str(python), "-m", "pystan_models.beetles", "--chains", "2",
               "--iter-warmup", "200", "--iter-sampling", "200", "--quiet"],
              cwd=work, env=env)
    assert "report written to reports/beetles.html" in out.stdout
    html = (work / "reports" / "beetles.html").read_text()
    assert "Beetle mortality" in html and "beetles_cloglog.stan" in html
