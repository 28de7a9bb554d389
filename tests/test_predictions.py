"""Predictions for new rows (``--predict``, ``Results.predict``): the programs'
expected values against the same quantity computed from the posterior draws in
Python, held-out coverage on simulated data, new groups wider by the group sd,
saved runs that keep their predictions, and one clear error for each bad input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from pystan_models import beetles, formula, predict
from pystan_models.errors import DataError
from pystan_models.fitting import draws

SHORT = dict(chains=2, iter_warmup=400, iter_sampling=500, seed=11, quiet=True)
NEW_DOSES = pd.DataFrame({"dose": [1.70, 1.78, 1.85], "exposed": [60, 60, 60]})


@pytest.fixture(scope="module")
def bliss():
    return beetles.analyse(**SHORT)


@pytest.mark.slow
def test_beetles_expected_values_are_the_links_of_the_draws(bliss):
    """mu = F(alpha + beta x) for every draw, F the link's inverse, as computed here
    from the posterior draws (CmdStan's CSV keeps 6 significant digits: alpha near
    -60 is known to 1e-4, so eta to about 2e-4 and p to 5e-5)."""
    inverse = {"logit": expit, "probit": __import__("scipy.stats").stats.norm.cdf,
               "cloglog": lambda eta: -np.expm1(-np.exp(eta))}
    for link, F in inverse.items():
        tree = bliss.predict(NEW_DOSES, link)
        mu = tree["predictions"]["mu"].values
        f = bliss.fits[link]
        alpha, beta = draws(f.idata, "alpha"), draws(f.idata, "beta")
        expected = F(alpha[:, None] + beta.reshape(alpha.shape)[:, None]
                     * NEW_DOSES["dose"].to_numpy())
        np.testing.assert_allclose(mu.reshape(-1, 3), expected, atol=2e-4)
        killed = tree["predictions"]["killed"].values
        assert killed.shape == mu.shape and (killed >= 0).all() and (killed <= 60).all()
        # E(y) = n E(p): the draws' mean within 4 Monte Carlo standard errors
        se = killed.std() / np.sqrt(killed.size) * 3   # autocorrelated draws: x 3
        assert abs(killed.mean() - 60 * mu.mean()) < 4 * se + 0.05
        constant = tree["predictions_constant_data"]
        assert list(constant["dose"].values) == list(NEW_DOSES["dose"])
        assert not constant["new_group"].values.any()


@pytest.mark.slow
def test_predictions_table_names_and_shape(bliss):
    table = bliss.add_predictions(NEW_DOSES)
    stats = ["mean", "sd", "q5", "q50", "q95"]
    assert list(table.columns) == (["row", "fit", "new group", "dose"]
                                   + [f"killed {s}" for s in stats]
                                   + [f"probability {s}" for s in stats])
    assert len(table) == 3 * len(beetles.LINKS)
    assert set(table["fit"]) == set(beetles.LINKS)
    assert ((table["probability q5"] <= table["probability q50"])
            & (table["probability q50"] <= table["probability q95"])).all()
    assert ">Predictions</h2>" in bliss.report().render()


def test_unseen_level_missing_column_and_blank_cells_are_named():
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.5, 4.0, 2.2, 3.1],
                          "x": [0.1, 0.5, 0.9, 1.3, 0.2, 0.7],
                          "c": ["a", "b", "a", "b", "a", "b"],
                          "g": ["p", "q", "r", "p", "q", "r"]})
    d = formula.design(frame, "y ~ x + C(c) + (1 | g)", family="gaussian")
    rows = formula.new_rows(d, pd.DataFrame({"x": [0.3, 0.4], "c": ["b", "a"],
                                             "g": ["q", "new county"]}), "new.csv")
    assert list(rows.groups[0][0]) == [2, 0] and list(rows.new_group) == [False, True]
    np.testing.assert_array_equal(rows.X, [[0.3, 1.0], [0.4, 0.0]])
    with pytest.raises(DataError, match=r"new.csv, row 2 \(line 3\), column 'c' "
                       r"\(value 'z'\): is a level the fitted data never had"):
        formula.new_rows(d, pd.DataFrame({"x": [0.3, 0.4], "c": ["a", "z"],
                                          "g": ["p", "p"]}), "new.csv")
    with pytest.raises(DataError, match=r"new.csv: no column\(s\) 'x'"):
        formula.new_rows(d, pd.DataFrame({"c": ["a"], "g": ["p"]}), "new.csv")
    with pytest.raises(DataError, match=r"row 1 \(line 2\), column 'x'.*is empty"):
        formula.new_rows(d, pd.DataFrame({"x": [np.nan], "c": ["a"], "g": ["p"]}),
                         "new.csv")
    with pytest.raises(DataError, match=r"column 'x' \(value 'high'\): is not a number"):
        formula.new_rows(d, pd.DataFrame({"x": ["high"], "c": ["a"], "g": ["p"]}),
                         "new.csv")


def test_binomial_rows_need_their_trials():
    d = beetles.notes_design(beetles.load())
    with pytest.raises(DataError, match=r"no column\(s\) 'exposed' \(the trials\)"):
        formula.new_rows(d, NEW_DOSES[["dose"]], "new.csv")
    with pytest.raises(DataError, match=r"row 2 .*column 'exposed'.*at least 1"):
        formula.new_rows(d, NEW_DOSES.assign(exposed=[60, 0, 60]), "new.csv")


def test_predict_is_refused_where_nothing_predicts(tmp_path, capsys):
    new = tmp_path / "new.csv"
    new.write_text("y,sigma\n1,2\n")
    out = tmp_path / "schools.html"
    from pystan_models import schools
    assert schools.main(["--predict", str(new), "--output", str(out)]) == 2
    assert "schools has no covariates or groups to predict from" in capsys.readouterr().err
    assert not out.exists()


def test_bad_new_rows_stop_before_sampling(tmp_path, capsys, monkeypatch):
    new = tmp_path / "new.csv"
    new.write_text("dose,exposed\n1.7,60\n1.8,\n")
    monkeypatch.setattr(beetles, "analyse", lambda **kw: pytest.fail("sampled"))
    assert beetles.main(["--predict", str(new), "--output",
                         str(tmp_path / "b.html")]) == 2
    err = capsys.readouterr().err
    assert f"{new}, row 2 (line 3), column 'exposed'" in err and "is empty" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_a_saved_run_predicts_any_rows_as_the_run_did(tmp_path):
    new = tmp_path / "doses.csv"
    NEW_DOSES.to_csv(new, index=False)
    out = tmp_path / "b.html"
    args = ["--chains", "2", "--iter-warmup", "300", "--iter-sampling", "300",
            "--quiet", "--predict", str(new)]
    assert beetles.main([*args, "--save", str(tmp_path / "run"), "--output",
                         str(out)]) == 0
    saved = pd.read_csv(tmp_path / "b-predictions.csv")
    assert f"3 row(s) of {new} predicted by" in out.read_text()   # the file, named
    assert beetles.main(["--from", str(tmp_path / "run"), "--predict", str(new),
                         "--output", str(tmp_path / "again.html")]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "again-predictions.csv"),
                                  saved)
    # other rows: generated quantities on the saved draws (written back to Stan CSV
    # files at 17 digits) predict exactly what the run itself predicts, same seed
    other = tmp_path / "other.csv"
    NEW_DOSES.assign(dose=[1.72, 1.8, 1.9]).to_csv(other, index=False)
    assert beetles.main(["--from", str(tmp_path / "run"), "--predict", str(other),
                         "--output", str(tmp_path / "third.html")]) == 0
    assert beetles.main([*args[:-1], str(other), "--output",
                         str(tmp_path / "fresh.html")]) == 0
    rebuilt = pd.read_csv(tmp_path / "third-predictions.csv")
    pd.testing.assert_frame_equal(rebuilt, pd.read_csv(tmp_path / "fresh-predictions.csv"))
    assert list(rebuilt["dose"].unique()) == [1.72, 1.8, 1.9]


@pytest.mark.slow
def test_a_saved_formula_run_predicts_other_rows_from_every_fit(tmp_path):
    """radon's formula path, y ~ x + (1 | g): the general program's fits have size-0
    parameters (sigma_alpha, with no nested means), which the saved draws lack, and
    the marginal program's beta_county has size 0 (CmdStan 2.27's standalone
    generated quantities crashed on it when it was declared before a nonzero
    parameter).  A rebuilt run predicts rows it was not saved with from all three
    fits, exactly as a fresh run does."""
    from pystan_models import radon
    data, new, other = (tmp_path / f for f in ("d.csv", "new.csv", "other.csv"))
    _simulated_groups(groups=12, rows=15).to_csv(data, index=False)
    pd.DataFrame({"x": [0.0, 1.0], "g": ["g0", "g1"]}).to_csv(new, index=False)
    pd.DataFrame({"x": [0.5, -1.0], "g": ["g3", "unseen"]}).to_csv(other, index=False)
    args = ["--data", str(data), "--formula", "y ~ x + (1 | g)", "--chains", "2",
            "--iter-warmup", "300", "--iter-sampling", "300", "--quiet"]
    assert radon.main([*args, "--predict", str(new), "--save", str(tmp_path / "run"),
                       "--output", str(tmp_path / "a.html")]) == 0
    assert radon.main(["--from", str(tmp_path / "run"), "--predict", str(other),
                       "--output", str(tmp_path / "b.html")]) == 0
    assert radon.main([*args, "--predict", str(other),
                       "--output", str(tmp_path / "c.html")]) == 0
    rebuilt = pd.read_csv(tmp_path / "b-predictions.csv")
    pd.testing.assert_frame_equal(rebuilt, pd.read_csv(tmp_path / "c-predictions.csv"))
    assert list(dict.fromkeys(rebuilt["fit"])) == ["formula", "complete pooling",
                                                  "formula, marginal"]
    assert rebuilt["new group"].tolist() == [False, True] * 3


def _simulated_groups(seed: int = 20261202, groups: int = 40, rows: int = 100,
                      tau: float = 0.5, sigma: float = 1.0) -> pd.DataFrame:
    """y = 1 + 0.5 x + u_g + e, u_g ~ N(0, tau^2), e ~ N(0, sigma^2): ``rows`` rows
    in each of ``groups`` groups (fixed seed)."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), rows)
    x = rng.normal(size=len(g))
    u = rng.normal(0, tau, groups)
    return pd.DataFrame({"y": 1 + 0.5 * x + u[g] + rng.normal(0, sigma, len(g)),
                         "x": x, "g": [f"g{k}" for k in g]})


