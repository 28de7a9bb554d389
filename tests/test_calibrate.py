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
    """Each Stan target's data are exactly its program's data block (but the rows to
    predict, which programs.with_no_predictions leaves empty); each Gibbs
    target's sampler returns one chain of draws for exactly its parameters."""
    from pystan_models.calibration_targets import TARGETS
    import re
    for name, target in TARGETS.items():
        truth, data = target.simulate(np.random.default_rng(0))
        assert set(truth) == set(target.params), name
        assert all(np.isfinite(v) for v in truth.values()), name
        if target.sampler is not None:
            draws = target.sampler(data, 1, 20, 30)
            assert set(draws) == set(target.params), f"{name}: {set(draws)}"
            assert all(np.shape(v) == (30,) and np.all(np.isfinite(v))
                       for v in draws.values()), name
            continue
        text = re.sub(r"//[^\n]*", "", programs.stan_file(target.program).read_text())
        block = re.search(r"\ndata \{(.*?)\n\}", text, re.S).group(1)
        declared = set(re.findall(r"(\w+);", block))
        # the rows to predict are filled in empty for every fit (with_no_predictions)
        declared -= set(programs.prediction_fields(target.program))
        assert declared == set(data), f"{name}: {declared ^ set(data)}"


# issue 13: every program of the collection with a proper prior (or a proper
# switch), and the two numpy Gibbs samplers
COLLECTION = [
    "beetles_logit", "beetles_probit", "beetles_cloglog",
    "counts_poisson", "counts_overdispersed", "counts_hurdle",
    "counts_overdispersed_grouped", "probit_regression", "logistic_regression",
    "logistic_weakly_informative", "icc_oneway", "schools_noncentered",
    "schools_centered", "mixed_effects_clusters", "radon_intercepts_marginal",
    "rats_conjugate", "rats_marginal", "varying_intercept_logistic",
    "rats_gibbs", "probit_gibbs"]


def test_every_listed_program_is_a_target():
    from pystan_models.calibration_targets import TARGETS
    assert set(COLLECTION) <= set(TARGETS), set(COLLECTION) - set(TARGETS)
    for name, target in TARGETS.items():
        assert target.program == name, name   # results and reports are named by it
        assert target.note, name
        if target.sampler is None:
            assert programs.stan_file(target.program).is_file(), name
    assert TARGETS["rats_gibbs"].sampler is not None
    assert TARGETS["probit_gibbs"].sampler is not None


def test_count_simulators_stay_within_stan_int():
    """The count programs' priors can give Poisson means beyond 2^31: the
    simulators draw such data sets again rather than pass Stan a wrapped int."""
    from pystan_models.calibration_targets import TARGETS
    for name in ("counts_poisson", "counts_overdispersed", "counts_hurdle",
                 "counts_overdispersed_grouped"):
        for i in range(30):
            _, data = TARGETS[name].simulate(np.random.default_rng([13, i]))
            assert max(data["y"]) <= 2**31 - 1 and min(data["y"]) >= 0, name
            assert all(isinstance(v, int) for v in data["y"]), name


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


# --- on Dask ---------------------------------------------------------------------

@pytest.fixture
def two_workers():
    client = calibrate.client_for(None, workers=2)
    yield client
    client.close()
    client.cluster.close()


def _settings(program, **kw):
    return calibrate.Settings(program, **{"seed": 5, "draws": 19, "thin": 1,
                                          "warmup": 300, **kw})


@pytest.mark.slow
def test_a_killed_worker_loses_nothing_and_changes_nothing(sandbox, cmdstan_home,
                                                           two_workers):
    """One of two workers is killed while fits run: the calibration still records
    exactly N replications, each once, with the ranks of a clean run."""
    import os
    import signal
    target = calibrate.Target("normal_right", ["mu", "sigma"], simulate_normal)
    settings = _settings("normal_right", warmup=3000)
    n = 16
    exe = programs.load("normal_right", quiet=True).exe_file
    clean = {i: calibrate.replicate(target, settings, i, exe)["ranks"] for i in range(n)}
    recorded, killed = [], []

    def record(program, result):
        recorded.append(result)
        if len(recorded) == 3 and not killed:      # mid-run: kill a busy worker
            pids = two_workers.run(os.getpid)
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    calibrate.run([(target, settings, i) for i in range(n)], two_workers, record,
                  progress=False)
    assert killed, "a worker was killed"
    assert sorted(r["replication"] for r in recorded) == list(range(n)), "each once"
    assert all("ranks" in r for r in recorded), [r for r in recorded if "failed" in r]
    assert {r["replication"]: r["ranks"] for r in recorded} == clean
    print(f"fault test: killed worker pid {killed[0]} after 3 of {n} results; "
          f"{len(recorded)} recorded, ranks identical to the clean run")


@pytest.mark.slow
def test_failed_fits_are_recorded_with_their_reason_once(sandbox, cmdstan_home, tmp_path,
                                                          two_workers):
    def broken_data(rng):   # the program needs N and y: CmdStan refuses the data
        truth, data = simulate_normal(rng)
        return truth, {"N": data["N"], "y": data["y"][:3]}
    target = calibrate.Target("normal_right", ["mu", "sigma"], broken_data)
    results = tmp_path / "broken.jsonl"
    ranks = calibrate.calibrate(target, 4, results, client=two_workers, progress=False,
                                seed=5, draws=19, thin=1, warmup=100)
    assert len(ranks) == 0 and sorted(ranks.attrs["failed"]) == [0, 1, 2, 3]
    assert all("RuntimeError" in why or "Error" in why
               for why in ranks.attrs["failed"].values())
    again = calibrate.calibrate(target, 4, results, client=two_workers, progress=False,
                                seed=5, draws=19, thin=1, warmup=100)
    assert len(results.read_text().splitlines()) == 5, "not retried, not recorded twice"
    assert sorted(again.attrs["failed"]) == [0, 1, 2, 3]
    slow = calibrate.Target("normal_right", ["mu", "sigma"], simulate_normal)
    # a fit of 10^6 warmup iterations (seconds) against a limit of 0.3 s: with a limit
    # of 1 ms a short fit could end before cmdstanpy's timer thread fired (seen once)
    timed = calibrate.calibrate(slow, 2, tmp_path / "timeout.jsonl", client=two_workers,
                                progress=False, seed=5, draws=19, thin=1, warmup=10**6,
                                timeout=0.3)
    assert sorted(timed.attrs["failed"]) == [0, 1]
    assert all("imeout" in why for why in timed.attrs["failed"].values())


@pytest.mark.slow
def test_workers_compile_through_one_shared_cache(tmp_path, monkeypatch, cmdstan_home):
    """Two workers on one empty cache folder, each compiling the program itself (as
    on a cluster): one executable lands in the cache, every replication runs."""
    from pystan_models.calibration_targets import TARGETS
    monkeypatch.setenv("PYSTAN_MODELS_CACHE", str(tmp_path / "shared-cache"))
    client = calibrate.client_for(None, workers=2)
    try:
        target = TARGETS["schools_noncentered"]
        got = []
        calibrate.run([(target, _settings(target.program), i) for i in range(4)], client,
                      lambda program, r: got.append(r), progress=False, compile_here=False)
    finally:
        client.close()
        client.cluster.close()
    assert sorted(r["replication"] for r in got) == [0, 1, 2, 3]
    assert all("ranks" in r for r in got), got
    exes = [p for p in (tmp_path / "shared-cache").rglob("schools_noncentered")
            if p.is_file()]
    assert len(exes) == 1, exes
    assert not [p for p in (tmp_path / "shared-cache").rglob(".*-*") if p.is_dir()]
