"""Predictive checks (issue 12, part 2): the numbers beside ArviZ's figures, and
replicates made after sampling that leave the posterior draws as they were."""
import numpy as np
import pytest
import xarray as xr

from pystan_models import report, schools
from pystan_models.fitting import RunOptions, sample
from pystan_models.predictive import replicate


def tree(y, y_rep) -> xr.DataTree:
    dims = ("chain", "draw", "obs")
    return xr.DataTree.from_dict({
        "observed_data": xr.Dataset({"y": (("obs",), y)}),
        "posterior_predictive": xr.Dataset({"y": (dims, y_rep)})})


def test_a_model_that_matches_the_data_passes_and_one_that_does_not_fails():
    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    good = tree(y, rng.normal(size=(4, 100, 200)))
    bad = tree(y, 3 * rng.normal(size=(4, 100, 200)))
    assert "both inside 0.025 to 0.975" in report.ppc_statistics(good, "y", "continuous")
    assert "sd outside 0.025 to 0.975: the model misses it" in report.ppc_statistics(
        bad, "y", "continuous")


def test_counts_zeros_and_binomial_coverage():
    rng = np.random.default_rng(2)
    y = rng.poisson(1.0, 300)
    many_zeros = np.where(rng.random(300) < 0.5, 0, y)
    assert "(inside)" in report.ppc_statistics(tree(y, rng.poisson(1.0, (2, 200, 300))),
                                               "y", "counts")
    assert "(outside)" in report.ppc_statistics(
        tree(many_zeros, rng.poisson(1.0, (2, 200, 300))), "y", "counts")
    n = np.full(50, 40)
    y = rng.binomial(n, 0.3)
    text = report.ppc_statistics(tree(y, rng.binomial(n, 0.3, (2, 500, 50))), "y",
                                 "binomial")
    share = float(text.split("%")[0]) / 100
    assert 0.75 <= share <= 1.0 and "of the 50 observed counts" in text


@pytest.mark.slow
def test_replicates_after_sampling_leave_the_draws_alone(cmdstan_home):
    opts = RunOptions(chains=2, iter_warmup=200, iter_sampling=200, seed=3, quiet=True)
    frame = schools.load()
    data = schools.stan_data(frame, "half_cauchy", pointwise=False)
    f = sample("schools_noncentered", data, opts, main=["mu", "tau"],
               observed={"y": frame.effect.to_numpy()})
    assert "posterior_predictive" not in f.idata.children or \
        f.idata["posterior_predictive"]["y"].size == 0
    g = replicate(f, data, {"y": frame.effect.to_numpy()}, opts.seed)
    assert g.idata["posterior_predictive"]["y"].shape == (2, 200, 8)
    assert g.idata["log_likelihood"]["y"].shape == (2, 200, 8)
    np.testing.assert_array_equal(g.idata["posterior"]["tau"].values,
                                  f.idata["posterior"]["tau"].values)
