"""Beetles on a user's data and formula (issue 11): the three link programs with
K >= 1 common terms, data-scaled default priors, the report named after the
formula's terms, and one clear error for a formula the example cannot fit."""
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from pystan_models import beetles, formula

# the simulation's truth: logit(p) = 0.3 + 1.5 log_dose - 0.8 z
TRUTH = {"Intercept": 0.3, "log_dose": 1.5, "z": -0.8}
RUN = ["--chains", "4", "--iter-warmup", "300", "--iter-sampling", "300", "--quiet"]


def simulated(n=40, seed=20261202):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"log_dose": rng.uniform(-1, 1, n), "z": rng.normal(size=n),
                          "arm": rng.choice(["control", "treated"], n),
                          "n": rng.integers(20, 41, n), "site": rng.choice(list("abc"), n)})
    eta = TRUTH["Intercept"] + TRUTH["log_dose"] * frame.log_dose + TRUTH["z"] * frame.z
    return frame.assign(dead=rng.binomial(frame.n, expit(eta)))


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "assay.csv"
    simulated().to_csv(path, index=False)
    return path


def run(csv, tmp_path, formula_text, *extra):
    out = tmp_path / "out" / "x.html"
    code = beetles.main(["--data", str(csv), "--formula", formula_text,
                         "--output", str(out), *RUN, *extra])
    return code, out


@pytest.fixture(scope="module")
def recovered(tmp_path_factory, cmdstan_home):
    tmp = tmp_path_factory.mktemp("beetles_formula")
    path = tmp / "assay.csv"
    simulated().to_csv(path, index=False)
    r = beetles.analyse(path, formula="p(dead, n) ~ log_dose + z", chains=4,
                        iter_warmup=300, iter_sampling=300, quiet=True)
    return r


# --- (a) recovering known parameters, through the command line too ---------------

@pytest.mark.slow
def test_logit_fit_recovers_the_simulated_coefficients(recovered):
    coef = recovered.table("coefficients").loc["logit"]
    assert list(coef.index) == list(TRUTH)
    for name, truth in TRUTH.items():
        row = coef.loc[name]
        # one simulated data set: its posterior is centred on the truth only up to
        # its sd; 3.5 sd (a 1-in-2000 miss for a normal posterior) plus the
        # sampler's own error
        assert abs(row["mean"] - truth) < 3.5 * row["sd"] + 4 * row["mcse_mean"], name
        # the default prior is > 10 times wider than the posterior here, so it
        # moves the mean far less than half a posterior sd from the ML estimate
        assert abs(row["mean"] - row["MLE"]) < 0.5 * row["sd"] + 4 * row["mcse_mean"]
        assert row["r_hat"] < 1.01
    assert recovered.problems == []


@pytest.mark.slow
def test_command_line_run_writes_a_report_named_after_the_terms(csv, tmp_path,
                                                                cmdstan_home):
    code, out = run(csv, tmp_path, "p(dead, n) ~ log_dose + z")
    assert code == 0 and [p.name for p in out.parent.iterdir()] == ["x.html"]
    html = out.read_text()
    for section in ["Data", "Priors", "Coefficients by link", "Fitted probabilities",
                    "Posterior densities", "Trace plots", "LOO comparison"]:
        assert f">{section}</h2>" in html
    assert ">log_dose<" in html and ">Intercept<" in html and ">z<" in html
    # notes-only text left out (the programs' own descriptions still cite Bliss)
    data = html.split(">Data</h2>")[1].split("<h2")[0]
    assert "Bliss" not in data and "Published (Dobson" not in html
    assert 'alt="fitted vs observed"' in html                # two terms: no curve
    answer = html.split('<div class="answer">')[1].split("</div>")[0]
    assert "log_dose:" in answer and "z:" in answer


# --- (b) tables and priors named after the formula's terms -------------------------

