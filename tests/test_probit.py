"""Probit: data checks, the Albert-Chib Gibbs sampler, NUTS vs Gibbs, logit vs probit."""
import re

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st

from pystan_models import probit, programs
from pystan_models.errors import DataError, PystanModelsError
from pystan_models.fitting import RunOptions, from_draws, mcse, posterior_table

from pystan_models.programs import STAN_DIR

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
    x = np.array(data["X"])
    assert x.shape == (831, 3) and np.array_equal(x[:, 2], x[:, 0] * x[:, 1])
    assert all(type(v) is int for v in data["y"]) and sum(data["y"]) == 424
    assert data["X_new"] == [[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 1, 1]]
    assert data["prior_sd"] == 10.0 and data["pointwise"] == 0 and data["prior_only"] == 0
    assert probit.stan_data(seeds, pointwise=True)["pointwise"] == 1
    assert probit.stan_data(seeds, prior_only=True)["prior_only"] == 1
    # the data contract: the same names in both programs, nothing else
    for program in ("probit_regression", "logistic_regression"):
        declared = re.findall(r"^\s+\S.*?\b(\w+);", _data_block(program), re.M)
        assert sorted(declared) == sorted(programs.with_no_predictions(program, data)), \
            program


def _data_block(program: str) -> str:
    text = re.sub(r"//[^\n]*", "", (STAN_DIR / f"{program}.stan").read_text())
    return re.search(r"^data \{(.*?)^\}", text, re.S | re.M).group(1)


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
    return probit.gibbs_probit(data["X"], data["y"], data["prior_sd"], SHORT,
                               x_new=data["X_new"])


def test_gibbs_matches_statsmodels_probit_mle(gibbs):
    # prior sd 10 against posterior sds near 0.1: the posterior mean sits within a
    # small fraction of a posterior sd of the MLE.
    table = gibbs.table(probit.PARAMS)
    mle = probit.mle(probit.expand(probit.load()))["MLE"]
    assert_near_reference(table, mle.to_dict())
    assert table.r_hat.max() < 1.01 and table.ess_bulk.min() > 400
    assert gibbs.problems == [] and gibbs.fit is None and gibbs.sampler.startswith("Albert")


def test_gibbs_is_reproducible_and_shaped(gibbs):
    post = gibbs.idata.posterior
    assert post["beta"].shape == (SHORT.chains, SHORT.iter_sampling, 3)
    assert list(post["beta"].predictor.values) == probit.PREDICTORS
    assert post["p_new"].shape[2:] == (4,)
    data = probit.stan_data(probit.expand(probit.load()))
    runs = [probit.gibbs_probit(data["X"], data["y"], 10.0, RunOptions(2, 10, 20, seed, True))
            for seed in (5, 5, 6)]
    a, b, c = (r.idata.posterior["beta"].values for r in runs)
    np.testing.assert_array_equal(a, b)  # same seed, same draws
    assert not np.array_equal(a, c)      # another seed, other draws
    assert not np.array_equal(a[0], a[1])  # chains are independent streams


@pytest.mark.parametrize("change, pattern", [
    ({"seed_type": [0, 2]}, r"data frame.*row 2.*column 'seed_type'.*not 0 or 1"),
    ({"germinated": [10, 7], "total": [39, 6]},
     r"data frame.*row 2.*column 'germinated'.*more seeds germinated"),
    ({"total": [39, -6]}, r"data frame.*row 2.*column 'total'"),
])
def test_bad_frame_is_refused_naming_column_and_row(change, pattern):
    frame = pd.DataFrame({"plate": [1, 2], "germinated": [10, 5], "total": [39, 6],
                          "seed_type": [0, 1], "root_extract": [0, 1]})
    frame = frame.assign(**change)
    with pytest.raises(DataError, match=pattern):
        probit.analyse(frame)          # refused before anything compiles
    with pytest.raises(DataError, match=pattern):
        probit.load(frame)


@pytest.mark.parametrize("kwargs, pattern", [({"prior_sd": 0}, "prior-sd"),
                                             ({"prior_sd": float("nan")}, "prior-sd"),
                                             ({"chains": 0}, "chains"),
                                             ({"warmup": 10}, "unknown option")])
def test_bad_options_are_refused_before_sampling(kwargs, pattern):
    with pytest.raises(PystanModelsError, match=pattern):
        probit.analyse(**kwargs)


# ---------------------------------------------------------------- the answer, no CmdStan

ROWS = probit.row_names()


