"""probit on a user's data and formula (issue 11): the three fits (NUTS probit,
Albert-Chib Gibbs probit, NUTS logit) recover simulated coefficients, the report
names them after the formula's terms, and formulas the example cannot fit fail
with one clear error before anything is written."""
import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from pystan_models import probit

# Simulated probit truth on the scale of the columns (formulae's names).
TRUTH = {"Intercept": -0.5, "x": 0.8, "C(g)[b]": 0.6, "C(g)[c]": -0.4}
FORMULA = "y ~ x + C(g)"
RUN = ["--chains", "4", "--iter-warmup", "300", "--iter-sampling", "300", "--seed", "7"]


def simulate(n=800, seed=20261202):
    rng = np.random.default_rng(seed)
    x = rng.normal(2.0, 1.5, n)          # not centred, not unit sd: the scale matters
    g = rng.choice(["a", "b", "c"], n)
    eta = (TRUTH["Intercept"] + TRUTH["x"] * x + TRUTH["C(g)[b]"] * (g == "b")
           + TRUTH["C(g)[c]"] * (g == "c"))
    y = (rng.random(n) < norm.cdf(eta)).astype(int)
    return pd.DataFrame({"y": y, "x": x.round(3), "g": g})


def assert_recovers(table: pd.DataFrame, truth: dict) -> None:
    """One simulated data set's posterior is centred on the truth only up to its
    sd: |mean - truth| < 3.5 sd + 4 MCSE (a miss about once in 2,000 per term)."""
    for name, value in truth.items():
        row = table.loc[name]
        tol = 3.5 * row["sd"] + 4 * row["mcse_mean"]
        assert abs(row["mean"] - value) < tol, (name, row["mean"], value, tol)


# ---------------------------------------------------------------- no CmdStan

def test_binomial_rows_expand_to_the_same_bernoulli_data():
    frame = simulate(300)
    frame["xr"] = frame.x.round(0)
    agg = (frame.groupby(["xr", "g"]).y.agg(["sum", "size"]).reset_index()
           .rename(columns={"sum": "s", "size": "n"}))
    d_rows = probit.user_design(frame, "y ~ xr + C(g)", False)
    d_agg = probit.user_design(agg, "p(s, n) ~ xr + C(g)", False)
    x1, y1 = probit.bernoulli_rows(d_rows)
    x2, y2 = probit.bernoulli_rows(d_agg)
    assert len(y2) == len(frame) and y2.sum() == frame.y.sum()
    # the same sufficient statistics: X'y and X'X
    np.testing.assert_allclose(x1.T @ y1, x2.T @ y2)
    np.testing.assert_allclose(x1.T @ x1, x2.T @ x2)
    assert d_agg.common_names == ["xr", "C(g)[b]", "C(g)[c]"]


def test_patterns_most_frequent_first_and_capped():
    x = np.array([[0, 1], [1, 1], [0, 1], [2, 0], [1, 1], [0, 1]], dtype=float)
    y = np.array([1, 0, 0, 1, 1, 1])
    p = probit.patterns(x, y, ["a", "b"], limit=2)
    assert list(p.index) == ["pattern 1", "pattern 2"] and p.attrs["total"] == 3
    assert p[["a", "b"]].values.tolist() == [[0, 1], [1, 1]]
    assert p.rows.tolist() == [3, 2]
    np.testing.assert_allclose(p["observed proportion"], [2 / 3, 1 / 2])


def test_program_data_of_the_seeds_is_unchanged():
    seeds = probit.expand(probit.load())
    data = probit.stan_data(seeds)
    assert data["K"] == 3 and data["G"] == 4 and data["prior_sd"] == probit.PRIOR_SD
    assert set(data) == {"N", "K", "X", "y", "prior_sd", "G", "X_new", "prior_only",
                         "pointwise"}


