"""The centred / non-centred rule (pystan_models.centring), on simulated group
estimates with known data weights."""
import numpy as np
import pytest

from pystan_models import centring


def groups(tau, variance, j=400, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(0, tau, j) + rng.normal(0, np.sqrt(variance), j), np.full(j, variance)


@pytest.mark.parametrize("tau, variance, centred", [(0.5, 0.01, True), (0.3, 0.5, False),
                                                    (1.0, 0.25, True), (0.2, 0.25, False)])
def test_data_rich_groups_are_centred_and_sparse_ones_not(tau, variance, centred):
    choice = centring.choose("1|g", *groups(tau, variance))
    weight = tau ** 2 / (tau ** 2 + variance)          # the true median weight
    # the moment estimate of tau^2 has sd about sqrt(2 / J) (tau^2 + variance); 4 sds
    sd_tau2 = np.sqrt(2 / 400) * (tau ** 2 + variance)
    assert choice.centred is centred
    assert choice.weight == pytest.approx(weight, abs=4 * sd_tau2 * variance / (tau ** 2 + variance) ** 2)
    assert choice.tau ** 2 == pytest.approx(tau ** 2, abs=4 * sd_tau2)
    assert ("non-centred" in choice.sentence) is not centred


def test_no_spread_beyond_noise_gives_tau_zero_and_non_centred():
    est, var = groups(0.0, 0.1)
    assert centring.moment_tau(est, var) ** 2 < 4 * np.sqrt(2 / 400) * 0.1
    assert not centring.choose("1|g", est, var).centred


def test_groups_that_say_nothing_are_left_out_of_tau_and_weigh_zero():
    est, var = groups(0.5, 0.01, j=10)
    var[:6] = np.inf                       # six groups whose rows say nothing
    choice = centring.choose("x|g", est, var)
    assert choice.tau > 0.2 and not choice.centred and choice.weight == 0.0
