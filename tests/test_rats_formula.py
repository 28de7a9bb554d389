"""The rats example on a user's own data through a formula: y ~ x + (x | g).

Simulated growth data the project does not ship (unequal numbers of weighings per
animal, at different ages), the hyperparameter rule, the formulas rats cannot fit
(one clear error naming radon, exit 2, nothing written) and, when CmdStan is
there, the whole command line recovering the simulation's truth."""
import re

import numpy as np
import pandas as pd
import pytest

from pystan_models import gibbs_rats, rats

# the simulation's population: line, between-animal sds and correlation, noise
TRUTH = {"Intercept": 50.0, "age": 3.0, "sd_intercept": 8.0, "sd_age": 0.5,
         "corr": 0.4, "sigma": 4.0}


def simulate(seed: int = 20261202, J: int = 40) -> pd.DataFrame:
    """J animals, each weighed 3 to 8 times at its own ages in [5, 60]: weight =
    alpha_j + beta_j age + N(0, sigma^2), (alpha_j, beta_j) ~ N(line, Sigma)."""
    rng = np.random.default_rng(seed)
    sd = np.array([TRUTH["sd_intercept"], TRUTH["sd_age"]])
    R = np.array([[1.0, TRUTH["corr"]], [TRUTH["corr"], 1.0]])
    theta = rng.multivariate_normal([TRUTH["Intercept"], TRUTH["age"]],
                                    np.diag(sd) @ R @ np.diag(sd), size=J)
    rows = []
    for j in range(J):
        age = np.sort(rng.uniform(5, 60, rng.integers(3, 9))).round(1)
        weight = theta[j, 0] + theta[j, 1] * age + rng.normal(0, TRUTH["sigma"],
                                                              len(age))
        rows += [{"animal": f"a{j + 1:02d}", "age": a, "weight": w,
                  "diet": "AB"[j % 2], "dose": rng.normal(), "cage": f"c{j % 5}"}
                 for a, w in zip(age, weight)]
    return pd.DataFrame(rows)


@pytest.fixture
def growth(tmp_path):
    path = tmp_path / "growth.csv"
    simulate().to_csv(path, index=False)
    return path


def test_user_data_takes_both_spellings_and_names_the_terms(growth):
    frame, terms, d = rats.user_data(growth, "weight ~ age + (age | animal)")
    frame2, terms2, _ = rats.user_data(growth, "weight ~ age + (1 + age | animal)")
    pd.testing.assert_frame_equal(frame, frame2)
    assert terms.coefs == terms2.coefs == ("1|animal", "age|animal")
    assert (terms.response, terms.slope, terms.group) == ("weight", "age", "animal")
    assert list(terms.labels().values()) == [
        "Intercept", "age", "sigma", "sd(1|animal)", "sd(age|animal)",
        "corr(1|animal, age|animal)"]
    raw = simulate()
    assert len(frame) == len(raw) and frame.rat.max() == raw.animal.nunique() == 40
    # unequal numbers of weighings per animal, kept as they are
    assert frame.groupby("rat").size().nunique() > 1
    first = raw[raw.animal == "a01"].sort_values("age")
    np.testing.assert_allclose(frame[frame.rat == 1].weight, first.weight)


def test_user_hyper_follows_the_rule(growth):
    frame, _, _ = rats.user_data(growth, "weight ~ age + (age | animal)")
    h = rats.user_hyper(frame)
    x, y = frame.age_days.to_numpy(), frame.weight.to_numpy()
    np.testing.assert_allclose(h.eta, np.polyfit(x, y, 1)[::-1])
    # C: independent sds 2.5 sd(y) (level at mean x) and 2.5 sd(y)/sd(x) (slope)
    A_inv = np.array([[1.0, x.mean()], [0.0, 1.0]])
    C_c = A_inv @ np.asarray(h.C) @ A_inv.T
    sy, sx = y.std(ddof=1), x.std(ddof=1)
    np.testing.assert_allclose(C_c, np.diag([(2.5 * sy) ** 2, (2.5 * sy / sx) ** 2]),
                               atol=1e-6 * C_c.max())
    fits = np.array([np.polyfit(g.age_days, g.weight, 1)[::-1]
                     for _, g in frame.groupby("rat")])
    np.testing.assert_allclose(np.diag(h.R), fits.var(axis=0, ddof=1))
    assert (h.a, h.rho) == (0.001, 3.0) and h.b == pytest.approx(0.001 * sy ** 2)
    wide = rats.user_hyper(frame, prior_scale=2.0)
    np.testing.assert_allclose(wide.C, 4 * np.asarray(h.C))
    np.testing.assert_allclose(wide.R, 4 * np.asarray(h.R))
    np.testing.assert_allclose(wide.eta, h.eta)


