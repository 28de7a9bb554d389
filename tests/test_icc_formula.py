"""icc on a user's data and formula (issue 11): y ~ 1 + (1 | g) on simulated data
with a known intraclass correlation through the command line, the tables named
after the formula's terms, and one clear error for every other formula."""
import re

import numpy as np
import pandas as pd
import pytest

from pystan_models import formula, icc

CHAINS = ["--chains", "4", "--iter-warmup", "300", "--iter-sampling", "300", "--quiet"]
# bp = 120 + clinic effect (sd 6) + noise (sd 10): rho = 36 / 136
TRUTH = {"Intercept": 120.0, "sd(1|clinic)": 6.0, "sigma": 10.0, "rho": 36 / 136}


def clinics(seed=20261202, groups=40):
    rng = np.random.default_rng(seed)
    clinic = np.repeat(np.arange(groups), rng.integers(3, 15, groups))
    n = len(clinic)
    return pd.DataFrame({"bp": 120 + rng.normal(0, 6, groups)[clinic]
                         + rng.normal(0, 10, n),
                         "clinic": [f"c{j:02d}" for j in clinic],
                         "age": rng.normal(50, 10, n), "ward": rng.integers(0, 4, n)})


def run(monkeypatch, tmp_path, frame, formula_text, *extra):
    path, out = tmp_path / "clinics.csv", tmp_path / "out" / "icc.html"
    frame.to_csv(path, index=False)
    seen = {}
    analyse = icc.analyse
    monkeypatch.setattr(icc, "analyse",
                        lambda *a, **k: seen.setdefault("r", analyse(*a, **k)))
    code = icc.main(["--data", str(path), "--formula", formula_text,
                     "--output", str(out), *CHAINS, *extra])
    return code, seen.get("r"), out


def test_priors_are_scaled_to_the_data():
    frame = clinics()
    fd = formula.design(frame, "bp ~ 1 + (1 | clinic)", family="gaussian")
    sy = frame.bp.std(ddof=1)
    assert icc.user_priors(fd, 0.5) == pytest.approx({"alpha_prior_sd": 1.25 * sy,
                                                      "scale_prior_sd": 0.5 * sy})


@pytest.mark.parametrize("text", [
    "bp ~ age + (1 | clinic)",            # a common term
    "bp ~ 1 + (1 + age | clinic)",        # a varying slope
    "bp ~ 1 + (1 | clinic) + (1 | ward)",  # two grouping factors
    "bp ~ age"])                          # no group term
def test_any_other_formula_is_one_error_naming_radon(tmp_path, monkeypatch, capsys,
                                                     text):
    code, r, out = run(monkeypatch, tmp_path, clinics(), text)
    err = capsys.readouterr().err
    assert code == 2 and r is None and not out.exists()
    assert err.startswith("error: icc fits a gaussian response on a group intercept "
                          "only, y ~ 1 + (1 | g)")
    assert re.search(r"radon( or rats)? can fit it", err) and err.count("\n") == 1


@pytest.mark.slow
def test_recovers_a_known_intraclass_correlation(tmp_path, monkeypatch, cmdstan_home):
    frame = clinics()
    frame.loc[[2, 7, 11], "bp"] = np.nan
    code, r, out = run(monkeypatch, tmp_path, frame, "bp ~ 1 + (1 | clinic)", "--dropna")
    assert code == 0 and out.exists()
    table = r.table("estimates")
    assert list(table.index) == list(TRUTH)          # named after the formula's terms
    for name, value in TRUTH.items():
        row = table.loc[name]
        # one data set's posterior is centred on the truth only up to its sd
        assert abs(row["mean"] - value) < 3.5 * row["sd"] + 4 * row["mcse_mean"], name
    # REML and ANOVA of the same data beside the posterior
    assert abs(table.loc["rho", "REML"] - table.loc["rho", "50%"]) < table.loc["rho", "sd"]
    assert list(r.table("groups").columns) == ["clinic", "rows", "mean bp",
                                               "posterior mean beta_j"]
    assert list(r.table("priors").parameter) == ["Intercept (alpha)",
                                                 "sd(1|clinic) (sigma_beta)", "sigma"]
    html = out.read_text()
    for section in ["Data", "Model", "Priors", "Estimates", "Posterior density of rho",
                    "Group means", "Trace plots", "Timing", "Provenance"]:
        assert f">{section}</h2>" in html
    assert "3 rows with empty cells dropped" in html and "sd(1|clinic)" in html
    text = re.sub(r"<details.*?</details>|<pre>.*?</pre>", "", html, flags=re.S)
    assert not re.search("Minnesota|radon|county|counties|houses", text)
    # the answer speaks of the user's data, and only of numbers the diagnostics allow
    if r.problems:
        assert "diagnostics failed" in r.answer and "agree with" not in r.answer
    else:
        assert r.answer.startswith("Two rows in the same clinic have bp levels "
                                   f"correlated by rho = {table.loc['rho', '50%']:.3f}")
