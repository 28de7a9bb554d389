"""Beetles: compile, sample, compare with Dobson's maximum-likelihood fits, report."""

import numpy as np
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
    assert "beetles_cloglog.stan" in html and "largest absolute difference" in html
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
    assert "--chains must be at least 1" in capsys.readouterr().err