def _tables(mean_z=(0.2, -0.5, 1.1, 0.3), sd_z=(0.4, -0.2, 0.1, 0.9),
            ratios=(1.60, 1.62, 1.58, 1.61), clear=("yes", "no", "yes", "yes")):
    """Constructed inputs for probit.answer, shaped like the real ones."""
    agree = pd.DataFrame({"difference / combined MCSE": mean_z,
                          "sd difference / combined MCSE": sd_z,
                          "sd ratio": [1.01, 0.98, 1.02, 0.99]}, index=ROWS)
    eff = pd.DataFrame({"min bulk ESS / s": [120.0, 200.0, 900.0]},
                       index=["probit NUTS", "logit NUTS", "probit Gibbs"])
    coef = pd.DataFrame({"logit / probit": ratios, "clearly non-zero": clear}, index=ROWS)
    fitted = pd.DataFrame({"|difference|": [0.0004, 0.0009, 0.0002, 0.0001]})
    ml = pd.DataFrame({"MLE": [-0.348, 0.090, 0.819, -0.482]}, index=ROWS)
    return agree, eff, coef, fitted, ml


PASSED = {"probit NUTS": [], "probit Gibbs": [], "logit NUTS": []}


def test_answer_states_agreement_when_everything_passed():
    text = probit.answer(*_tables(), PASSED)
    assert text.startswith("NUTS and the Albert-Chib Gibbs sampler agree")
    assert "at most 1.1 combined Monte Carlo standard errors (beta[root_extract])" in text
    assert "120 and Gibbs 900 effective draws" in text
    assert "1.60, 1.58, 1.61 times" in text and "the usual factor" in text
    assert "failed" not in text


def test_answer_reports_disagreement_from_the_numbers():
    text = probit.answer(*_tables(mean_z=(0.2, -6.3, 1.1, 0.3)), PASSED)
    assert "do not agree" in text and "beta[seed_type] differs by 6.3" in text
    assert "sampler agree:" not in text and "Gibbs 900" not in text
    text = probit.answer(*_tables(sd_z=(0.2, 0.1, 5.0, 0.3)), PASSED)
    assert "posterior sd of beta[root_extract] differs by 5.0" in text


def test_answer_does_not_call_an_unusual_ratio_usual():
    text = probit.answer(*_tables(ratios=(1.2, 1.6, 2.4, 1.6)), PASSED)
    assert "not all within 1.5-1.9" in text and "the usual factor of about" in text
    text = probit.answer(*_tables(clear=("no",) * 4), PASSED)
    assert "No coefficient is clearly non-zero" in text and "times the probit" not in text


@pytest.mark.parametrize("failed, absent, present", [
    ("probit Gibbs", ["agree", "effective draws"], ["times the probit"]),
    ("logit NUTS", ["times the probit", "fitted germination"], ["sampler agree:"]),
    ("probit NUTS", ["agree", "effective draws", "times the probit"], []),
])
def test_answer_makes_no_claim_that_rests_on_a_failed_fit(failed, absent, present):
    problems = {**PASSED, failed: ["R-hat up to 1.200 (alpha); chains disagree"]}
    text = probit.answer(*_tables(), problems)
    assert text.startswith(f"Sampler diagnostics failed for the {failed} fit")
    assert "run longer chains" in text
    for claim in absent:
        assert claim not in text, claim
    for claim in present:
        assert claim in text, claim
    # the sampler-free numbers are still given
    assert "-0.348 (alpha)" in text and "0.819 (beta[root_extract])" in text


def test_mcse_and_mle_helpers_on_constructed_draws():
    rng = np.random.default_rng(2)
    post = {"alpha": rng.normal(1.0, 0.5, (4, 500)), "beta": rng.normal(0, 1, (4, 500, 3))}
    idata = from_draws(post, coords={"predictor": probit.PREDICTORS},
                       dims={"beta": ["predictor"]})
    m = probit.mcse_sd(idata)
    assert list(m.index) == ROWS and (m > 0).all() and (m < 0.05).all()
    table = posterior_table(idata, probit.PARAMS)
    gap, where = probit.mle_gap(table, pd.DataFrame({"MLE": [1.0, 0.0, 0.0, 3.0]},
                                                    index=ROWS))
    assert where == "beta[seed_type:root_extract]" and gap == pytest.approx(3, abs=0.2)


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
    # 16,000 parameters.
    assert agree["difference / combined MCSE"].abs().max() < 4
    # posterior sds: within 4 combined Monte Carlo errors of the sd estimates
    sd_n = mcse(nuts.idata, probit.PARAMS, method="sd")
    sd_g = mcse(gibbs.idata, probit.PARAMS, method="sd")
    for v in probit.PARAMS:
        diff = np.abs(nuts.idata.posterior[v].std(("chain", "draw"))
                      - gibbs.idata.posterior[v].std(("chain", "draw")))
        assert (diff <= 4 * np.hypot(sd_n[v], sd_g[v])).all(), v
    assert nuts.problems == []


