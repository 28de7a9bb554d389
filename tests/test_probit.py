"""Probit: data checks, the Albert-Chib Gibbs sampler, NUTS vs Gibbs, logit vs probit."""

import arviz as az
import numpy as np
import pytest
import scipy.stats as st

from pystan_models import probit
from pystan_models.errors import DataError
from pystan_models.fitting import RunOptions, posterior_table

from conftest import SHORT, assert_near_reference, assert_self_contained

HEADER = "plate,germinated,total,seed_type,root_extract\n"


# ---------------------------------------------------------------- no CmdStan

def test_seeds_expand_to_one_bernoulli_row_per_seed():
    plates = probit.load()
    seeds = probit.expand(plates)
    assert len(plates) == 21 and len(seeds) == 831 and seeds.germinated.sum() == 424
    per_plate = seeds.groupby("plate").germinated.agg(["sum", "size"])
    assert per_plate["sum"].tolist() == plates.germinated.tolist()
    assert per_plate["size"].tolist() == plates.total.tolist()
    cells = probit.observed_cells(seeds)
    assert cells.seeds.tolist() == [272, 295, 123, 141]
    assert cells.germinated.tolist() == [99, 201, 49, 75]


def test_stan_data_dict():
    seeds = probit.expand(probit.load())
    data = probit.stan_data(seeds)
    assert data["N"] == 831 and data["K"] == 3 and data["G"] == 4
    x = np.array(data["x"])
    assert x.shape == (831, 3) and np.array_equal(x[:, 2], x[:, 0] * x[:, 1])
    assert all(type(v) is int for v in data["y"]) and sum(data["y"]) == 424
    assert data["x_new"] == [[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 1, 1]]
    assert data["prior_sd"] == 10.0 and data["pointwise"] == 0
    assert probit.stan_data(seeds, pointwise=True)["pointwise"] == 1


