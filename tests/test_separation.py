"""Separation: ML runs off to infinity, the flat prior fails, weak priors stay finite."""
import re

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from pystan_models import programs, separation
from pystan_models.errors import DataError, PystanModelsError
from pystan_models.fitting import RunOptions, posterior_table

from pystan_models.programs import STAN_DIR

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
    assert np.shape(data["X"]) == (79, 3) and all(type(v) is int for v in data["y"])
    assert data["prior_only"] == 0 and data["pointwise"] == 1
    assert separation.stan_data(frame, prior_only=True, pointwise=False)["prior_only"] == 1
    assert (data["prior_df"], data["prior_scale"], data["intercept_scale"]) == (1, 2.5, 10)
    assert "prior_df" not in separation.stan_data(frame)
    assert separation.stan_data(frame, "Student-t(7, 0, 2.5)")["prior_df"] == 7
    # the data contract: each program declares exactly the names the dict carries
    for program, prior in [("logistic_flat", None),
                           ("logistic_weakly_informative", "Cauchy(0, 2.5)")]:
        text = re.sub(r"//[^\n]*", "", (STAN_DIR / f"{program}.stan").read_text())
        block = re.search(r"^data \{(.*?)^\}", text, re.S | re.M).group(1)
        declared = re.findall(r"^\s+\S.*?\b(\w+);", block, re.M)
        assert sorted(declared) == sorted(programs.with_no_predictions(
            program, separation.stan_data(frame, prior))), program
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


def test_firth_estimates_reproduce_the_published_values():
    # Heinze & Schemper (2002) / R's brglm: 3.77456, 2.92927, -0.03475, -2.60416
    est = separation.firth(separation.load())
    for row, published in separation.FIRTH.items():
        assert est[row] == pytest.approx(published, abs=1e-4), row
    assert separation._matches_published(est)


def test_separating_cells():
    frame = separation.load()
    assert separation.separating_cells(frame) == [(1, 1, 13)]
    mixed = frame.copy()
    mixed.loc[mixed.index[mixed.nv == 1][0], "hg"] = 0
    assert separation.separating_cells(mixed) == []


@pytest.mark.parametrize("change, pattern", [
    ({"hg": [0, 1, 2]}, r"data frame.*row 3.*column 'hg'.*not 0 or 1"),
    ({"pi": [13, -16, 8]}, r"data frame.*row 2.*column 'pi'.*cannot be negative"),
    ({"eh": [1.64, 2.26, 0.0]}, r"data frame.*row 3.*column 'eh'.*positive"),
    ({"nv": [0, 0, 0]}, r"data frame, column 'nv'.*needs it to vary"),
])
def test_bad_frame_is_refused_naming_column_and_row(change, pattern):
    frame = pd.DataFrame({"nv": [0, 1, 0], "pi": [13, 16, 8], "eh": [1.64, 2.26, 3.14],
                          "hg": [0, 1, 1]}).assign(**change)
    with pytest.raises(DataError, match=pattern):
        separation.analyse(frame)      # refused before anything compiles


def test_bad_run_option_is_refused():
    with pytest.raises(PystanModelsError, match="unknown option"):
        separation.analyse(prior="Cauchy")


# ---------------------------------------------------------------- the answer, no CmdStan

def _row(median, lo, hi, r_hat=1.001, ess=2000.0):
    return pd.Series({"50%": median, "2.5%": lo, "97.5%": hi, "r_hat": r_hat,
                      "ess_bulk": ess})


def _numbers(**changes):
    """Constructed inputs for separation.answer, shaped like key_numbers' output."""
    n = {"glm_nv": 22.2, "glm_se": 12678.0, "glm_iterations": 21,
         "glm_warned": "no warning", "logit_nv": 23.6, "logit_warned": "a ConvergenceWarning",
         "growth": 1.65, "step": 1.0, "flat_max": 49345.0,
         "nv": {separation.FLAT: _row(16230.0, 200.0, 40000.0, 2.09, 5.0),
                "Cauchy(0, 2.5)": _row(5.54, 1.31, 41.9),
                "Student-t(7, 0, 2.5)": _row(3.70, 1.05, 9.5)},
         "gain": {3.0: 0.45, 5.0: 0.07}, "drop": 4.1,
         "moved": {"Cauchy(0, 2.5)": 0.24, "Student-t(7, 0, 2.5)": 0.2}, "firth_nv": 2.93}
    n.update(changes)
    return n


FLAT_FAILED = {separation.FLAT: ["R-hat up to 2.090 (beta[NV]); chains disagree"],
               "Cauchy(0, 2.5)": [], "Student-t(7, 0, 2.5)": []}


def test_answer_when_only_the_failing_case_fails():
    text = separation.answer(_numbers(), [(1, 1, 13)], FLAT_FAILED)
    assert text.startswith("All 13 patients with neovasculization (nv = 1) have "
                           "high-grade histology")
    assert "With flat priors Stan fails in the same way" in text and "R-hat 2.09" in text
    assert "gives finite estimates: posterior median of beta_NV 5.54" in text
    assert "2.93, lies inside both 95% intervals" in text
    assert "The prior works because" in text and "barely move" in text
    assert "Sampler diagnostics failed" not in text