@pytest.fixture(scope="module")
def held_out():
    """Half of each of 40 groups fitted by radon's formula path, the other half
    (2,000 rows) held out, and 10 groups the fit never saw (1,000 rows)."""
    data = _simulated_groups(groups=50)
    seen = data["g"].isin([f"g{k}" for k in range(40)])
    first = data.groupby("g").cumcount() < 50
    from pystan_models import radon
    r = radon.analyse(data[seen & first], formula="y ~ x + (1 | g)",
                      **{**SHORT, "iter_sampling": 1000})
    return r, data[seen & ~first], data[~seen]


@pytest.mark.slow
def test_held_out_rows_are_covered_at_the_nominal_rate(held_out):
    """The 90% predictive interval covers between 85% and 95% of 2,000 held-out
    rows of the groups fitted, and of the 1,000 rows of 10 new groups (measured:
    0.897 and 0.873), by the general program and by the marginal one (which
    draws the group effects in generated quantities)."""
    r, known, new = held_out
    for rows, name in ((known, "known groups"), (new, "new groups")):
        every = r.add_predictions(rows.drop(columns="y"))
        assert set(every["fit"]) == {"formula", "complete pooling", "formula, marginal"}
        for fit in ("formula", "formula, marginal"):
            table = every[every["fit"] == fit]
            assert table["new group"].all() == (name == "new groups")
            inside = ((rows["y"].to_numpy() >= table["y q5"].to_numpy())
                      & (rows["y"].to_numpy() <= table["y q95"].to_numpy()))
            assert 0.85 <= inside.mean() <= 0.95, \
                f"{fit}, {name}: {inside.mean():.3f} covered"