@pytest.mark.parametrize("rows, pattern", [
    ("1,40,39,0,0\n", r"row 1 \(line 2\), column 'germinated'.*more seeds germinated"),
    ("1,-1,39,0,0\n", r"row 1 \(line 2\), column 'germinated'.*negative count"),
    ("1,10.5,39,0,0\n", r"row 1 \(line 2\), column 'germinated'.*whole number"),
    ("1,10,39,0,0\n2,5,6,2,1\n", r"row 2 \(line 3\), column 'seed_type'.*not 0 or 1"),
    ("1,10,39,0,0.5\n", r"row 1 \(line 2\), column 'root_extract'.*whole number"),
    ("1,10,0,0,0\n", r"row 1 \(line 2\), column 'total'.*positive"),
    ("1,NaN,39,0,0\n", r"row 1 \(line 2\), column 'germinated'.*not a finite number"),
    ("1,10,39,0,0\n2,5,6,1\n", r"row 2 \(line 3\): 4 fields, but the header has 5"),
    ("1,10,39,0,0\n1,5,6,1,1\n", r"row 2 \(line 3\), column 'plate'.*listed twice"),
])
def test_bad_seeds_file_names_file_row_and_column(tmp_path, rows, pattern):
    path = tmp_path / "seeds.csv"
    path.write_text(HEADER + rows)
    with pytest.raises(DataError, match=pattern) as err:
        probit.load(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("x, y, sd, pattern", [
    (np.zeros((3, 2)), [0, 1], 10, "x has 3 rows but y has 2"),
    (np.zeros((3, 2)), [0, 1, 2], 10, "y must be 0 or 1; row 3 is 2"),
    (np.array([[0, 1], [np.nan, 0], [1, 1]]), [0, 1, 1], 10, "non-finite.*row 2"),
    (np.zeros((3, 2)), [0, 1, 1], 0, "prior_sd must be positive"),
])
def test_gibbs_rejects_bad_input_before_sampling(x, y, sd, pattern):
    with pytest.raises(DataError, match=pattern):
        probit.gibbs_probit(x, y, sd, RunOptions(chains=1, iter_warmup=1, iter_sampling=1))


@pytest.mark.parametrize("mu, y", [(0.3, 1), (0.3, 0), (-2.5, 1), (4.0, 0), (1.0, 1)])
def test_latent_draws_are_the_truncated_normal(mu, y):
    # The inverse-CDF draw must match scipy's truncated normal exactly in law.
    rng = np.random.default_rng(7)
    u = probit.truncated_latent(np.full(20000, mu), np.full(20000, y), rng)
    lower, upper = (-mu, np.inf) if y == 1 else (-np.inf, -mu)
    assert (u > 0).all() if y == 1 else (u <= 0).all()
    assert st.kstest(u, st.truncnorm(lower, upper, loc=mu).cdf).pvalue > 1e-3


def test_latent_draws_are_finite_far_in_the_tails():
    u = probit.truncated_latent(np.array([-40.0, 40.0, -40.0, 40.0]),
                                np.array([1, 0, 0, 1]), np.random.default_rng(1))
    assert np.isfinite(u).all() and u[0] > 0 and u[1] <= 0
    assert u[2] == pytest.approx(-40, abs=5) and u[3] == pytest.approx(40, abs=5)


@pytest.fixture(scope="module")
def gibbs():
    data = probit.stan_data(probit.expand(probit.load()))
    return probit.gibbs_probit(data["x"], data["y"], data["prior_sd"], SHORT,
                               x_new=data["x_new"])


def test_gibbs_matches_statsmodels_probit_mle(gibbs):
    # prior sd 10 against posterior sds near 0.1: the posterior mean sits within a
    # small fraction of a posterior sd of the MLE.
    table = posterior_table(gibbs.idata, probit.PARAMS)
    mle = probit.mle(probit.expand(probit.load()))["MLE"]
    assert_near_reference(table, mle.to_dict())
    assert table.r_hat.max() < 1.01 and table.ess_bulk.min() > 400


def test_gibbs_is_reproducible_and_shaped(gibbs):
    post = gibbs.idata.posterior
    assert post["beta"].shape == (SHORT.chains, SHORT.iter_sampling, 3)
    assert list(post["beta"].predictor.values) == probit.PREDICTORS
    assert post["p_new"].shape[2:] == (4,)
    data = probit.stan_data(probit.expand(probit.load()))
    runs = [probit.gibbs_probit(data["x"], data["y"], 10.0, RunOptions(2, 10, 20, seed, True))
            for seed in (5, 5, 6)]
    a, b, c = (r.idata.posterior["beta"].values for r in runs)
    np.testing.assert_array_equal(a, b)  # same seed, same draws
    assert not np.array_equal(a, c)      # another seed, other draws
    assert not np.array_equal(a[0], a[1])  # chains are independent streams


# ---------------------------------------------------------------- CmdStan

@pytest.fixture(scope="module")
def fits(cmdstan_home):
    return probit.fit_all(probit.expand(probit.load()), SHORT)


@pytest.mark.slow
def test_nuts_and_gibbs_give_the_same_posterior(fits):
    nuts, gibbs = fits["probit NUTS"], fits["probit Gibbs"]
    agree = probit.agreement(nuts, gibbs)
    # Two correct samplers of one posterior: the difference of the means is
    # N(0, mcse_1^2 + mcse_2^2); 4 combined MCSEs is a false alarm about once in
    # 4,000 parameters.
    assert agree["difference / combined MCSE"].abs().max() < 4
    # posterior sds: within 4 combined Monte Carlo errors of the sd estimates
    sd_n = az.mcse(nuts.idata, var_names=probit.PARAMS, method="sd")
    sd_g = az.mcse(gibbs.idata, var_names=probit.PARAMS, method="sd")
    for v in probit.PARAMS:
        diff = np.abs(nuts.idata.posterior[v].std(("chain", "draw"))
                      - gibbs.idata.posterior[v].std(("chain", "draw")))
        assert (diff <= 4 * np.hypot(sd_n[v], sd_g[v])).all(), v
    assert nuts.problems == []


@pytest.mark.slow
def test_nuts_probit_matches_statsmodels_mle(fits):
    table = posterior_table(fits["probit NUTS"].idata, probit.PARAMS)
    mle = probit.mle(probit.expand(probit.load()))["MLE"]
    assert_near_reference(table, mle.to_dict())


@pytest.mark.slow
def test_logit_coefficients_are_about_1_6_times_probit(fits):
    coef, fitted = probit.link_comparison(fits["probit NUTS"], fits["logit NUTS"])
    clear = coef[coef["clearly non-zero"] == "yes"]
    # the intercept and the root-extract effect are many sds from zero
    assert {"alpha", "beta[root_extract]"} <= set(clear.index)
    assert clear["logit / probit"].between(1.5, 1.9).all()
    assert fits["logit NUTS"].problems == []


@pytest.mark.slow
def test_fitted_probabilities_agree_across_links(fits):
    _, fitted = probit.link_comparison(fits["probit NUTS"], fits["logit NUTS"])
    cells = probit.observed_cells(probit.expand(probit.load()))
    assert fitted["|difference|"].max() < 0.01
    # saturated in the four cells: both links reproduce the observed proportions
    np.testing.assert_allclose(fitted.probit, cells["observed proportion"], atol=0.01)
    np.testing.assert_allclose(fitted.logit, cells["observed proportion"], atol=0.01)


@pytest.mark.slow
def test_plate_check_finds_the_known_overdispersion(fits):
    check, t_obs, ppp = probit.plate_check(probit.load(), fits["probit NUTS"], seed=3)
    # Crowder (1978): the plates are overdispersed relative to the binomial; the
    # residual deviance of this model is about 33 on 17 df.
    assert len(check) == 21 and t_obs > 25 and ppp < 0.1


@pytest.mark.slow
@pytest.mark.parametrize("program, inverse_link", [
    ("probit_regression", lambda eta: st.norm.cdf(eta)),
    ("logistic_regression", lambda eta: 1 / (1 + np.exp(-eta)))])
def test_pointwise_log_lik_and_y_rep(program, inverse_link, cmdstan_home):
    # log_lik must be the Bernoulli log-probability of each seed at each draw
    seeds = probit.expand(probit.load())
    data = probit.stan_data(seeds, pointwise=True)
    f = probit.sample(program, data, RunOptions(1, 100, 20, 5, True), main=probit.PARAMS,
                      observed={"y": data["y"]})
    post = f.idata.posterior
    eta = (post["alpha"].values[0][:, None]
           + post["beta"].values[0] @ np.array(data["x"]).T)         # draws x seeds
    p = inverse_link(eta)
    y = np.array(data["y"])
    expected = np.where(y == 1, np.log(p), np.log1p(-p))
    # CmdStan writes 6 significant digits
    np.testing.assert_allclose(f.idata.log_likelihood["y"].values[0], expected, rtol=1e-4)
    y_rep = f.idata.posterior_predictive["y"].values
    assert y_rep.shape == (1, 20, 831) and set(np.unique(y_rep)) <= {0, 1}


@pytest.mark.slow
def test_efficiency_table(fits):
    eff = probit.efficiency(fits)
    assert list(eff.index) == ["probit NUTS", "logit NUTS", "probit Gibbs"]
    assert (eff["min bulk ESS"] > 400).all() and (eff["min bulk ESS / s (wall)"] > 0).all()


@pytest.mark.slow
def test_report_is_complete_and_self_contained(tmp_path, cmdstan_home):
    out = tmp_path / "probit.html"
    assert probit.main(["--chains", "2", "--iter-warmup", "300", "--iter-sampling", "300",
                        "--quiet", "--output", str(out)]) == 0
    html = out.read_text()
    for section in ["Data", "Model", "NUTS vs Gibbs: the same posterior",
                    "Efficiency: effective draws per second", "Logit vs probit",
                    "Plate-level check", "Provenance"]:
        assert f">{section}</h2>" in html
    assert "probit_regression.stan" in html and "logistic_regression.stan" in html
    assert "combined Monte Carlo standard errors" in html
    assert_self_contained(html, 5)


def test_failed_run_writes_no_report(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "1,10,39,0,2\n")
    out = tmp_path / "probit.html"
    assert probit.main(["--data", str(bad), "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "row 1 (line 2), column 'root_extract'" in err and "Traceback" not in err
    assert not out.exists()