def test_answer_gives_no_estimate_from_a_failed_weakly_informative_fit():
    problems = {**FLAT_FAILED, "Cauchy(0, 2.5)": ["R-hat up to 1.060 (beta[NV])"]}
    text = separation.answer(_numbers(), [(1, 1, 13)], problems)
    assert "Sampler diagnostics failed for the Cauchy(0, 2.5) fit" in text
    assert "Run longer chains" in text and "heavy Cauchy tail" in text
    assert "5.54" not in text and "41.9" not in text       # its numbers are not given
    assert "3.70 (95% interval 1.05 to 9.5) under Student-t(7, 0, 2.5)" in text
    assert "inside that 95% interval" in text
    problems["Student-t(7, 0, 2.5)"] = ["bulk ESS as low as 50 (beta[NV])"]
    text = separation.answer(_numbers(), [(1, 1, 13)], problems)
    assert "finite estimates" not in text and "The prior works" not in text
    assert "barely move" not in text and "Firth" not in text
    assert "Cauchy(0, 2.5) and Student-t(7, 0, 2.5) fits" in text


def test_answer_claims_follow_the_numbers():
    n = _numbers(moved={"Cauchy(0, 2.5)": 1.3, "Student-t(7, 0, 2.5)": 0.2},
                 firth_nv=12.0)
    text = separation.answer(n, [(1, 1, 13)], FLAT_FAILED)
    assert "move too" in text and "up to 1.30 standard errors" in text
    assert "inside the Cauchy(0, 2.5) interval but outside the Student-t(7, 0, 2.5)" in text
    # without separation nothing runs off and the flat fit may pass
    n = _numbers(growth=1.0, glm_nv=1.5, glm_se=0.6,
                 nv={**_numbers()["nv"], separation.FLAT: _row(1.6, 0.4, 2.9)})
    passed = {k: [] for k in FLAT_FAILED}
    text = separation.answer(n, [], passed)
    assert text.startswith("No cell of the NV x HG table is empty")
    assert "Maximum likelihood converges: beta_NV = 1.50" in text
    assert "posterior median of beta_NV is 1.60" in text
    assert "infinity" not in text and "fails" not in text
    # separated, but a run too short to show the drift
    text = separation.answer(_numbers(), [(1, 1, 13)], passed)
    assert "passed its diagnostics, but" in text and "estimate nothing" in text


def test_firth_comparison_in_words():
    rows = separation.ROWS
    tables = {k: pd.DataFrame({"2.5%": [3.0, 1.0, -0.1, -4.0], "97.5%": [5.0, 40.0, 0.0, -1.0]},
                              index=rows) for k in separation.PRIORS}
    firth = pd.Series(separation.FIRTH)
    ok = {k: [] for k in [separation.FLAT, *separation.PRIORS]}
    assert "Every Firth estimate lies inside" in separation.firth_comparison(tables, firth, ok)
    tables["Cauchy(0, 2.5)"].loc["beta[EH]", "97.5%"] = -3.0
    text = separation.firth_comparison(tables, firth, ok)
    assert "outside the 95% posterior interval for beta[EH] (Cauchy(0, 2.5))" in text
    failed = {**ok, "Cauchy(0, 2.5)": ["R-hat"], "Student-t(7, 0, 2.5)": ["ESS"]}
    assert "not compared" in separation.firth_comparison(tables, firth, failed)


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


@pytest.mark.slow
def test_analyse_a_frame_in_memory_without_separation(tmp_path, cmdstan_home):
    # One nv = 1 patient with a low grade: the zero cell is gone, the MLE exists, the
    # flat-prior posterior is proper, and the answer must say so, not recite the
    # separation story.
    frame = separation.load()
    frame = pd.DataFrame({c: frame[c].tolist() for c in frame.columns})
    frame.loc[frame.index[frame.nv == 1][0], "hg"] = 0
    r = separation.analyse(frame, chains=2, iter_warmup=300, iter_sampling=300, seed=3,
                           quiet=True)
    assert list(r.fits) == [separation.FLAT, *separation.PRIORS]
    assert r.fits[separation.FLAT].idata.posterior["beta"].shape == (2, 300, 3)
    for name in ["separation", "scaling", "mle", "mle_path", "profile", "posterior",
                 "modes", "firth", "side_by_side", "efficiency"]:
        assert isinstance(r.table(name), pd.DataFrame), name
    assert r.table("posterior").loc[(separation.FLAT, "beta[NV]"), "50%"] < 10
    assert r.answer.startswith("No cell of the NV x HG table is empty")
    assert "Maximum likelihood converges" in r.answer and "infinity" not in r.answer
    # the example's answer, then the engine's sentence on the priors (if any)
    from pystan_models import priors
    assert r.answer == " ".join(filter(None, [
        separation.answer(r.extras["numbers"], r.extras["cells"],
                          {k: f.problems for k, f in r.fits.items()}),
        priors.absurd_sentence(r.extras["prior clauses"])]))
    html = r.write_report(tmp_path / "sep.html").read_text()
    assert "The NV x HG table has no empty cell" in html and "R's glm() stops" not in html
    assert ">Provenance</h2>" in html and "data frame" in html


def test_failed_run_writes_no_report(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "0,13,1.64,0\n1,16,-2,1\n")
    out = tmp_path / "separation.html"
    assert separation.main(["--data", str(bad), "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "row 2 (line 3), column 'eh'" in err and "Traceback" not in err
    assert not out.exists()