@pytest.mark.slow
def test_new_groups_are_wider_by_the_group_sd(held_out):
    """Var(y_new | new group) - Var(y_new | known group) = E(tau^2) - E(Var(u_g |
    data)) in expectation; the predictive variances, averaged over rows, agree with
    the draws' tau and group effects to 10% of tau^2."""
    r, known, new = held_out
    f = r.fits["formula"]
    var = {}
    for rows, name in ((known, "known"), (new, "new")):
        tree = r.predict(rows.drop(columns="y"))
        var[name] = tree["predictions"]["y"].var(("chain", "draw")).mean().item()
    post = f.idata["posterior"]
    tau2 = (post["sigma_gamma"] ** 2).mean().item()        # one cluster: 1|g
    u_var = post["gamma"].var(("chain", "draw")).mean().item()
    assert abs((var["new"] - var["known"]) - (tau2 - u_var)) < 0.1 * tau2


def _new_rows(frame: pd.DataFrame, group: str | None) -> pd.DataFrame:
    """The first two rows of an example's data, and the first again in a group the
    data does not have (when the example has groups)."""
    rows = frame.head(2).copy()
    if group is not None:
        new = frame.head(1).copy()
        new[group] = 10_000 if pd.api.types.is_numeric_dtype(frame[group]) else "new"
        rows = pd.concat([rows, new], ignore_index=True)
    return rows