def test_gibbs_design_takes_unequal_groups(growth):
    frame, _, _ = rats.user_data(growth, "weight ~ age + (age | animal)")
    d = rats.design(frame)
    for j, g in frame.groupby("rat"):
        X = np.column_stack([np.ones(len(g)), g.age_days])
        np.testing.assert_allclose(d.XtX[j - 1], X.T @ X)
        np.testing.assert_allclose(d.Xty[j - 1], X.T @ g.weight.to_numpy())
    assert isinstance(d, gibbs_rats.Design) and d.k == 40


@pytest.mark.parametrize("formula, why", [
    ("weight ~ age + (age | animal) + (1 | cage)", "2 group term"),
    ("weight ~ age + (1 | animal)", "not an intercept and one slope"),
    ("weight ~ C(diet) + (C(diet) | animal)", "categorical"),
    ("weight ~ age + dose + (age | animal)", "not exactly its group slope"),
    ("weight ~ age + (dose | animal)", "not exactly its group slope"),
    ("weight ~ 0 + age + (age | animal)", "no common intercept"),
    ("weight ~ age", "0 group term"),
])
def test_formulas_rats_cannot_fit_fail_in_one_line(growth, tmp_path, capsys,
                                                    formula, why):
    out = tmp_path / "x.html"
    code = rats.main(["--data", str(growth), "--formula", formula, "--output",
                      str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err.count("\n") == 1 and err.startswith("error: rats fits ")
    assert why in err and "radon can fit it" in err and "Traceback" not in err


def test_blank_cells_fail_or_are_dropped(tmp_path, capsys):
    raw = simulate()
    raw.loc[3, "weight"] = np.nan
    path = tmp_path / "blank.csv"
    raw.to_csv(path, index=False)
    out = tmp_path / "x.html"
    assert rats.main(["--data", str(path), "--formula", "weight ~ age + (age | animal)",
                      "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "'weight'" in err and "empty" in err and not out.exists()
    frame, _, _ = rats.user_data(path, "weight ~ age + (age | animal)", dropna=True)
    assert frame.attrs["dropped"] == 1 and len(frame) == len(raw) - 1


@pytest.mark.slow
def test_command_line_recovers_the_simulation(growth, tmp_path, monkeypatch,
                                              cmdstan_home):
    """4 chains x (300 + 300) through the command line.  One simulated data set's
    posterior is centred on the truth only up to its sd, so each sampler's
    posterior mean must lie within 3.5 posterior sd plus 4 MCSE of the truth."""
    got = {}
    analyse = rats.analyse
    monkeypatch.setattr(rats, "analyse",
                        lambda *a, **k: got.setdefault("r", analyse(*a, **k)))
    out = tmp_path / "growth.html"
    assert rats.main(["--data", str(growth), "--formula", "weight ~ age + (age | animal)",
                      "--output", str(out), "--quiet", "--chains", "4",
                      "--iter-warmup", "300", "--iter-sampling", "300",
                      "--seed", "11"]) == 0
    r = got["r"]
    truth = {"Intercept": TRUTH["Intercept"], "age": TRUTH["age"],
             "sigma": TRUTH["sigma"], "sd(1|animal)": TRUTH["sd_intercept"],
             "sd(age|animal)": TRUTH["sd_age"],
             "corr(1|animal, age|animal)": TRUTH["corr"]}
    post = r.table("posterior")
    assert list(post.index) == list(truth)
    for sampler in r.fits:
        for name, true in truth.items():
            row = post.loc[name]
            tol = 3.5 * row[f"{sampler} sd"] + 4 * row[f"{sampler} mcse_mean"]
            assert abs(row[f"{sampler} mean"] - true) <= tol, (sampler, name)
    assert not r.problems
    # NUTS and Gibbs sample one posterior: agreement within Monte Carlo error
    z = r.table("comparison")["difference / combined MCSE"].abs()
    assert z.max() < 4.5, z
    assert "agree" in r.answer and "Intercept" in r.answer and "animals" in r.answer
    priors = r.table("priors")
    assert list(priors.columns) == ["parameter", "prior", "scale used",
                                    "where it is set"]
    html = out.read_text()
    for section in ["Data", "Model and priors", "Starting values",
                    "Posterior summaries: NUTS vs Gibbs", "Trace plots",
                    "Effective samples per second", "Provenance"]:
        assert f">{section}</h2>" in html
    for name in ["sd(1|animal)", "sd(age|animal)", "corr(1|animal, age|animal)",
                 "bulk ESS / s, Intercept", "bulk ESS / s, age"]:
        assert name in html
    assert "BUGS" not in re.sub(r"<pre>.*?</pre>", "", html, flags=re.S)
    assert [p.name for p in tmp_path.iterdir()] == ["growth.csv", "growth.html"]