@pytest.mark.slow
def test_categorical_term_and_dropna(tmp_path, cmdstan_home):
    frame = simulated()
    frame.loc[5, "arm"] = None                       # a blank cell in a used column
    path = tmp_path / "blank.csv"
    frame.to_csv(path, index=False)
    code, out = run(path, tmp_path, "p(dead, n) ~ log_dose + C(arm)")
    assert code == 2 and not out.exists()
    code, out = run(path, tmp_path, "p(dead, n) ~ log_dose + C(arm)", "--dropna")
    assert code == 0
    html = out.read_text()
    assert "C(arm)[treated]" in html and "1 row(s) with empty cells dropped" in html


@pytest.mark.slow
def test_one_numeric_term_draws_the_curve(csv, tmp_path, cmdstan_home):
    code, out = run(csv, tmp_path, "p(dead, n) ~ log_dose", "--grid-size", "21")
    assert code == 0 and 'alt="dose-response curves"' in out.read_text()


def test_priors_are_the_scaled_defaults():
    d = beetles.term_design(simulated(), "p(dead, n) ~ log_dose + C(arm)")
    prior_sd, beta_scale = beetles.design_prior(d, 2.0)
    default = formula.default_priors(d, 2.0)
    assert prior_sd == pytest.approx(default["intercept"]["scale"]) == 5.0
    np.testing.assert_allclose(prior_sd * beta_scale, default["beta"]["scale"])
    np.testing.assert_allclose(prior_sd * beta_scale, 5.0 / d.X.std(0, ddof=1))
    table = beetles.priors_table(d, prior_sd, beta_scale)
    assert table.parameter.tolist()[1:] == ["log_dose", "C(arm)[treated]"]
    assert beetles.design_prior(d, 0.0)[0] == 0.0            # the notes' flat prior
    with pytest.raises(Exception, match="prior-scale"):
        beetles.design_prior(d, -1.0)


def test_stan_data_for_k_predictors():
    d = beetles.term_design(simulated(), "p(dead, n) ~ log_dose + z")
    data = beetles._data(d.X, d.trials, d.y, np.zeros((0, 2)), 2.5, [1.0, 2.0])
    assert data["K"] == 2 and np.shape(data["X"]) == (40, 2) and data["G"] == 0
    assert data["beta_scale"] == [1.0, 2.0]
    assert all(isinstance(v, int) for v in data["y"] + data["trials"])
    # the notes' data contract is unchanged, plus beta_scale = 1
    assert beetles.stan_data(beetles.load())["beta_scale"] == [1.0]


def test_separation_is_found_for_any_number_of_terms():
    d = beetles.term_design(beetles.load(), "p(killed, exposed) ~ dose")
    assert beetles.separation(d) is None and beetles.curve_term(d) == "dose"
    frame = pd.DataFrame({"y": [0, 3, 0, 4, 2], "n": 5, "x": [1, 2, 3, 4, 5],
                          "z": [0, 1, 0, 1, 1]})
    assert "the term z separates" in beetles.separation(
        beetles.term_design(frame, "p(y, n) ~ x + z"))
    overlap = frame.assign(y=[1, 3, 0, 4, 2])
    assert beetles.separation(beetles.term_design(overlap, "p(y, n) ~ x + z")) is None


# --- (c) formulas the example cannot fit: one clear error, exit 2, nothing written --

@pytest.mark.parametrize("bad, words", [
    ("p(dead, n) ~ log_dose + (1 | site)", "no group terms"),
    ("p(dead, n) ~ 0 + log_dose", "with an intercept"),
    ("p(dead, n) ~ 1", "at least one common term"),
    ("dead ~ log_dose", "is not 0 or 1"),
    ("p(dead, trials) ~ log_dose", "no column(s) 'trials'"),
])
def test_a_formula_beetles_cannot_fit_is_one_error(csv, tmp_path, capsys, bad, words):
    code, out = run(csv, tmp_path, bad)
    err = capsys.readouterr().err
    assert code == 2 and words in err and err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_formula_options_need_a_formula(tmp_path, capsys):
    out = tmp_path / "x.html"
    assert beetles.main(["--dropna", "--output", str(out), "--quiet"]) == 2
    assert "apply to a --formula" in capsys.readouterr().err and not out.exists()
