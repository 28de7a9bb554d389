"""Beetles: compile, sample, compare with Dobson's maximum-likelihood fits, report."""

import numpy as np
import pandas as pd
import pytest

from pystan_models import beetles
from pystan_models.fitting import posterior_table

from conftest import SHORT, assert_near_reference, assert_self_contained

# Dobson (1990), An Introduction to Generalized Linear Models: ML estimates.
DOBSON = {"logit": {"alpha": -60.72, "beta": 34.27},
          "probit": {"alpha": -34.94, "beta": 19.73},
          "cloglog": {"alpha": -39.57, "beta": 22.04}}


@pytest.fixture(scope="module")
def fits(cmdstan_home):
    return beetles.fit_links(beetles.load(), SHORT)


@pytest.mark.slow
@pytest.mark.parametrize("link", list(DOBSON))
def test_flat_prior_posterior_means_match_published_mle(fits, link):
    table = posterior_table(fits[link].idata, beetles.PARAMS)
    # Under a flat prior the posterior mode is the MLE; the mean sits a fraction of
    # a posterior sd away (skewness), hence 0.2 sd plus 3 Monte Carlo errors.
    assert_near_reference(table, DOBSON[link])
    assert fits[link].problems == []


@pytest.mark.slow
def test_statsmodels_mle_reproduces_dobson():
    frame = beetles.load()
    for link, ref in DOBSON.items():
        est = beetles.mle(frame, link)["MLE"]
        assert est["alpha"] == pytest.approx(ref["alpha"], abs=0.01)
        assert est["beta"] == pytest.approx(ref["beta"], abs=0.01)


@pytest.mark.slow
def test_fitted_probabilities_agree_far_more_than_coefficients(fits):
    diff, _, _ = beetles.max_fitted_difference(fits)
    betas = [fits[k].idata.posterior["beta"].mean().item() for k in DOBSON]
    assert diff < 0.1
    # coefficients differ by ~70% of their size; fitted probabilities by < 0.1
    assert (max(betas) - min(betas)) / min(betas) > 0.5


@pytest.mark.slow
def test_outputs_have_names_and_shapes(fits):
    post = fits["logit"].idata.posterior
    assert post["p_hat"].shape[2:] == (8,) and post["p_grid"].shape[2:] == (101,)
    # row positions, not doses, as coordinates (a repeated dose broke ArviZ's summary)
    assert list(post["p_hat"].dims[2:]) == ["row"]
    assert list(post["row"].values) == list(range(8))
    assert post.sizes["chain"] == SHORT.chains and post.sizes["draw"] == SHORT.iter_sampling
    assert "killed" in fits["logit"].idata.log_likelihood
    assert "killed" in fits["logit"].idata.posterior_predictive
    p = post["p_hat"].values
    assert np.all((p > 0) & (p < 1))


@pytest.mark.slow
def test_report_is_complete_and_self_contained(tmp_path, cmdstan_home):
    out = tmp_path / "beetles.html"
    assert beetles.main(["--chains", "2", "--iter-warmup", "300", "--iter-sampling", "300",
                         "--quiet", "--output", str(out)]) == 0
    html = out.read_text()
    for section in ["Data", "Coefficients by link", "Fitted probabilities",
                    "Posterior densities", "Trace plots", "LOO comparison", "Provenance"]:
        assert f">{section}</h2>" in html
    assert "CmdStan 2." in html and "seed 20261125" in html
    assert "beetles_cloglog.stan" in html
    # short chains: whichever way the diagnostics go, the answer agrees with them
    answer = html.split('<div class="answer">')[1].split("</div>")[0]
    if 'id="diagnostics-failed"' in html:
        assert answer.startswith("Sampler diagnostics failed") and "fits best" not in answer
    else:
        assert "fitted probabilities are close" in answer and "fits best" in answer
    assert_self_contained(html, 5)
    assert [p.name for p in tmp_path.iterdir()] == ["beetles.html"], "no temp files left"


