"""Counts on a user's own data: a formula through the command line, on simulated
data sets with known parameters (fixed seeds), the report named after the
formula's terms, and every formula counts cannot fit refused with one error."""
import re

import numpy as np
import pandas as pd
import pytest

from pystan_models import counts

RUN = ["--chains", "4", "--iter-warmup", "300", "--iter-sampling", "300", "--seed", "7",
       "--quiet"]


def recovered(table: pd.DataFrame, truth: dict) -> None:
    """One simulated data set: the posterior is centred on the truth only up to its
    sd, so |mean - truth| < 3.5 sd + 4 MCSE (the MCSE term: the sampler's error)."""
    for name, value in truth.items():
        row = table.loc[name]
        tol = 3.5 * row["sd"] + 4 * row["mcse_mean"]
        assert abs(row["mean"] - value) < tol, (name, row["mean"], value, tol)


def visits(n=400, seed=20261202):
    """Poisson counts with an exposure: log rate = log(months) - 1 + 0.03 age
    + 0.4 [sex = M] - 0.05 income."""
    rng = np.random.default_rng(seed)
    age, income = rng.normal(40, 10, n).round(1), rng.normal(30, 5, n)
    sex, months = rng.choice(["F", "M"], n), rng.uniform(1, 12, n)
    eta = np.log(months) - 1 + 0.03 * age + 0.4 * (sex == "M") - 0.05 * income
    return pd.DataFrame({"visits": rng.poisson(np.exp(eta)), "age": age, "sex": sex,
                         "income": income, "months": months})


def trial(patients=40, visits_=5, seed=11):
    """Epil-like: log rate = 0.5 - 0.4 treat + 0.08 base + b_patient + epsilon,
    b ~ N(0, 0.6^2), epsilon ~ N(0, 0.3^2)."""
    rng = np.random.default_rng(seed)
    pid = np.repeat(np.arange(1, patients + 1), visits_)
    treat = np.repeat(rng.integers(0, 2, patients), visits_)
    base = np.repeat(rng.poisson(8, patients), visits_)
    b = rng.normal(0, 0.6, patients)[pid - 1]
    eta = 0.5 - 0.4 * treat + 0.08 * base + b + rng.normal(0, 0.3, len(pid))
    return pd.DataFrame({"seizures": rng.poisson(np.exp(eta)), "treat": treat,
                         "base": base, "patient": pid})


@pytest.mark.slow
def test_visits_formula_recovers_the_truth(tmp_path, cmdstan_home, monkeypatch):
    path = tmp_path / "visits.csv"
    visits().to_csv(path, index=False)
    out = tmp_path / "x.html"
    seen = {}
    analyse = counts.analyse
    monkeypatch.setattr(counts, "analyse", lambda *a, **k: seen.setdefault("r", analyse(*a, **k)))
    assert counts.main(["--data", str(path), "--formula", "visits ~ age + C(sex) + income",
                        "--exposure", "months", "--output", str(out), *RUN]) == 0
    r = seen["r"]
    assert list(r.fits) == list(counts.ROACH_MODELS)
    poisson = r.table("coefficients").loc["Poisson"]          # the true model
    assert not r.fits["Poisson"].problems
    recovered(poisson, {"Intercept": -1, "age": 0.03, "C(sex)[M]": 0.4, "income": -0.05})
    # statsmodels' MLE beside it: weak priors, 400 rows
    assert ((poisson["mean"] - poisson["MLE"]).abs() < 0.2 * poisson["sd"] + 4 *
            poisson["mcse_mean"]).all()
    # tables and report named after the formula's terms
    assert list(r.table("rate_ratios").index) == ["age", "C(sex)[M]", "income"]
    assert "count part: C(sex)[M]" in r.table("coefficients").loc["hurdle Poisson"].index
    assert list(r.table("priors").parameter)[1:4] == ["age", "C(sex)[M]", "income"]
    html = out.read_text()
    for section in ["Data", "Priors", "Posterior predictive checks", "LOO comparison",
                    "Rate ratios", "Coefficients by model", "Posterior densities",
                    "Trace plots", "Provenance"]:
        assert f">{section}</h2>" in html
    text = re.sub(r"data:image/png;base64,[^\"']*", "", html)   # figures: random letters
    assert "C(sex)[M]" in text and "BUGS" not in text and "roach1" not in text
    assert ("Sampler diagnostics failed" in r.answer) == bool(r.problems)