@pytest.mark.slow
def test_nuts_probit_matches_statsmodels_mle(fits):
    table = fits["probit NUTS"].table(probit.PARAMS)
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
           + post["beta"].values[0] @ np.array(data["X"]).T)         # draws x seeds
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
    assert (eff["min bulk ESS"] > 400).all() and (eff["min bulk ESS / s"] > 0).all()
    assert list(eff.sampler) == ["NUTS (CmdStan)", "NUTS (CmdStan)", "Albert-Chib Gibbs (numba)"]
    # the Gibbs chains run one after another: their sum is the wall time
    assert eff.loc["probit Gibbs", "sum of chain times (s)"] == eff.loc["probit Gibbs",
                                                                        "sampling (s)"]


@pytest.mark.slow
def test_report_is_complete_and_self_contained(tmp_path, cmdstan_home):
    out = tmp_path / "probit.html"
    assert probit.main(["--chains", "2", "--iter-warmup", "300", "--iter-sampling", "300",
                        "--quiet", "--output", str(out)]) == 0
    html = out.read_text()
    for section in ["Data", "Model", "NUTS vs Gibbs: one posterior, two samplers",
                    "Efficiency: effective draws per second", "Logit vs probit",
                    "Plate-level check", "Provenance"]:
        assert f">{section}</h2>" in html
    assert "probit_regression.stan" in html and "logistic_regression.stan" in html
    assert "combined Monte Carlo standard errors" in html
    # the model description is the program's own header, the Gibbs sampler is described
    assert "std_normal_lcdf" in html and "Albert-Chib Gibbs (numba)" in html
    assert_self_contained(html, 5)


@pytest.mark.slow
def test_analyse_a_frame_in_memory(tmp_path, cmdstan_home):
    # the library shape: a DataFrame in, Results out, the report written on request
    plates = probit.load()
    frame = pd.DataFrame({c: plates[c].tolist() for c in plates.columns})
    r = probit.analyse(frame, chains=2, iter_warmup=300, iter_sampling=300, seed=1,
                       quiet=True)
    assert list(r.fits) == ["probit NUTS", "logit NUTS", "probit Gibbs"]
    assert r.fits["probit Gibbs"].fit is None and r.fits["probit NUTS"].fit is not None
    assert r.fits["probit NUTS"].idata.posterior["beta"].shape == (2, 300, 3)
    for name in ["agreement", "efficiency", "coefficients", "fitted", "cells", "mle",
                 "plate_check"]:
        assert isinstance(r.table(name), pd.DataFrame), name
    assert r.data["plates"].attrs["source"] == "data frame"
    # the answer is the one computed from these numbers
    # (then the engine's sentence on the priors, if any)
    from pystan_models import priors
    assert r.answer == " ".join(filter(None, [
        probit.answer(r.table("agreement"), r.table("efficiency"),
                      r.table("coefficients"), r.table("fitted"),
                      probit.mle(probit.expand(plates)),
                      {k: f.problems for k, f in r.fits.items()}),
        priors.absurd_sentence(r.extras["prior clauses"])]))
    out = r.write_report(tmp_path / "probit.html")
    html = out.read_text()
    assert ">Provenance</h2>" in html and "data frame" in html
    with pytest.raises(PystanModelsError, match="no table 'nope'"):
        r.table("nope")


def test_failed_run_writes_no_report(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "1,10,39,0,2\n")
    out = tmp_path / "probit.html"
    assert probit.main(["--data", str(bad), "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "row 1 (line 2), column 'root_extract'" in err and "Traceback" not in err
    assert not out.exists()


def test_calibration_simulators_follow_the_data_contract():
    # the SBC targets build data for the same two programs: the same names
    from pystan_models import calibration_targets as ct
    names = set(probit.stan_data(probit.expand(probit.load())))
    for simulate in (ct.simulate_probit, ct.simulate_logit):
        truth, data = simulate(np.random.default_rng(1))
        assert set(data) == names and data["prior_only"] == 0
        assert set(truth) == {"alpha", "beta[1]", "beta[2]", "beta[3]"}
