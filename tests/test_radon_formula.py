"""radon on a user's data and formula (issue 11): the general mixed-effects program
fitted to simulated data with known parameters through the command line, the
tables named after the formula's terms, and the formulas it cannot fit."""
import re

import numpy as np
import pandas as pd
import pytest

from pystan_models import formula, radon
from pystan_models.errors import DataError

CHAINS = ["--chains", "4", "--iter-warmup", "300", "--iter-sampling", "300", "--quiet"]


def pupils(seed=20261202, schools=30, per_school=20):
    """score = 50 + 2 ses + school intercept (sd 3) + school ses slope (sd 1) * ses
    + noise (sd 5), ses ~ N(1, 2^2); score1 without the slopes; score2 without them
    but with a second grouping factor (district, sd 2)."""
    rng = np.random.default_rng(seed)
    school = np.repeat(np.arange(schools), per_school)
    n = len(school)
    ses = rng.normal(1.0, 2.0, n)
    a, b = rng.normal(0, 3.0, schools), rng.normal(0, 1.0, schools)
    district = rng.integers(0, 10, n)
    d = rng.normal(0, 2.0, 10)
    noise = rng.normal(0, 5.0, n)
    return pd.DataFrame({
        "score": 50 + 2.0 * ses + a[school] + b[school] * ses + noise,
        "score1": 50 + 2.0 * ses + a[school] + noise,
        "score2": 50 + 2.0 * ses + a[school] + d[district] + noise,
        "ses": ses, "school": [f"s{j:02d}" for j in school],
        "district": [f"d{k}" for k in district]})


TRUTH = {"Intercept": 50.0, "ses": 2.0, "sd(1|school)": 3.0, "sd(ses|school)": 1.0,
         "sigma": 5.0}
TRUTH2 = {"Intercept": 50.0, "ses": 2.0, "sd(1|school)": 3.0, "sd(1|district)": 2.0,
          "sigma": 5.0}


def assert_recovers(table, truth):
    """One simulated data set's posterior is centred on the truth only up to its
    posterior sd: |mean - truth| < 3.5 sd + 4 MCSE for each parameter."""
    for name, value in truth.items():
        row = table.loc[name]
        tol = 3.5 * row["sd"] + 4 * row["mcse_mean"]
        assert abs(row["mean"] - value) < tol, (name, row["mean"], value, tol)


def run(monkeypatch, tmp_path, frame, formula_text, *extra):
    """``radon.main`` on ``frame`` written to a CSV; returns (exit code, Results or
    None, report path)."""
    path, out = tmp_path / "data.csv", tmp_path / "out" / "x.html"
    frame.to_csv(path, index=False)
    seen = {}
    analyse = radon.analyse
    monkeypatch.setattr(radon, "analyse",
                        lambda *a, **k: seen.setdefault("r", analyse(*a, **k)))
    code = radon.main(["--data", str(path), "--formula", formula_text,
                       "--output", str(out), *CHAINS, *extra])
    return code, seen.get("r"), out


# --- no CmdStan -------------------------------------------------------------------

@pytest.mark.parametrize("text, has_mean, free", [
    ("score ~ ses + (1 + ses | school)", [0, 0], []),
    ("score ~ 1 + (1 + ses | school)", [0, 1], ["ses|school"]),
    ("score ~ 0 + ses + (1 | school)", [1], ["1|school"]),
    ("score2 ~ ses + (1 | school) + (1 | district)", [0, 0], [])])
def test_cluster_means_are_free_only_where_no_common_term_holds_them(text, has_mean,
                                                                        free):
    fd = formula.design(pupils(), text, family="gaussian")
    um = radon.user_model(fd, centred=False)     # centred clusters: test_centring_formula
    assert um.d.has_mean == has_mean and um.free == free
    data = radon.stan_data(fd.y - um.shift, um.d, **radon.user_priors(fd, 1.0))
    n_levels = sum(len(g.levels) * len(g.coef_names) for g in fd.groups)
    assert data["Q"] == n_levels and data["C"] == len(has_mean)
    assert data["beta_prior_sd"] > 0          # scaled priors, not the notes' flat one
    # the standardised X: centred (an intercept) or only scaled (none)
    X = np.array(data["X"])
    assert np.allclose(X.std(0, ddof=1), 1)
    assert np.allclose(X.mean(0), 0) == fd.intercept


def test_priors_are_scaled_to_the_data():
    frame = pupils()
    fd = formula.design(frame, "score ~ ses + (1 + ses | school)", family="gaussian")
    scales = radon.user_priors(fd, 2.0)
    sy = frame.score.std(ddof=1)
    assert scales == pytest.approx({"beta_prior_sd": 5 * sy, "mean_prior_sd": 5 * sy,
                                    "scale_prior_sd": 2 * sy})
    um = radon.user_model(fd, centred=False)
    table = radon.user_priors_table(um, scales, 2.0).set_index("parameter")
    assert list(table.index) == ["Intercept", "ses", "sd(1|school)", "sd(ses|school)",
                                 "sigma"]
    assert table.loc["ses", "prior"] == f"normal(0, {5 * sy / frame.ses.std():.4g})"
    assert table.loc["Intercept", "prior"].startswith(f"normal({frame.score.mean():.4g},")