@pytest.mark.slow
def test_grouped_formula_recovers_the_truth(tmp_path, cmdstan_home, monkeypatch):
    frame = trial()
    frame.loc[3, "base"] = np.nan                             # one blank cell
    path = tmp_path / "trial.csv"
    frame.to_csv(path, index=False)
    seen = {}
    analyse = counts.analyse
    monkeypatch.setattr(counts, "analyse", lambda *a, **k: seen.setdefault("r", analyse(*a, **k)))
    out = tmp_path / "x.html"
    assert counts.main(["--data", str(path), "--formula",
                        "seizures ~ treat * base + (1 | patient)", "--dropna",
                        "--output", str(out), *RUN]) == 0
    r = seen["r"]
    label = "overdispersed Poisson + patient effect"
    assert list(r.fits) == ["Poisson", label]
    table = r.table("coefficients").loc[label]
    assert "sd(1|patient)" in table.index and "treat:base" in table.index
    recovered(table, {"Intercept": 0.5, "treat": -0.4, "base": 0.08, "treat:base": 0,
                      "sd(1|patient)": 0.6, "sigma (observation-level sd)": 0.3})
    assert "--dropna dropped 1 of 200 rows" in out.read_text()


@pytest.mark.parametrize("formula, pattern", [
    ("p(visits, months) ~ age", "binomial response.*beetles, probit, separation"),
    ("visits ~ age + (1 | sex) + (1 | region)", "counts fits .* 2 group term"),
    ("visits ~ age + (age | sex)", "varies more than the intercept"),
    ("visits ~ 0 + age", "always have an intercept"),
])
def test_formulas_counts_cannot_fit(tmp_path, capsys, monkeypatch, formula, pattern):
    monkeypatch.setattr(counts, "sample", lambda *a, **k: pytest.fail("sampled"))
    frame = visits(60).assign(region=lambda f: np.where(f.age > 40, "a", "b"))
    path = tmp_path / "visits.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "x.html"
    assert counts.main(["--data", str(path), "--formula", formula,
                        "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert re.search(pattern, err), err
    assert not out.exists()


def test_formula_options_without_formula_are_refused(monkeypatch):
    monkeypatch.setattr(counts, "sample", lambda *a, **k: pytest.fail("sampled"))
    with pytest.raises(counts.PystanModelsError, match="go.*with a formula"):
        counts.analyse(exposure="months", quiet=True)
    with pytest.raises(counts.PystanModelsError, match="one data set"):
        counts.analyse(visits(), data=visits(), formula="visits ~ age")


def test_priors_scale_with_prior_scale():
    _, d = counts.user_design(visits(50), "visits ~ age + C(sex)", exposure="months")
    fields, table = counts.formula_priors(d, 2.0)
    assert fields == {"alpha_prior_sd": 5.0, "beta_prior_sd": 5.0, "scale_prior_rate": 0.5}
    assert list(table.columns) == ["parameter", "prior", "scale used", "where it is set"]
    data = counts.formula_data(d, fields)
    assert data["K"] == 2 and data["beta_prior_sd"] == 5.0
    np.testing.assert_allclose(data["log_exposure"], np.log(visits(50).months))
    # the notes' run keeps its own priors
    assert {k: counts.roaches_data(counts.load_roaches())[k]
            for k in counts.NOTES_PRIORS} == counts.NOTES_PRIORS
