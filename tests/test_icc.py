"""ICC: one-way random effects on log radon by county; the posterior of rho against
REML (statsmodels) and the classical one-way ANOVA estimator."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from pystan_models import icc, report
from pystan_models.errors import DataError, PystanModelsError

from conftest import SHORT, assert_near_reference, assert_self_contained


def test_stan_data_dict():
    frame = icc.load()
    data = icc.stan_data(frame)
    assert (data["N"], data["J"]) == (919, 85)
    assert all(isinstance(g, int) for g in data["group"]) and set(data["group"]) == set(
        range(1, 86))
    assert data["y"][:2] == pytest.approx([0.78845736, 0.78845736])
    assert data["scale_prior_sd"] == 1.0 and data["prior_only"] == 0
    assert data["pointwise"] == 1
    # the collection's data contract: no predictors, so no K or X
    assert set(data) == {"N", "y", "J", "group", "scale_prior_sd", "alpha_prior_sd",
                         "prior_only", "pointwise", "centred"}
    assert data["alpha_prior_sd"] == 0.0   # the notes' flat p(alpha) by default
    assert data["centred"] == 0            # the notes' non-centred program
    assert icc.stan_data(frame, prior_only=True, pointwise=False)["pointwise"] == 0


# --- the answer, from constructed numbers (no sampling) ---------------------------

def constructed_table(rho_median=0.133, rho_sd=0.037, reml_rho=0.131):
    return pd.DataFrame(
        {"mean": [1.313, 0.315, 0.799, rho_median + 0.003],
         "sd": [0.049, 0.048, 0.020, rho_sd],
         "2.5%": [1.219, 0.227, 0.762, rho_median - 0.06],
         "50%": [1.312, 0.313, 0.798, rho_median],
         "97.5%": [1.409, 0.416, 0.838, rho_median + 0.083],
         "REML": [1.313, 0.310, 0.798, reml_rho]},
        index=icc.PARAMS)


ANOVA = {"rho": 0.130, "rho_lower": 0.079, "rho_upper": 0.199}


def test_answer_states_agreement_only_when_the_numbers_agree():
    text = icc.answer(constructed_table(), ANOVA, [])
    assert "rho = 0.133" in text and "agree" in text and "REML 0.131" in text
    # REML a whole posterior sd away from the median: no agreement claimed
    text = icc.answer(constructed_table(reml_rho=0.133 + 0.037), ANOVA, [])
    assert "agree" not in text and "differ" in text and "REML more than" in text
    assert "both inside the 95% posterior interval" in text
    text = icc.answer(constructed_table(reml_rho=0.40), ANOVA, [])
    assert "REML outside the 95% posterior interval" in text


def test_answer_with_failed_diagnostics_gives_no_posterior_conclusion():
    problems = ["R-hat of rho is 1.08 (above 1.01): the chains disagree"]
    text = icc.answer(constructed_table(), ANOVA, problems)
    assert "diagnostics failed" in text and problems[0][1:] in text
    assert "longer chains" in text
    rest = text.replace(problems[0][1:], "")
    assert "agree" not in rest and "0.133" not in rest   # no posterior median
    assert "REML 0.131" in text and "one-way ANOVA 0.130" in text


def test_shrinkage_note_names_its_source():
    assert "posterior median" in icc.shrinkage_note(0.133, False)
    note = icc.shrinkage_note(0.131, True)
    assert "REML" in note and "0.13 for one house" in note


def test_non_positive_prior_scale_is_an_error():
    with pytest.raises(DataError, match="prior scale must be positive"):
        icc.stan_data(icc.load(), scale_prior_sd=0.0)
    with pytest.raises(DataError, match="prior scale must be positive"):
        icc.stan_data(icc.load(), scale_prior_sd=float("nan"))
    with pytest.raises(DataError, match="prior scale must be positive and finite"):
        icc.stan_data(icc.load(), scale_prior_sd=float("inf"))


def test_anova_matches_statsmodels_anova_table():
    frame = icc.load()
    an = icc.anova(frame)
    table = sm.stats.anova_lm(smf.ols("log_radon ~ C(county)", frame).fit())
    assert an["F"] == pytest.approx(table.loc["C(county)", "F"], rel=1e-9)
    assert an["sigma"] ** 2 == pytest.approx(table.loc["Residual", "mean_sq"], rel=1e-9)
    # rho = (F - 1) / (F + n0 - 1) and the interval brackets the point estimate
    assert an["rho"] == pytest.approx((an["F"] - 1) / (an["F"] + an["n0"] - 1))
    assert an["rho_lower"] < an["rho"] < an["rho_upper"]
    # Gelman & Hill's counties: 85 groups of very unequal size, n0 well below the mean 10.8
    assert 9 < an["n0"] < 10.8


def test_reml_agrees_with_anova_on_radon():
    frame = icc.load()
    re, an = icc.reml(frame), icc.anova(frame)
    assert re["rho"] == pytest.approx(0.131, abs=0.001)
    assert re["sigma"] == pytest.approx(0.798, abs=0.001)
    assert abs(re["rho"] - an["rho"]) < 0.01


def test_nan_in_data_fails_before_sampling(tmp_path, capsys):
    lines = icc.DATA.read_text().splitlines()
    lines[3] = lines[3].replace("1.06471073699243", "nan")
    bad = tmp_path / "radon.csv"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "icc.html"
    assert icc.main(["--data", str(bad), "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "row 3 (line 4), column 'log_radon'" in err and "Traceback" not in err
    assert not out.exists()


def test_load_takes_a_frame_and_names_column_and_row_of_a_bad_value():
    good = pd.read_csv(icc.DATA)
    frame = icc.load(good)
    assert frame.attrs["source"] == "data frame" and len(frame) == 919
    bad = good.copy()
    bad.loc[2, "log_radon"] = float("nan")
    with pytest.raises(DataError, match=r"data frame, row 3, column 'log_radon'"):
        icc.analyse(bad, quiet=True)   # before anything compiles
    bad = good.copy()
    bad.loc[4, "log_radon"] += 0.5      # no longer log(radon)
    with pytest.raises(DataError, match=r"row 5, column 'log_radon'.*log\(radon\)"):
        icc.load(bad)


def test_analyse_checks_options_before_sampling():
    with pytest.raises(PystanModelsError, match="unknown option"):
        icc.analyse(chain=2)
    with pytest.raises(DataError, match="prior scale must be positive"):
        icc.analyse(scale_prior_sd=-1.0, quiet=True)


# --- compile and sample -------------------------------------------------------------

@pytest.fixture(scope="module")
def results(cmdstan_home):
    # a DataFrame in memory, the library's way in
    return icc.analyse(pd.read_csv(icc.DATA), chains=SHORT.chains,
                       iter_warmup=SHORT.iter_warmup, iter_sampling=SHORT.iter_sampling,
                       seed=SHORT.seed, quiet=True)


@pytest.fixture(scope="module")
def fit(results):
    return results.fits["oneway"]


@pytest.mark.slow
def test_analyse_returns_results(results):
    assert results.passed and results.problems == []
    assert results.data["radon"].attrs["source"] == "data frame"
    table = results.table("estimates")
    assert list(table.index) == icc.PARAMS and {"REML", "one-way ANOVA"} <= set(table)
    assert results.table("counties").shape[0] == 85
    assert results.table("efficiency").index.tolist() == ["oneway"]
    rho = table.loc["rho"]
    assert f"rho = {rho['50%']:.3f}" in results.answer and "agree" in results.answer
    assert results.answer == icc.answer(table, results.extras["classical"]["one-way ANOVA"],
                                        [])


@pytest.mark.slow
def test_posterior_matches_reml(fit):
    # 85 groups and weak half-normal(0, 1) priors: the posterior mean of each of
    # alpha, sigma_beta, sigma and rho sits within 0.2 posterior sd (+ 3 MCSE) of REML
    assert_near_reference(fit.table(icc.PARAMS), icc.reml(icc.load()))
    assert fit.problems == []
@pytest.mark.slow
def test_rho_is_the_variance_ratio_of_each_draw(fit):
    post = fit.idata.posterior
    sb2, s2 = post["sigma_beta"].values ** 2, post["sigma"].values ** 2
    assert np.allclose(post["rho"].values, sb2 / (sb2 + s2))
    # the ANOVA interval and the central 95% posterior interval largely overlap
    lo, hi = np.quantile(post["rho"].values, [0.025, 0.975])
    an = icc.anova(icc.load())
    assert lo < an["rho"] < hi and an["rho_lower"] < np.median(post["rho"]) < an["rho_upper"]


@pytest.mark.slow
def test_outputs(fit):
    post = fit.idata.posterior
    assert post["beta"].shape[2:] == (85,) and "LAC QUI PARLE" in post["beta"].county.values
    assert "log_radon" in fit.idata.log_likelihood and "log_radon" in fit.idata.posterior_predictive


@pytest.mark.slow
def test_report_is_complete_and_self_contained(tmp_path, cmdstan_home, monkeypatch):
    calls = []
    reml = icc.reml
    monkeypatch.setattr(icc, "reml", lambda frame: calls.append(1) or reml(frame))
    out = tmp_path / "icc.html"
    assert icc.main(["--chains", "2", "--iter-warmup", "200", "--iter-sampling", "200",
                     "--quiet", "--output", str(out)]) == 0
    html = out.read_text()
    for section in ["Data", "Model", "Estimates", "Posterior density of rho", "County means",
                    "Trace plots", "Timing", "Provenance"]:
        assert f">{section}</h2>" in html
    assert "one-way ANOVA" in html and "REML" in html and "icc_oneway.stan" in html
    assert_self_contained(html, 4)
    assert len(calls) == 1   # one REML fit for the whole report (issue 10)
    assert html.count(">Provenance</h2>") == 1
    # short chains: whichever way the diagnostics go, the answer agrees with them
    answer = html.split('<div class="answer">')[1].split("</div>")[0]
    if 'id="diagnostics-failed"' in html:
        assert "diagnostics failed" in answer and "agree with" not in answer
    else:
        assert "rho = " in answer


@pytest.mark.slow
def test_write_report_from_results(results, tmp_path):
    path = results.write_report(tmp_path / "icc.html")
    html = path.read_text()
    assert "data frame" in html and "scale_prior_sd = 1" in html
    # the model is described by the program's own header, once
    assert html.count(report.models(results.fits.values())) == 1