TINY = dict(chains=2, iter_warmup=200, iter_sampling=200, seed=3, quiet=True)
EXAMPLES = {   # example: (its data, read as the user would, and its group column)
    "counts": ("epilepsy.csv", "patient"), "probit": ("seeds.csv", None),
    "separation": ("endometrial.csv", None), "rats": ("rats.csv", "rat"),
    "icc": ("radon_mn.csv", "county"), "radon": ("radon_mn.csv", "county"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_example_predicts_from_its_fits(name):
    """Each example's predicting fits give a row per new row and fit, intervals in
    order, and a new group's row a wider interval than the same row in its group."""
    import importlib
    from pystan_models.data import data_file
    module = importlib.import_module(f"pystan_models.{name}")
    file, group = EXAMPLES[name]
    rows = _new_rows(pd.read_csv(data_file(file)), group)
    r = module.analyse(**({"iter_warmup": 200, **TINY} if name != "rats" else TINY))
    table = r.add_predictions(rows)
    p = r.extras["predictor"]
    p = p if not isinstance(p, list) else [q for q in p if q.fits[0].startswith("epil")][0]
    fits = p.predicting(p.rows(rows, "rows"))
    assert fits == [f for f in p.fits if f not in p.known_groups_only or group is None]
    assert list(dict.fromkeys(table["fit"])) == fits
    assert len(table) == len(rows) * len(fits)
    stats = [c for c in table.columns if c.endswith((" q5", " q50", " q95"))]
    values = table[stats].to_numpy(float)
    assert np.isfinite(values).all()
    assert (values[:, 0] <= values[:, 1]).all() and (values[:, 1] <= values[:, 2]).all()
    assert list(table["new group"]) == ([False, False] + [True] * (group is not None)
                                        ) * len(fits)
    if group is not None:
        expected = [c for c in table.columns if c.endswith(" sd")][1]
        for fit, t in table.groupby("fit"):
            if fit in ("complete", "epilepsy: Poisson"):   # no group term
                continue
            assert t[expected].iloc[2] > t[expected].iloc[0], fit
    for fit in p.known_groups_only:    # radon's no pooling: the data's counties only
        with pytest.raises(DataError, match="row 3: a group not in the data"):
            r.predict(rows, fit)
        mu = r.predict(rows.head(2), fit)["predictions"]["mu"].values.reshape(-1, 2)
        beta = draws(r.fits[fit].idata, "beta").reshape(len(mu), -1)
        county = rows[group].head(2).to_numpy()      # X = floor, county indicators
        expected = beta[:, [0]] * rows["floor"].head(2).to_numpy() + beta[:, county]
        np.testing.assert_allclose(mu, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_the_gibbs_sampler_predicts_on_its_own_draws():
    """probit's Albert-Chib draws run through the probit program's generated
    quantities: mu = Phi(alpha + x'beta) of the Gibbs draws themselves, as computed
    here (CmdStan writes mu_pred with 6 significant digits), not of NUTS's."""
    from scipy.stats import norm
    from pystan_models import probit
    from pystan_models.data import data_file
    r = probit.analyse(**TINY)
    rows = pd.read_csv(data_file("seeds.csv")).head(4)
    tree = r.predict(rows, "probit Gibbs")
    X = r.extras["predictor"].rows(rows, "seeds rows").X
    for name, close in (("probit Gibbs", True), ("probit NUTS", False)):
        post = r.fits[name].idata["posterior"]
        eta = post["alpha"].values[..., None] + np.einsum(
            "cdk,rk->cdr", post["beta"].values, X)
        same = np.allclose(tree["predictions"]["mu"].values, norm.cdf(eta), rtol=2e-5)
        assert same == close, name
    assert r.add_predictions(rows)["fit"].unique().tolist() == list(probit.PREDICTING)


def _same_means(predicts, rows: pd.DataFrame, reference: str, others) -> np.ndarray:
    """Asserts that each fit in ``others`` (``predicts(rows, fit)``) predicts the rows' expected values with
    the same posterior mean as ``reference``, within 4 Monte Carlo standard errors
    (ArviZ's MCSE) of the difference; returns the reference's means."""
    import arviz as az
    means, errors = {}, {}
    for name in (reference, *others):
        mu = predicts(rows, name)["predictions"]["mu"]
        means[name] = mu.mean(("chain", "draw")).values
        errors[name] = az.mcse(mu.to_dataset(name="mu"))["mu"].values
    for name in others:
        gap = np.abs(means[name] - means[reference])
        assert (gap < 4 * np.hypot(errors[name], errors[reference])).all(), (name, gap)
    return means[reference]


@pytest.mark.slow
def test_the_marginal_program_predicts_what_the_full_one_does():
    """rats_marginal integrates the lines out and draws them in generated
    quantities: its predictions of known rats' weights, and of a new rat's, have
    the same posterior mean as rats_conjugate's and the Gibbs sampler's (the same
    posterior)."""
    from pystan_models import rats
    from pystan_models.data import data_file
    r = rats.analyse(**{**TINY, "iter_sampling": 500})
    rows = pd.DataFrame({"rat": [1, 30, 99], "age_days": [22.0, 36.0, 22.0]})
    means = _same_means(r.predict, rows, "NUTS", ["NUTS marginal", "Gibbs"])
    weights = pd.read_csv(data_file("rats.csv"))
    known = weights[(weights.rat == 1) & (weights.age_days == 22)].weight.item()
    assert abs(means[0] - known) < 15     # the rat's own line


@pytest.mark.slow
def test_radon_marginal_program_predicts_as_the_general_one():
    """radon_intercepts_marginal draws the county effects in generated quantities:
    its predictions for known counties and a new one agree with
    mixed_effects_clusters' on the same model (varying intercepts + uranium)."""
    from pystan_models import radon
    from pystan_models.fitting import RunOptions
    frame = radon.load()
    opts = RunOptions(**{**TINY, "iter_warmup": 300, "iter_sampling": 500})
    fits = {"uranium": radon.fit_model(frame, "uranium", opts),
            radon.MARGINAL_FIT: radon.fit_marginal(frame, opts)}
    p = radon.notes_predictor(frame)
    rows = frame.head(4).assign(county=[1, 2, 50, 999])
    _same_means(lambda new, name: predict.predict(fits[name], p, name,
                                                  p.rows(new, "rows"), 5),
                rows, "uranium", [radon.MARGINAL_FIT])
