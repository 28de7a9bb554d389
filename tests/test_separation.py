"""Separation: ML runs off to infinity, the flat prior fails, weak priors stay finite."""
import re

import numpy as np
import pytest
from scipy import optimize, stats

from pystan_models import separation
from pystan_models.errors import DataError
from pystan_models.fitting import RunOptions, posterior_table

from conftest import SHORT, assert_self_contained

HEADER = "nv,pi,eh,hg\n"
GOOD = HEADER + "0,13,1.64,0\n1,16,2.26,1\n0,8,3.14,1\n"


# ---------------------------------------------------------------- no CmdStan

def test_shipped_data_has_the_separating_zero_cell():
    frame = separation.load()
    assert len(frame) == 79 and frame.hg.sum() == 30
    assert separation.separation_table(frame).to_numpy().tolist() == [[49, 17], [0, 13]]


def test_stan_data_and_scaling():
    frame = separation.load()
    data = separation.stan_data(frame, "Cauchy(0, 2.5)")
    assert data["N"] == 79 and data["K"] == 3 and data["binary"] == [1, 0, 0]
    assert np.shape(data["x"]) == (79, 3) and all(type(v) is int for v in data["y"])
    assert (data["prior_df"], data["prior_scale"], data["intercept_scale"]) == (1, 2.5, 10)
    assert "prior_df" not in separation.stan_data(frame)
    assert separation.stan_data(frame, "Student-t(7, 0, 2.5)")["prior_df"] == 7
    sc = separation.scaling(frame)
    assert sc.loc["NV", "scale"] == 1 and sc.loc["NV", "centre"] == pytest.approx(13 / 79)
    assert sc.loc["PI", "scale"] == pytest.approx(2 * frame.pi.std(), rel=1e-12)


