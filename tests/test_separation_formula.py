"""separation on a user's data and formula (issue 11): Gelman et al. (2008) stays
the default, the flat-prior and maximum-likelihood fits are shown failing when the
user's outcomes separate, coefficients are named after the formula's terms, and
formulas the example cannot fit fail with one clear error."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit

from pystan_models import separation

FORMULA = "response ~ dose + C(arm)"
TRUTH = {"Intercept": -2.0, "dose": 0.4, "C(arm)[B]": 1.0, "C(arm)[C]": -0.5}
RUN = ["--chains", "4", "--iter-warmup", "300", "--iter-sampling", "300", "--seed", "11"]
STUDENT = "Student-t(7, 0, 2.5)"


def simulate(n=300, separated=False, seed=20261203):
    rng = np.random.default_rng(seed)
    dose = rng.uniform(0, 10, n).round(2)
    arm = rng.choice(["A", "B", "C"], n)
    eta = (TRUTH["Intercept"] + TRUTH["dose"] * dose + TRUTH["C(arm)[B]"] * (arm == "B")
           + TRUTH["C(arm)[C]"] * (arm == "C"))
    y = (rng.random(n) < expit(eta)).astype(int)
    if separated:
        y[arm == "C"] = 1    # every patient in arm C responds: quasi-complete separation
    return pd.DataFrame({"response": y, "dose": dose, "arm": arm})


def assert_recovers(table: pd.DataFrame, truth: dict) -> None:
    """One simulated data set's posterior is centred on the truth only up to its
    sd: |mean - truth| < 3.5 sd + 4 MCSE (a miss about once in 2,000 per term)."""
    for name, value in truth.items():
        row = table.loc[name]
        tol = 3.5 * row["sd"] + 4 * row["mcse_mean"]
        assert abs(row["mean"] - value) < tol, (name, row["mean"], value, tol)


def run_cli(tmp_path, frame, *extra, formula=FORMULA):
    """The command line on ``frame``, returning the Results it rendered and the html."""
    path = tmp_path / "study.csv"
    frame.to_csv(path, index=False)
    kept, real = {}, separation.analyse
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(separation, "analyse",
                   lambda *a, **k: kept.setdefault("r", real(*a, **k)))
        out = tmp_path / "x.html"
        assert separation.main(["--data", str(path), "--formula", formula, "--output",
                                str(out), "--quiet", *RUN, *extra]) == 0
    return kept["r"], out.read_text()


# ---------------------------------------------------------------- no CmdStan

def test_separation_check_finds_the_separating_term():
    for separated in (False, True):
        frame = simulate(separated=separated)
        d = separation.user_design(frame, FORMULA, False, "separation")
        x, y = separation.bernoulli_rows(d)
        sep = separation.separation_check(x, y, ["Intercept", *d.common_names])
        if separated:
            assert sep["C(arm)[C]"] == 1 and (sep.drop("C(arm)[C]") == 0).all()
        else:
            assert (sep == 0).all()


def test_complete_separation_on_a_continuous_input():
    x = np.linspace(-1, 1, 40)[:, None]
    y = (x[:, 0] > 0.05).astype(int)
    sep = separation.separation_check(x, y, ["Intercept", "x"])
    assert sep["x"] > 0 and sep.abs().max() == 1


def test_ml_path_shows_the_infinite_estimate():
    d = separation.user_design(simulate(separated=True), FORMULA, False, "separation")
    x, y = separation.bernoulli_rows(d)
    rows = ["Intercept", *d.common_names]
    path = separation.ml_path(y, sm.add_constant(x), rows)
    growth = separation.se_growth(path, rows)
    assert growth["C(arm)[C]"] > separation.DIVERGING_GROWTH
    assert (growth.drop("C(arm)[C]") < 1.01).all()


def test_priors_scale_with_the_option():
    assert list(separation.scaled_priors(1.0)) == list(separation.PRIORS)
    p = separation.scaled_priors(2.0)
    assert list(p) == ["Cauchy(0, 5)", "Student-t(7, 0, 5)"]
    assert p["Cauchy(0, 5)"]["intercept_scale"] == 20


@pytest.mark.parametrize("formula, message", [
    ("response ~ dose + (dose | arm)", "separation fits a binary or binomial response "
                                       "on common terms, at most one group intercept"),
    ("response ~ 0 + dose", "no intercept"),
    ("dose ~ C(arm)", "is not a whole number"),
    ("response ~ dose + missing", "no column(s) 'missing'"),
])
def test_formulas_it_cannot_fit_fail_with_one_clear_error(tmp_path, capsys, formula,
                                                          message):
    path = tmp_path / "study.csv"
    simulate(60).to_csv(path, index=False)
    out = tmp_path / "x.html"
    assert separation.main(["--data", str(path), "--formula", formula, "--output",
                            str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


# ---------------------------------------------------------------- CmdStan

@pytest.mark.slow
def test_no_separation_recovers_the_simulated_coefficients(tmp_path, cmdstan_home):
    frame = simulate().assign(dose=lambda f: f.dose.astype(object))
    frame.loc[3, "dose"] = ""                 # one blank cell, dropped by --dropna
    r, html = run_cli(tmp_path, frame, "--dropna")
    assert not r.extras["separated"] and r.expected == []
    assert r.extras["design"].dropped_rows == 1 and "1 row(s) with empty cells" in html
    for name in (separation.FLAT, STUDENT):   # proper posteriors here
        assert_recovers(r.fits[name].table(), TRUTH)
    assert "not separated" in r.answer


@pytest.mark.slow
def test_separated_data_show_ml_and_flat_prior_failing(tmp_path, cmdstan_home):
    r, html = run_cli(tmp_path, simulate(separated=True))
    terms = list(TRUTH)
    # coefficients named after the formula's terms, in every table
    for name in ("mle", "firth", "modes", "side_by_side"):
        assert list(r.table(name).index) == terms, name
    for f in r.fits.values():
        assert list(f.table().index) == terms
    assert list(r.table("scaling").index) == terms[1:]
    assert r.table("scaling").binary.tolist() == [False, True, True]
    # maximum likelihood runs off in C(arm)[C]; the flat prior fails on purpose
    assert r.extras["separated"]
    assert r.table("mle").loc["C(arm)[C]", "GLM se"] > 100
    assert r.fits[separation.FLAT].problems and r.expected
    assert not any(p.startswith(separation.FLAT) for p in r.problems)
    assert "FAILING CASE" in html and ">Priors</h2>" in html and "C(arm)[C]" in html
    # the weakly informative posterior is finite; where the data speak, it recovers
    weak = r.fits[STUDENT].table()
    assert 0 < weak.loc["C(arm)[C]", "2.5%"] and weak.loc["C(arm)[C]", "97.5%"] < 30
    assert_recovers(weak, {k: v for k, v in TRUTH.items() if k != "C(arm)[C]"})
    assert "are separated" in r.answer and "C(arm)[C]" in r.answer
    # the endometrial paper's numbers are left out
    assert "18.18556" not in html and "R's glm() stops" not in html


def test_formula_options_need_a_formula(tmp_path, capsys):
    out = tmp_path / "x.html"
    assert separation.main(["--dropna", "--output", str(out), "--quiet"]) == 2
    assert "go with --formula" in capsys.readouterr().err and not out.exists()
