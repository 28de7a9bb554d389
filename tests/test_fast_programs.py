"""The fast logistic program agrees with the plain one it replaces (same model)."""
import numpy as np
import pytest

from pystan_models import bench
from pystan_models.fitting import RunOptions, posterior_table, sample

OPTS = RunOptions(chains=4, iter_warmup=400, iter_sampling=400, seed=99, quiet=True)
MAIN = ["mu", "tau", "beta"]


def test_simulated_logistic_data_has_the_declared_shape():
    data = bench.simulate_logistic(500, groups=20, k=3, seed=4)
    assert data["N"] == 500 and np.shape(data["X"]) == (500, 3)
    assert set(data["y"]) == {0, 1} and 1 <= min(data["group"]) and max(data["group"]) <= 20
    assert (data["J"], data["prior_only"], data["pointwise"]) == (20, 0, 0)
    assert data == bench.simulate_logistic(500, groups=20, k=3, seed=4), "seeded"


def test_simulated_mixed_data_follows_the_contract():
    data = bench.simulate_mixed(300, groups=10, k=2, seed=4)
    assert (data["N"], data["K"], data["intercept"]) == (300, 2, 0)
    assert np.shape(data["X"]) == (300, 2) and (data["Q"], data["S"], data["C"]) == (10, 1, 1)
    assert (data["prior_only"], data["pointwise"]) == (0, 0)


def test_calibration_simulator_follows_the_contract():
    from pystan_models import calibration_targets
    truth, data = calibration_targets.simulate_varying_logistic(np.random.default_rng(3))
    assert set(truth) == {"mu", "tau", "beta[1]"} and truth["tau"] >= 0
    assert (data["N"], data["K"], data["J"]) == (600, 3, 20)
    assert len(data["group"]) == 600 and max(data["group"]) <= 20
    assert (data["prior_only"], data["pointwise"]) == (0, 0)


@pytest.mark.slow
def test_fast_logistic_matches_plain(cmdstan_home):
    data = bench.simulate_logistic(4000, groups=40, k=3, seed=2)
    plain = sample("varying_intercept_logistic", data, OPTS, main=MAIN,
                   y_rep=None, log_lik=None)
    # reduce_sum without STAN_THREADS runs its slices in turn: same numbers, and
    # no threaded build needed in the tests
    fast = sample("varying_intercept_logistic_fast", {**data, "grainsize": 250}, OPTS,
                  main=MAIN, y_rep=None, log_lik=None)
    a = posterior_table(plain.idata, MAIN)
    b = posterior_table(fast.idata, MAIN)
    se = np.hypot(a["mcse_mean"], b["mcse_mean"])
    z = (a["mean"] - b["mean"]).abs() / se
    assert (z < 4).all(), z
    assert ((a["sd"] - b["sd"]).abs() / a["sd"] < 0.15).all()
    # and both recover the simulation's truth: beta = (-1, 0, 1), mu = -0.5
    assert np.allclose(b.loc[["beta[0]", "beta[1]", "beta[2]"], "mean"], [-1, 0, 1],
                       atol=0.15)
    # the benchmark's row: steps counted from the sampler, time per step derived
    row = bench.fit_row(fast)
    steps = int(fast.fit.method_variables()["n_leapfrog__"].sum())
    assert row["program"] == "varying_intercept_logistic_fast"
    assert row["leapfrog steps"] == steps >= 4 * 400
    assert row["ms per 1000 steps"] == pytest.approx(1e6 * fast.seconds / steps)


@pytest.mark.slow
@pytest.mark.parametrize("program", ["varying_intercept_logistic",
                                     "varying_intercept_logistic_fast"])
def test_logistic_switches(cmdstan_home, program):
    data = {**bench.simulate_logistic(300, groups=10, k=2, seed=3), "grainsize": 100}
    if program == "varying_intercept_logistic":
        data.pop("grainsize")
    opts = RunOptions(chains=2, iter_warmup=300, iter_sampling=200, seed=7, quiet=True)
    # pointwise = 1: log_lik and y_rep, one per row and draw
    fit = sample(program, {**data, "pointwise": 1}, opts, main=MAIN,
                 observed={"y": data["y"]}).fit
    log_lik, y_rep = fit.stan_variable("log_lik"), fit.stan_variable("y_rep")
    assert log_lik.shape == y_rep.shape == (400, 300)
    assert (log_lik < 0).all() and set(np.unique(y_rep)) <= {0, 1}
    # the replicates' mean matches the data's (the model has an intercept)
    assert y_rep.mean() == pytest.approx(np.mean(data["y"]), abs=0.05)
    if program == "varying_intercept_logistic":
        # prior_only = 1 (non-centred: the prior has no funnel): tau ~ half-normal(0, 1)
        prior = sample(program, {**data, "prior_only": 1}, opts, main=MAIN).fit
        tau = prior.stan_variable("tau")
        assert tau.mean() == pytest.approx(np.sqrt(2 / np.pi), abs=0.12)
        assert prior.stan_variable("mu").std() == pytest.approx(2.5, rel=0.25)