@pytest.mark.parametrize("rows, pattern", [
    ("0,13,1.64,2\n", r"row 1 \(line 2\), column 'hg'.*not 0 or 1"),
    ("0.5,13,1.64,0\n", r"row 1 \(line 2\), column 'nv'.*whole number"),
    ("0,13,0,0\n", r"row 1 \(line 2\), column 'eh'.*positive"),
    ("0,13,NaN,0\n", r"row 1 \(line 2\), column 'eh'.*not a finite number"),
    ("0,-3,1.64,0\n", r"row 1 \(line 2\), column 'pi'.*cannot be negative"),
    ("0,13,1.64\n", r"row 1 \(line 2\): 3 fields, but the header has 4"),
])
def test_bad_file_names_file_row_and_column(tmp_path, rows, pattern):
    path = tmp_path / "endo.csv"
    path.write_text(HEADER + rows + GOOD[len(HEADER):])  # the bad row is row 1
    with pytest.raises(DataError, match=pattern) as err:
        separation.load(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("text, column", [
    (HEADER + "0,13,1.64,1\n1,16,2.26,1\n", "hg"),
    (HEADER + "0,13,1.64,1\n1,13,2.26,0\n", "pi"),
])
def test_constant_column_is_an_error(tmp_path, text, column):
    path = tmp_path / "endo.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=f"column '{column}'.*needs it to vary"):
        separation.load(path)


def test_maximum_likelihood_runs_off_to_infinity():
    frame = separation.load()
    ml = separation.mle(frame)
    t = ml["table"]
    # published R glm() fit: EH -2.90261 (se 0.84555), PI -0.04218, NV "18.19 (1715.75)"
    assert t.loc["beta[EH]", "GLM (IRLS) estimate"] == pytest.approx(-2.90261, abs=1e-4)
    assert t.loc["beta[PI]", "GLM (IRLS) estimate"] == pytest.approx(-0.04218, abs=1e-5)
    assert t.loc["beta[NV]", "GLM (IRLS) estimate"] > 10 and t.loc["beta[NV]", "GLM se"] > 100
    assert any("ConvergenceWarning" in w for w in ml["logit_warnings"])
    path = separation.mle_path(frame)
    late = path[path["IRLS iterations"] >= 10]
    # beta_NV climbs by one unit per iteration, its se explodes, EH's does not
    np.testing.assert_allclose(np.diff(late["beta[NV]"]) / np.diff(late["IRLS iterations"]),
                               1.0, atol=0.01)
    assert path["se ratio NV"].iloc[-1] > 1e5 and path["se ratio EH"].iloc[-1] < 2
    assert np.all(np.diff(path["se(beta[NV])"]) > 0)


def test_profile_likelihood_has_no_maximum():
    frame = separation.load()
    grid = np.linspace(0, 30, 31)
    prof = separation.profile_loglik(frame, grid)
    assert np.all(np.diff(prof) > -1e-7)  # never decreases
    # its supremum is the deviance 55.393 of the IRLS fit: -55.393 / 2
    assert prof[-1] == pytest.approx(-55.39326 / 2, abs=1e-4)
    assert prof[-1] - prof[3] < 0.5  # from beta_NV = 3 on, almost nothing to gain


# ---------------------------------------------------------------- CmdStan

# The weakly informative fits are cheap (about 1 s), so they get 1000 draws per
# chain: under Cauchy(0, 2.5) the posterior tail of beta_NV is the prior's
# Cauchy tail, which NUTS explores slowly, and 500 draws leave R-hat noisy.
WI_OPTS = RunOptions(chains=4, iter_warmup=1000, iter_sampling=1000, seed=1234, quiet=True)


@pytest.fixture(scope="module")
def flat(cmdstan_home):
    return separation.fit_flat(separation.load(), SHORT)


@pytest.fixture(scope="module")
def weak(cmdstan_home):
    return {name: separation.fit_weakly_informative(separation.load(), name, WI_OPTS)
            for name in separation.PRIORS}


@pytest.mark.slow
def test_flat_prior_fails(flat):
    table = posterior_table(flat.idata, separation.PARAMS)
    assert flat.problems, "the improper posterior must fail the diagnostics"
    assert table.loc["beta[NV]", "r_hat"] > 1.05
    assert np.median(separation.nv_draws(flat)) > 50  # drifting without bound


@pytest.mark.slow
@pytest.mark.parametrize("prior, upper, nv_rhat", [("Cauchy(0, 2.5)", 10, 1.05),
                                                   ("Student-t(7, 0, 2.5)", 6, 1.01)])
def test_weakly_informative_prior_gives_finite_sensible_estimates(weak, prior, upper,
                                                                  nv_rhat):
    f = weak[prior]
    t = posterior_table(f.idata, separation.PARAMS)
    draws = separation.nv_draws(f)
    mv = f.fit.method_variables()
    assert mv["divergent__"].sum() == 0 and (mv["treedepth__"] < 10).all()
    assert t.drop("beta[NV]").r_hat.max() < 1.01 and t.loc["beta[NV]", "r_hat"] < nv_rhat
    assert np.isfinite(draws).all()
    # positive and finite; same ballpark as Firth's 2.93, not equal to it
    assert 1 < t.loc["beta[NV]", "50%"] < upper and t.loc["beta[NV]", "2.5%"] > 0.3
    assert t.loc["beta[NV]", "97.5%"] < 100
    # where the data are informative, the medians sit near Firth's estimates
    for row in ["alpha", "beta[PI]", "beta[EH]"]:
        assert abs(t.loc[row, "50%"] - separation.FIRTH[row]) < 0.5 * t.loc[row, "sd"], row


@pytest.mark.slow
@pytest.mark.parametrize("prior", list(separation.PRIORS))
def test_stan_posterior_mode_matches_an_independent_optimizer(prior, cmdstan_home):
    # Maximise the same log posterior with scipy: scaled inputs, Student-t / Cauchy
    # priors, then back to the original scale.  Checks scaling, priors and the
    # back-transformation in the Stan program.
    frame = separation.load()
    spec = separation.PRIORS[prior]
    sc = separation.scaling(frame)
    x = frame[list(separation.INPUTS)].to_numpy(float)
    z = (x - sc.centre.to_numpy()) / sc.scale.to_numpy()
    y = frame.hg.to_numpy(float)

    def neg_log_post(theta):
        eta = theta[0] + z @ theta[1:]
        return -(y @ eta - np.logaddexp(0, eta).sum()
                 + stats.cauchy.logpdf(theta[0], scale=spec["intercept_scale"])
                 + stats.t.logpdf(theta[1:], spec["prior_df"], scale=spec["prior_scale"]).sum())

    res = optimize.minimize(neg_log_post, np.zeros(4), method="BFGS", options={"gtol": 1e-8})
    beta = res.x[1:] / sc.scale.to_numpy()
    ref = np.r_[res.x[0] - sc.centre.to_numpy() @ beta, beta]
    mode = separation.posterior_mode(frame, prior, SHORT)
    np.testing.assert_allclose(mode.to_numpy(), ref, atol=2e-3)
    assert 2 < mode["beta[NV]"] < 4.5  # a finite mode near Firth's 2.93


@pytest.mark.slow
def test_report_is_complete_and_marks_the_failing_case(tmp_path, cmdstan_home):
    out = tmp_path / "separation.html"
    assert separation.main(["--chains", "2", "--iter-warmup", "300", "--iter-sampling", "300",
                            "--quiet", "--output", str(out)]) == 0
    html = out.read_text()
    for section in ["Data", "Model", "1. Maximum likelihood: the estimate runs off to infinity",
                    "2. FAILING CASE: flat priors in Stan",
                    "3. Weakly informative priors (Gelman et al. 2008)", "Side by side",
                    "What the prior did", "Sampling efficiency", "Provenance"]:
        assert f">{section}</h2>" in html
    failed = re.search(r'id="diagnostics-failed">(.*?)</div>', html, re.S)
    assert failed is None or "failing case" not in failed.group(1), \
        "the failing case is listed apart from real failures"
    assert "Failing on purpose" in html and "(the posterior is improper): R-hat" in html
    assert "ConvergenceWarning" in html and "Firth" in html
    assert_self_contained(html, 3)


def test_failed_run_writes_no_report(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "0,13,1.64,0\n1,16,-2,1\n")
    out = tmp_path / "separation.html"
    assert separation.main(["--data", str(bad), "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "row 2 (line 3), column 'eh'" in err and "Traceback" not in err
    assert not out.exists()