def test_failed_run_writes_no_report(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("dose,killed,exposed\n1.7,70,60\n")
    out = tmp_path / "reports" / "beetles.html"
    assert beetles.main(["--data", str(bad), "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "row 1 (line 2), column 'killed'" in err and "Traceback" not in err
    assert not out.exists()


def test_bad_option_is_an_error(tmp_path, capsys):
    assert beetles.main(["--chains", "0", "--output", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert "chains must be" in err and "at least 1" in err


# --- the Stan data contract -------------------------------------------------------

def test_stan_data_follows_the_collection_contract():
    frame = beetles.load()
    data = beetles.stan_data(frame, grid_size=11)
    assert data["N"] == 8 and data["K"] == 1 and data["G"] == 11
    assert np.shape(data["X"]) == (8, 1) and np.shape(data["X_grid"]) == (11, 1)
    assert data["X"][0] == [1.6907] and data["y"][5] == 53 and data["trials"][5] == 59
    assert all(isinstance(v, int) for v in data["trials"] + data["y"])
    assert data["X_grid"][0][0] < 1.6907 and data["X_grid"][-1][0] > 1.8839
    assert data["prior_only"] == 0 and data["pointwise"] == 1
    assert beetles.stan_data(frame, prior_only=True, pointwise=False)["prior_only"] == 1
    assert data["prior_sd"] == 0.0   # the notes' flat prior unless asked
    assert beetles.stan_data(frame, prior_sd=2.5)["prior_sd"] == 2.5
    with pytest.raises(Exception, match="prior_sd"):
        beetles.stan_data(frame, prior_sd=-1.0)


# --- when the maximum-likelihood estimate (and a proper flat-prior posterior) exists --

def frame_of(rows):
    return pd.DataFrame(rows, columns=["dose", "killed", "exposed"])


@pytest.mark.parametrize("rows, words", [
    ([(1.7, 3, 10)], "one dose group"),
    ([(1.7, 3, 10), (1.7, 5, 10)], "same dose"),
    ([(1.7, 0, 10), (1.8, 0, 10)], "no beetle died"),
    ([(1.7, 10, 10), (1.8, 10, 10)], "every beetle died"),
    ([(1.7, 0, 10), (1.8, 4, 10), (1.9, 10, 10)], "separate the outcomes"),
    ([(1.7, 10, 10), (1.8, 0, 10), (1.9, 0, 10)], "separate the outcomes"),
    ([(1.7, 0, 10), (1.7, 4, 10), (1.9, 10, 10)], "separate the outcomes"),
])
def test_mle_problem_names_why_no_estimate_exists(rows, words):
    frame = frame_of(rows)
    assert words in beetles.mle_problem(frame)
    assert beetles.mle(frame, "logit").isna().all().all()


@pytest.mark.parametrize("rows", [
    [(1.7, 2, 10), (1.8, 4, 10)],                      # two doses: an exact fit
    [(1.7, 0, 10), (1.8, 4, 10), (1.9, 9, 10)],        # zeros at one end only
    [(1.7, 1, 10), (1.7, 3, 10), (1.8, 6, 10)],        # a repeated dose
])
def test_mle_exists_for_overlapping_outcomes(rows):
    frame = frame_of(rows)
    assert beetles.mle_problem(frame) is None
    assert np.isfinite(beetles.mle(frame, "cloglog")["MLE"]).all()


# --- the answer never contradicts its diagnostics (issue 15); no sampling ----------

def coef_table(alpha, beta, sd=(5.0, 3.0), mle=(-60.72, 34.27)):
    return pd.DataFrame({"mean": [alpha, beta], "sd": list(sd), "MLE": list(mle),
                         "MLE se": list(sd)}, index=beetles.PARAMS)


def good_inputs():
    coef = {"logit": coef_table(-61.26, 34.58),
            "probit": coef_table(-35.27, 19.92, (2.7, 1.5), (-34.94, 19.73)),
            "cloglog": coef_table(-39.90, 22.22, (3.1, 1.75), (-39.57, 22.04))}
    loo = pd.DataFrame({"elpd_loo": [-16.55, -20.98, -21.62], "elpd_diff": [0, 4.43, 5.06],
                        "dse": [0, 2.11, 2.16]}, index=["cloglog", "probit", "logit"])
    return coef, {k: [] for k in coef}, (0.064, "logit vs cloglog", 3), loo, []


def test_answer_states_computed_conclusions_when_diagnostics_pass():
    coef, problems, fitted, loo, notes = good_inputs()
    text = beetles.answer(beetles.load(), coef, problems, fitted, loo, notes)
    assert "34.58 (logit), 19.92 (probit), 22.22 (cloglog)" in text
    assert "ratio of 1.74" in text and "depend strongly" in text
    assert "fitted probabilities are close" in text and "at dose 1.7842" in text
    assert "cloglog fits best" in text
    assert "sit next to the maximum-likelihood estimates" in text
    assert "within 0.13 posterior sd" in text


def test_answer_claims_nothing_the_numbers_do_not_show():
    coef, problems, fitted, loo, notes = good_inputs()
    coef["logit"].loc["beta", "mean"] = 40.0          # 1.9 sd from its MLE
    loo.loc["probit", "elpd_diff"] = 3.0               # within 2 se of the best
    text = beetles.answer(beetles.load(), coef, problems, (0.15, "logit vs probit", 0),
                          loo, ["logit: 1 of 8 observations have Pareto k > 0.7"])
    assert "sit next to" not in text and "beta (logit) is 1.91 posterior sd away" in text
    assert "fits best" not in text and "does not single out one link" in text
    assert "are close" not in text and "differ too" in text
    assert "treat that comparison with caution" in text


@pytest.mark.parametrize("rows", [
    [(1.7, 3, 10)],                                    # one row
    [(1.69, 0, 59), (1.72, 0, 60), (1.76, 0, 62)],     # no deaths at all
])
def test_answer_without_an_mle_states_no_conclusion(rows):
    # what a run on such data produced: failed diagnostics and a slope of 9e29
    coef = {k: pd.concat([coef_table(-1.6e30, 9e29, (1e30, 1e30))[["mean", "sd"]],
                          beetles.mle(frame_of(rows), k)], axis=1) for k in beetles.LINKS}
    problems = {k: ["R-hat up to 3.1 (beta); chains disagree"] for k in coef}
    text = beetles.answer(frame_of(rows), coef, problems, (0.4, "logit vs probit", 0),
                          None, [])
    assert "Sampler diagnostics failed for the logit, probit and cloglog fits" in text
    assert "does not exist" in text and "improper" in text
    assert "longer chains will not help" in text
    for claim in ["sit next to", "fits best", "are close", "e+29", "9000"]:
        assert claim not in text


def test_answer_with_failed_diagnostics_only_gives_sampler_free_numbers():
    coef, problems, fitted, loo, notes = good_inputs()
    problems["probit"] = ["bulk ESS as low as 120 (beta); below 400"]
    text = beetles.answer(beetles.load(), coef, problems, fitted, loo, notes)
    assert text.startswith("Sampler diagnostics failed for the probit fit (listed below)")
    assert "run longer chains" in text and "34.27 (logit)" in text   # the MLE slopes
    for claim in ["34.58", "sit next to", "fits best", "are close"]:
        assert claim not in text


def test_answer_does_not_trust_passing_diagnostics_without_an_mle():
    coef, problems, fitted, loo, notes = good_inputs()
    frame = frame_of([(1.7, 0, 10), (1.8, 4, 10), (1.9, 10, 10)])
    text = beetles.answer(frame, coef, problems, fitted, loo, notes)
    assert text.startswith("The sampler diagnostics passed, but no conclusion is drawn")
    assert "separate the outcomes" in text and "sit next to" not in text


# --- repeated doses (issue 15): row positions as coordinates, labels in tables -----

@pytest.mark.slow
def test_repeated_dose_runs_to_a_report(tmp_path, cmdstan_home):
    frame = beetles.load()
    frame.loc[3, "dose"] = frame.loc[2, "dose"]                     # 1.7552 twice
    data = tmp_path / "repeated.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "beetles.html"
    assert beetles.main(["--data", str(data), "--chains", "2", "--iter-warmup", "200",
                         "--iter-sampling", "200", "--quiet", "--output", str(out)]) == 0
    html = out.read_text()
    assert html.count("1.7552") >= 4                   # both rows, data and fitted tables
    assert "Fitted probabilities" in html


@pytest.mark.slow
def test_every_dose_equal_gives_an_honest_answer(tmp_path, cmdstan_home):
    data = tmp_path / "same.csv"
    data.write_text("dose,killed,exposed\n1.7,6,59\n1.7,13,60\n1.7,18,62\n")
    out = tmp_path / "beetles.html"
    assert beetles.main(["--data", str(data), "--chains", "2", "--iter-warmup", "100",
                         "--iter-sampling", "100", "--quiet", "--output", str(out)]) == 0
    html = out.read_text()
    answer = html.split('<div class="answer">')[1].split("</div>")[0]
    assert "does not exist" in answer and "same dose" in answer
    assert "sit next to" not in answer and "fits best" not in answer
