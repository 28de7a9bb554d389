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
    assert set(data["y"]) == {0, 1} and 1 <= min(data["g"]) and max(data["g"]) <= 20
    assert data == bench.simulate_logistic(500, groups=20, k=3, seed=4), "seeded"


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
