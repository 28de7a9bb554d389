"""ICC: one-way random effects on log radon by county; the posterior of rho against
REML (statsmodels) and the classical one-way ANOVA estimator."""

import numpy as np
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from pystan_models import icc
from pystan_models.errors import DataError
from pystan_models.fitting import posterior_table

from conftest import SHORT, assert_near_reference, assert_self_contained


def test_stan_data_dict():
    frame = icc.load()
    data = icc.stan_data(frame)
    assert (data["N"], data["J"]) == (919, 85)
    assert all(isinstance(g, int) for g in data["group"]) and set(data["group"]) == set(
        range(1, 86))
    assert data["y"][:2] == pytest.approx([0.78845736, 0.78845736])
    assert data["scale_prior_sd"] == 1.0 and data["prior_only"] == 0


def test_non_positive_prior_scale_is_an_error():
    with pytest.raises(DataError, match="prior scale must be positive"):
        icc.stan_data(icc.load(), scale_prior_sd=0.0)
    with pytest.raises(DataError, match="prior scale must be positive"):
        icc.stan_data(icc.load(), scale_prior_sd=float("nan"))


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


@pytest.fixture(scope="module")
def fit(cmdstan_home):
    return icc.fit(icc.load(), SHORT)


@pytest.mark.slow
def test_posterior_matches_reml(fit):
    # 85 groups and weak half-normal(0, 1) priors: the posterior mean of each of
    # alpha, sigma_beta, sigma and rho sits within 0.2 posterior sd (+ 3 MCSE) of REML
    table = posterior_table(fit.idata, icc.PARAMS)
    assert_near_reference(table, icc.reml(icc.load()))
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
def test_report_is_complete_and_self_contained(tmp_path, cmdstan_home):
    out = tmp_path / "icc.html"
    assert icc.main(["--chains", "2", "--iter-warmup", "200", "--iter-sampling", "200",
                     "--quiet", "--output", str(out)]) == 0
    html = out.read_text()
    for section in ["Data", "Model", "Estimates", "Posterior density of rho", "County means",
                    "Trace plots", "Timing", "Provenance"]:
        assert f">{section}</h2>" in html
    assert "one-way ANOVA" in html and "REML" in html and "icc_oneway.stan" in html
    assert_self_contained(html, 4)
