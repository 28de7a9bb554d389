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
    few = uniform.iloc[:6]
    assert calibrate.uniformity(few)[1].startswith("undecided")


@pytest.mark.slow
def test_schools_is_calibrated_and_a_wrong_scale_is_caught(tmp_path, monkeypatch,
                                                          cmdstan_home):
    from pystan_models.calibration_targets import TARGETS
    kw = dict(seed=7, workers=2, draws=99, thin=2, warmup=300, progress=False)
    right = TARGETS["schools_noncentered"]
    ranks = calibrate.calibrate(right, 50, tmp_path / "right.jsonl", **kw)
    assert ranks.shape == (50, 3)
    assert calibrate.uniformity(ranks)[1].startswith("calibrated")
    # the deliberate mistake: the likelihood reads the standard errors as variances,
    # so it is far too sure of the data.  (A mistake that makes the data
    # uninformative, e.g. square(sigma), leaves posterior = prior: SBC cannot see it.)
    stan = tmp_path / "stan"
    stan.mkdir()
    text = programs.stan_file("schools_noncentered").read_text()
    assert "y ~ normal(theta, sigma);" in text
    (stan / "schools_wrong_scale.stan").write_text(
        text.replace("y ~ normal(theta, sigma);", "y ~ normal(theta, sqrt(sigma));"))
    monkeypatch.setattr(programs, "STAN_DIR", stan)
    wrong = calibrate.Target("schools_wrong_scale", right.params, right.simulate)
    ranks = calibrate.calibrate(wrong, 50, tmp_path / "wrong.jsonl", **kw)
    verdict = calibrate.uniformity(ranks)[1]
    assert verdict.startswith("NOT calibrated"), verdict


def test_every_target_simulates_what_its_program_declares():
    from pystan_models.calibration_targets import TARGETS
    import re
    for name, target in TARGETS.items():
        truth, data = target.simulate(np.random.default_rng(0))
        assert set(truth) == set(target.params), name
        text = re.sub(r"//[^\n]*", "", programs.stan_file(target.program).read_text())
        block = re.search(r"\ndata \{(.*?)\n\}", text, re.S).group(1)
        declared = set(re.findall(r"(\w+);", block))
        assert declared == set(data), f"{name}: {declared ^ set(data)}"


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
