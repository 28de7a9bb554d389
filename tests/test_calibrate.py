"""Simulation-based calibration: a right program passes, a wrong one is caught."""
import numpy as np
import pytest

from pystan_models import calibrate, programs

NORMAL = """// Normal mean and scale with proper priors: a calibration test subject.
data {
  int<lower=1> N;
  vector[N] y;
}
parameters {
  real mu;
  real<lower=0> sigma;
}
model {
  mu ~ normal(0, 1);
  sigma ~ lognormal(0, 0.5);
  y ~ normal(mu, SCALE);
}
"""


def simulate_normal(rng):
    mu, sigma = rng.normal(0, 1), rng.lognormal(0, 0.5)
    y = rng.normal(mu, sigma, size=20)
    return {"mu": mu, "sigma": sigma}, {"N": 20, "y": y.tolist()}


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    stan = tmp_path / "stan"
    stan.mkdir()
    (stan / "normal_right.stan").write_text(NORMAL.replace("SCALE", "sigma"))
    # the deliberate mistake: the likelihood uses twice the scale
    (stan / "normal_wrong.stan").write_text(NORMAL.replace("SCALE", "2 * sigma"))
    monkeypatch.setattr(programs, "STAN_DIR", stan)
    return tmp_path


def test_bins_divide_the_possible_ranks():
    assert calibrate.bins_for(50, 99) == 10 and calibrate.bins_for(30, 99) == 5
    assert calibrate.bins_for(1000, 99) == 20


def test_uniformity_verdict_on_known_ranks():
    rng = np.random.default_rng(0)
    import pandas as pd
    uniform = pd.DataFrame({"a": rng.integers(0, 100, 200)})
    uniform.attrs["draws"] = 99
    assert calibrate.uniformity(uniform)[1].startswith("calibrated")
    squeezed = pd.DataFrame({"a": rng.integers(40, 60, 200)})  # posterior too wide
    squeezed.attrs["draws"] = 99
    assert calibrate.uniformity(squeezed)[1].startswith("NOT calibrated")


@pytest.mark.slow
def test_right_program_passes_and_wrong_scale_is_caught(sandbox, cmdstan_home):
    kw = dict(seed=7, workers=2, draws=99, thin=2, warmup=300, progress=False)
    right = calibrate.Target("normal_right", ["mu", "sigma"], simulate_normal)
    wrong = calibrate.Target("normal_wrong", ["mu", "sigma"], simulate_normal)
    ranks = calibrate.calibrate(right, 60, sandbox / "right.jsonl", **kw)
    assert ranks.shape == (60, 2)
    assert calibrate.uniformity(ranks)[1].startswith("calibrated")
    ranks = calibrate.calibrate(wrong, 60, sandbox / "wrong.jsonl", **kw)
    table, verdict = calibrate.uniformity(ranks)
    assert verdict.startswith("NOT calibrated") and "sigma" in verdict


@pytest.mark.slow
def test_interrupted_run_resumes(sandbox, cmdstan_home):
    kw = dict(seed=3, workers=1, draws=19, thin=1, warmup=200, progress=False)
    target = calibrate.Target("normal_right", ["mu", "sigma"], simulate_normal)
    results = sandbox / "r.jsonl"
    first = calibrate.calibrate(target, 4, results, **kw)
    lines = results.read_text().splitlines()
    results.write_text("\n".join(lines[:3]) + "\n")  # as if stopped after 2 of 4
    again = calibrate.calibrate(target, 4, results, **kw)
    assert len(results.read_text().splitlines()) == 5  # header + 4, none run twice
    assert sorted(again["mu"]) == sorted(first["mu"])  # same seeds, same ranks
    with pytest.raises(Exception, match="other settings"):
        calibrate.calibrate(target, 4, results, **{**kw, "seed": 4})