def test_reml_reference_is_statsmodels_on_the_same_model():
    import statsmodels.formula.api as smf
    frame = pupils()
    fd = formula.design(frame, "score ~ ses + (1 | school)", family="gaussian")
    ref = radon.user_reml(radon.user_model(fd))
    r = smf.mixedlm("score ~ ses", frame, groups=frame.school).fit(reml=True)
    assert ref["ses"] == pytest.approx(r.fe_params["ses"], rel=1e-3)
    assert ref["sd(1|school)"] == pytest.approx(np.sqrt(r.cov_re.iloc[0, 0]), rel=1e-2)
    fd2 = formula.design(frame, "score2 ~ ses + (1 | school) + (1 | district)",
                         family="gaussian")
    assert radon.user_reml(radon.user_model(fd2)) is None   # MixedLM: one factor


@pytest.mark.parametrize("frame_edit, text, message", [
    (None, "p(score, 5) ~ ses", "binomial response"),
    (None, "score ~ age + (1 | school)", "no column(s) 'age'"),
    (lambda f: f.assign(school="one"), "score ~ ses + (1 | school)",
     "has 1 group"),
    (lambda f: f.assign(ses2=2 * f.ses), "score ~ ses + ses2", "not of full rank"),
    (lambda f: f.assign(ses=f.ses.where(f.index != 3)), "score ~ ses + (1 | school)",
     "is empty")])
def test_formulas_it_cannot_fit_are_one_error_and_nothing_is_written(
        tmp_path, monkeypatch, capsys, frame_edit, text, message):
    frame = pupils()
    frame = frame_edit(frame) if frame_edit else frame
    code, r, out = run(monkeypatch, tmp_path, frame, text)
    err = capsys.readouterr().err
    assert code == 2 and r is None and not out.exists()
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


# --- compile and sample ---------------------------------------------------------------

@pytest.mark.slow
def test_varying_intercepts_and_slopes_recover_the_truth(tmp_path, monkeypatch,
                                                         cmdstan_home):
    code, r, out = run(monkeypatch, tmp_path, pupils(),
                       "score ~ ses + (1 + ses | school)")
    assert code == 0 and out.exists()
    coef = r.table("coefficients")
    assert list(coef.index) == list(TRUTH)          # named after the formula's terms
    assert_recovers(coef, TRUTH)
    # REML of the same model (independent variance components) beside it
    assert "REML" in coef and abs(coef.loc["ses", "REML"] - coef.loc["ses", "mean"]) < (
        coef.loc["ses", "sd"])
    assert list(r.table("loo").index) == ["formula", "complete pooling"]
    html = out.read_text()
    for section in ["Data", "Model", "Priors", "Coefficients", "Complete pooling compared",
                    "Posterior densities", "Trace plots", "Timing", "Provenance"]:
        assert f">{section}</h2>" in html
    for name in ["sd(1|school)", "sd(ses|school)", "normal(0, "]:
        assert name in html
    # the notes' sections and words are left out (the programs' own text aside)
    text = re.sub(r"<details.*?</details>|<pre>.*?</pre>", "", html, flags=re.S)
    assert not re.search("Minnesota|uranium|county|counties|Gelman", text)
    # the answer rests on the diagnostics: numbers only when they pass
    assert r.answer.startswith("The sampler diagnostics failed") == bool(
        r.fits["formula"].problems)


@pytest.mark.slow
def test_two_grouping_factors_and_dropped_rows(tmp_path, monkeypatch, cmdstan_home):
    frame = pupils()
    frame.loc[[4, 9], "ses"] = np.nan
    code, r, out = run(monkeypatch, tmp_path, frame,
                       "score2 ~ ses + (1 | school) + (1 | district)", "--dropna")
    assert code == 0
    coef = r.table("coefficients")
    assert list(coef.index) == list(TRUTH2) and "REML" not in coef
    assert_recovers(coef, TRUTH2)
    html = out.read_text()
    assert "2 rows with empty cells dropped" in html
    assert "no REML comparison" in r.answer or "diagnostics failed" in r.answer


@pytest.mark.slow
def test_varying_intercepts_fit_the_marginal_program_too(tmp_path, monkeypatch,
                                                         cmdstan_home):
    code, r, out = run(monkeypatch, tmp_path, pupils(), "score1 ~ ses + (1 | school)")
    assert code == 0 and set(r.fits) == {"formula", "complete pooling",
                                         "formula, marginal"}
    marginal = r.table("marginal")
    assert list(marginal.index) == ["Intercept", "ses", "sd(1|school)", "sigma"]
    # one model, two programs: their means agree within Monte Carlo error
    assert (marginal["difference / combined MCSE"].abs() < 4).all(), marginal
    assert_recovers(r.table("coefficients"), {"Intercept": 50.0, "ses": 2.0,
                                              "sd(1|school)": 3.0, "sigma": 5.0})
    assert ">Fast program: group effects integrated out</h2>" in out.read_text()