@pytest.mark.parametrize("formula, message", [
    ("y ~ x + (1 | g)", "probit fits a binary or binomial response on common terms, no "
                        "group terms"),
    ("y ~ 0 + x", "no intercept"),
    ("y ~ 1", "no common term"),
    ("x ~ C(g)", "is not a whole number"),
])
def test_formulas_it_cannot_fit_fail_with_one_clear_error(tmp_path, capsys, formula,
                                                          message):
    path = tmp_path / "data.csv"
    simulate(60).to_csv(path, index=False)
    out = tmp_path / "x.html"
    assert probit.main(["--data", str(path), "--formula", formula, "--output", str(out),
                        "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_prior_sd_is_for_the_notes_data(tmp_path, capsys):
    path = tmp_path / "data.csv"
    simulate(60).to_csv(path, index=False)
    out = tmp_path / "x.html"
    assert probit.main(["--data", str(path), "--formula", FORMULA, "--prior-sd", "3",
                        "--output", str(out), "--quiet"]) == 2
    assert "--prior-scale" in capsys.readouterr().err and not out.exists()


# ---------------------------------------------------------------- CmdStan

@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, cmdstan_home):
    """The command line on simulated 0/1 rows, keeping the Results it rendered."""
    folder = tmp_path_factory.mktemp("probit_formula")
    path = folder / "jobs.csv"
    simulate().to_csv(path, index=False)
    kept, real = {}, probit.analyse
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(probit, "analyse", lambda *a, **k: kept.setdefault("r", real(*a, **k)))
        out = folder / "x.html"
        assert probit.main(["--data", str(path), "--formula", FORMULA, "--output",
                            str(out), "--quiet", *RUN]) == 0
    return kept["r"], out.read_text()


@pytest.mark.slow
def test_cli_recovers_the_simulated_coefficients(cli_run):
    r, _ = cli_run
    for name in ("probit NUTS", "probit Gibbs"):
        assert_recovers(r.fits[name].table(), TRUTH)
    # the logit's coefficients are about 1.6-1.8 times the probit ones
    ratio = r.table("coefficients").loc["x", "logit / probit"]
    assert 1.5 < ratio < 1.9


@pytest.mark.slow
def test_report_names_coefficients_after_the_formula_terms(cli_run):
    r, html = cli_run
    terms = list(TRUTH)
    for name in ("agreement", "coefficients", "mle"):
        assert list(r.table(name).index) == terms, name
    assert r.table("priors").parameter.tolist() == terms
    for f in r.fits.values():
        assert list(f.table().index) == terms
    for term in ("C(g)[b]", "C(g)[c]", ">Priors</h2>", "rstanarm"):
        assert term in html
    # the seeds' sections are left out
    assert ">Plate-level check</h2>" not in html and "Source: jobs.csv" in html
    assert "beta[" not in r.answer and "alpha" not in r.answer


@pytest.mark.slow
def test_binomial_counts_from_python(cmdstan_home):
    """p(successes, trials) from Python, on counts per covariate pattern."""
    rng = np.random.default_rng(5)
    dose = np.repeat(np.arange(6.0), 4)
    arm = np.tile(["a", "b"], 12)
    n = rng.integers(20, 60, len(dose))
    eta = -1.0 + 0.3 * dose + 0.5 * (arm == "b")
    frame = pd.DataFrame({"s": rng.binomial(n, norm.cdf(eta)), "n": n, "dose": dose,
                          "arm": arm})
    r = probit.analyse(frame, formula="p(s, n) ~ dose + C(arm)", chains=4,
                       iter_warmup=300, iter_sampling=300, seed=3, quiet=True)
    truth = {"Intercept": -1.0, "dose": 0.3, "C(arm)[b]": 0.5}
    assert_recovers(r.fits["probit Gibbs"].table(), truth)
    assert_recovers(r.fits["probit NUTS"].table(), truth)
    assert r.extras["rows"] == n.sum()
    assert len(r.table("cells")) == 12      # the distinct dose x arm patterns


def test_formula_options_need_a_formula(tmp_path, capsys):
    out = tmp_path / "x.html"
    assert probit.main(["--prior-scale", "2", "--output", str(out), "--quiet"]) == 2
    assert "go with --formula" in capsys.readouterr().err and not out.exists()
