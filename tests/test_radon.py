"""Radon: the general mixed-effects program on five designs, against least squares,
REML (statsmodels) and Gelman & Hill (2007, ch. 12); data and design checks."""
import warnings

import arviz as az
import numpy as np
import pytest
import statsmodels.formula.api as smf

from pystan_models import radon
from pystan_models.errors import DataError
from pystan_models.fitting import RunOptions, loo_compare, sample

from conftest import SHORT, assert_near_reference, assert_self_contained

HEADER = ("idnum,county,county_name,county_fips,floor,radon,log_radon,uranium_ppm,"
          "log_uranium\n")
ROWS = ["1,1,AITKIN,1,1,2.2,0.788,0.502,-0.689", "2,1,AITKIN,1,0,2.9,1.065,0.502,-0.689",
        "3,2,ANOKA,3,0,3.1,1.131,0.429,-0.847", "4,2,ANOKA,3,0,1.0,0.0,0.429,-0.847"]


def write(tmp_path, rows):
    path = tmp_path / "radon.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


# --- data ---------------------------------------------------------------------

def test_shipped_data_is_gelman_hill_minnesota():
    frame = radon.load()
    info = radon.counties(frame)
    assert len(frame) == 919 and len(info) == 85
    assert info.n.min() == 1 and info.n.max() == 116 and (info.n == 1).sum() == 3
    assert frame.floor.sum() == 153
    assert info.loc[36, "name"] == "LAC QUI PARLE" and info.loc[36, "n"] == 2
    # Gelman & Hill's transform: log(radon), 0 replaced by 0.1
    expected = np.log(np.where(frame.radon == 0, 0.1, frame.radon))
    assert np.allclose(frame.log_radon, expected, atol=1e-8)


def test_small_file_loads(tmp_path):
    frame = radon.load(write(tmp_path, ROWS))
    assert radon.counties(frame).n.tolist() == [2, 2]


@pytest.mark.parametrize("rows, pattern", [
    (ROWS[:2] + [r.replace(",2,ANOKA", ",3,ANOKA") for r in ROWS[2:]],
     r"column 'county': no rows for county 2; counties must be numbered 1\.\.3"),
    (ROWS[:3] + ["4,2,ANOKA,3,0,1.0,nan,0.429,-0.847"],
     r"row 4 \(line 5\), column 'log_radon' \(value 'nan'\).*not a finite number"),
    (ROWS[:3] + ["4,2,ANOKA,3,0,1.0,,0.429,-0.847"], r"row 4 .*column 'log_radon'"),
    (ROWS[:3] + ["4,2,ANOKAH,3,0,1.0,0.0,0.429,-0.847"],
     r"row 4 \(line 5\), column 'county_name'.*differs from the name"),
    (ROWS[:3] + ["4,2,ANOKA,3,0,1.0,0.0,0.429,-0.5"],
     r"row 4 \(line 5\), column 'log_uranium'.*one value per county"),
    (ROWS[:3] + ["4,3,ANOKA,3,0,1.0,0.0,0.429,-0.847"],
     r"row 4 \(line 5\), column 'county'.*another county index"),
    (ROWS[:3] + ["4,2,ANOKA,3,2,1.0,0.0,0.429,-0.847"],
     r"row 4 \(line 5\), column 'floor'.*not 0 or 1"),
    (ROWS[:3] + ["4,2,ANOKA,3,0,-1.0,0.0,0.429,-0.847"],
     r"row 4 \(line 5\), column 'radon'.*negative"),
    (ROWS[:3] + ["4,2,ANOKA,3,0,1.0,0.0,0,-0.847"],
     r"row 4 \(line 5\), column 'uranium_ppm'.*positive"),
    (ROWS[:3] + ["4,0,ANOKA,3,0,1.0,0.0,0.429,-0.847"], r"row 4 .*column 'county'.*positive"),
])
def test_bad_file_is_named_before_sampling(tmp_path, rows, pattern):
    path = write(tmp_path, rows)
    with pytest.raises(DataError, match=pattern) as err:
        radon.load(path)
    assert str(path) in str(err.value)


# --- designs and the Stan data dict ------------------------------------------------

@pytest.mark.parametrize("model, P, Q, R, K", [
    ("complete", 2, 0, 0, 0), ("none", 86, 0, 0, 0), ("intercepts", 1, 85, 1, 1),
    ("uranium", 2, 85, 1, 1), ("slopes", 1, 170, 2, 2)])
def test_stan_data_sizes(model, P, Q, R, K):
    frame = radon.load()
    data = radon.stan_data(frame.log_radon, radon.design(frame, model))
    assert (data["P"], data["Q"], data["R"], data["K"]) == (P, Q, R, K)
    assert np.shape(data["X"]) == (919, P) and len(data["cluster"]) == Q
    assert len(data["z_col"]) == R and all(len(c) == 919 for c in data["z_col"])
    assert data["has_mean"] == [1] * K and data["nested"] == 0
    assert (data["pointwise"], data["replicates"]) == (1, 0)
    assert all(isinstance(v, int) for v in data["cluster"])


@pytest.mark.parametrize("model", ["intercepts", "slopes"])
def test_sparse_slots_reproduce_z_times_gamma(model):
    frame = radon.load()
    d = radon.design(frame, model)
    data = radon.stan_data(frame.log_radon, d)
    gamma = np.random.default_rng(0).normal(size=data["Q"])
    col, val = np.array(data["z_col"]) - 1, np.array(data["z_val"])
    assert np.allclose((val * gamma[col]).sum(0), d.Z @ gamma)
    # a first-floor house in the slopes design fills both slots
    if model == "slopes":
        i = int(np.flatnonzero(frame.floor)[0])
        assert sorted(col[:, i]) == [frame.county[i] - 1, 85 + frame.county[i] - 1]


def test_duplicated_intercept_is_not_identified():
    frame = radon.load()
    d = radon.design(frame, "intercepts")
    d.X = d.X.assign(intercept=1.0)          # intercept in X and a free cluster mean
    with pytest.raises(DataError, match="not identified under the flat prior"):
        radon.stan_data(frame.log_radon, d)
    d.has_mean = [0]                          # the mean lives in X: fine
    assert radon.stan_data(frame.log_radon, d)["has_mean"] == [0]


def test_design_errors():
    frame = radon.load()
    d = radon.design(frame, "uranium")
    with pytest.raises(DataError, match="y has a missing or infinite value"):
        radon.stan_data(frame.log_radon.where(frame.index != 5), d)
    d.cluster = np.full(85, 2)
    with pytest.raises(DataError, match="cluster labels must lie in 1..1"):
        radon.stan_data(frame.log_radon, d)
    with pytest.raises(DataError, match="unknown model 'partial'"):
        radon.design(frame, "partial")


def test_unknown_county_option_fails_before_sampling(tmp_path, capsys):
    out = tmp_path / "radon.html"
    assert radon.main(["--counties", "AITKIN,GOTHAM", "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--counties: no county named 'GOTHAM'" in err and "Traceback" not in err
    assert not out.exists()


def test_reml_references_are_cached_by_data(tmp_path, monkeypatch):
    monkeypatch.setenv("PYSTAN_MODELS_CACHE", str(tmp_path))
    frame = radon.load()
    ref = radon.reml(frame, "complete")
    assert radon.cached_reml(frame, "complete") == ref           # computed and stored
    assert len(list((tmp_path / "references").iterdir())) == 1
    assert radon.cached_reml(frame, "complete") == ref           # read back
    shifted = radon.cached_reml(frame.assign(log_radon=frame.log_radon + 1), "complete")
    assert shifted["beta[intercept]"] == pytest.approx(ref["beta[intercept]"] + 1)
    assert len(list((tmp_path / "references").iterdir())) == 2   # other data, other key


# --- compile and sample --------------------------------------------------------------

@pytest.fixture(scope="module")
def fits(cmdstan_home):
    return radon.fit_all(radon.load(), SHORT)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["complete", "none", "intercepts", "uranium"])
def test_matches_least_squares_and_reml(fits, model):
    # flat priors on the fixed effects, weak ones on the sds: posterior means sit
    # within a fraction of a posterior sd of the LS / REML estimates.
    table = radon.coefficients(fits[model])
    assert_near_reference(table, radon.reml(radon.load(), model))
    assert fits[model].problems == []


@pytest.mark.slow
@pytest.mark.parametrize("model", ["complete", "none", "intercepts", "uranium"])
def test_matches_gelman_hill(fits, model):
    table = radon.coefficients(fits[model])
    # published values are rounded to 2 decimals: allow the rounding on top
    for name, ref in radon.PUBLISHED[model].items():
        row = table.loc[name]
        tol = 0.2 * row["sd"] + 3 * row["mcse_mean"] + 0.005
        assert abs(row["mean"] - ref) <= tol, (name, row["mean"], ref, tol)


@pytest.mark.slow
def test_two_clusters_against_reml(fits):
    table = radon.coefficients(fits["slopes"])
    ref = radon.reml(radon.load(), "slopes")
    fixed = {k: v for k, v in ref.items() if not k.startswith("sigma_gamma")}
    assert_near_reference(table, fixed)
    # the two cluster sds are poorly determined (skewed, REML is mode-like): the REML
    # value must lie inside the central 90% posterior interval, and the floor-slope
    # sd must be the larger, as REML says (0.44 vs 0.10)
    post = az.extract(fits["slopes"].idata, var_names="sigma_gamma")
    for cluster in ("county intercept", "county floor slope"):
        draws = post.sel(cluster=cluster).values
        lo, hi = np.quantile(draws, [0.05, 0.95])
        assert lo < ref[f"sigma_gamma[{cluster}]"] < hi, (cluster, lo, hi)
    assert (post.sel(cluster="county floor slope").values
            > post.sel(cluster="county intercept").values).mean() > 0.9


@pytest.mark.slow
@pytest.mark.parametrize("model, formula", [
    ("intercepts", "log_radon ~ floor"), ("uranium", "log_radon ~ floor + log_uranium")])
def test_county_intercepts_match_reml_blups(fits, model, formula):
    frame = radon.load()
    info = radon.counties(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = smf.mixedlm(formula, frame, groups=frame.county).fit(reml=True)
    blup = r.fe_params["Intercept"] + np.array([r.random_effects[j].iloc[0]
                                                for j in info.index])
    if model == "uranium":
        blup += r.fe_params["log_uranium"] * info.log_uranium.to_numpy()
    a = radon.county_intercepts(frame, fits[model])
    mcse = az.mcse(az.convert_to_dataset(
        {"a": a.reshape(SHORT.chains, SHORT.iter_sampling, -1)}))["a"].values
    # the BLUP plugs in the REML sds; the posterior mean integrates over them
    tol = 0.2 * a.std(0) + 3 * mcse
    assert np.all(np.abs(a.mean(0) - blup) <= tol), np.max(np.abs(a.mean(0) - blup) / tol)


@pytest.mark.slow
def test_partial_pooling_sits_between_and_depends_on_n(fits):
    frame = radon.load()
    info = radon.counties(frame)
    none = radon.county_intercepts(frame, fits["none"]).mean(0)
    part = radon.county_intercepts(frame, fits["intercepts"]).mean(0)
    mu = fits["intercepts"].idata.posterior["alpha"].mean().item()
    # fraction of its own deviation a county keeps: n s_a^2 / (n s_a^2 + s_y^2)
    kept = (part - mu) / (none - mu)
    small, large = info.n.to_numpy() <= 2, info.n.to_numpy() >= 40
    clear = np.abs(none - mu) > 0.2           # counties whose own mean is well off mu
    assert np.all((kept[clear] > 0) & (kept[clear] < 1))
    assert kept[small].mean() < 0.5 < kept[large].mean()


@pytest.mark.slow
def test_loo_ranks_models(fits):
    table, _ = loo_compare(fits)
    elpd = table.elpd_loo
    assert elpd["uranium"] > elpd["intercepts"] > elpd["none"] > elpd["complete"]


@pytest.mark.slow
def test_nested_cluster_means_hardly_move(cmdstan_home, fits):
    # two chains are enough for means whose tolerance carries both MCSEs
    opts = RunOptions(chains=2, iter_warmup=400, iter_sampling=400, seed=1234, quiet=True)
    nested = radon.fit_model(radon.load(), "slopes", opts, nested=True)
    a, b = radon.coefficients(fits["slopes"]), radon.coefficients(nested)
    assert "sigma_alpha" in b.index and b.loc["sigma_alpha", "mean"] > 0.3
    for name in ("alpha[county intercept]", "alpha[county floor slope]"):
        tol = 0.3 * a.loc[name, "sd"] + 3 * np.hypot(a.loc[name, "mcse_mean"],
                                                     b.loc[name, "mcse_mean"])
        assert abs(a.loc[name, "mean"] - b.loc[name, "mean"]) <= tol


def test_marginal_data_dict():
    data = radon.marginal_data(radon.load())
    assert (data["N"], data["J"], data["P"], data["L"]) == (919, 85, 1, 1)
    assert np.shape(data["X"]) == (919, 1) and np.shape(data["W"]) == (85, 1)
    assert data["W"][35][0] == pytest.approx(np.log(1.36483), abs=1e-6)  # LAC QUI PARLE
    assert all(isinstance(c, int) for c in data["county"])
    assert data["pointwise"] == 0


@pytest.mark.slow
def test_marginal_program_has_the_same_posterior(fits):
    # the same model with the county effects integrated out: the posterior means
    # differ by Monte Carlo error only (4 combined MCSEs)
    marginal = radon.fit_marginal(radon.load(), SHORT)
    assert marginal.problems == []
    a, b = radon.coefficients(fits["uranium"]), radon.marginal_table(marginal)
    for name in radon.MARGINAL_NAMES.values():
        tol = 4 * np.hypot(a.loc[name, "mcse_mean"], b.loc[name, "mcse_mean"])
        assert abs(a.loc[name, "mean"] - b.loc[name, "mean"]) <= tol, name
        assert b.loc[name, "sd"] == pytest.approx(a.loc[name, "sd"], rel=0.15), name
    # county effects drawn in generated quantities match the sampled ones
    assert radon.gamma_gap(fits["uranium"], marginal) < 0.2


@pytest.mark.slow
def test_outputs_have_names_and_shapes(fits):
    f = fits["slopes"]
    post = f.idata.posterior
    assert list(post["alpha"].cluster.values) == ["county intercept", "county floor slope"]
    assert post["gamma"].shape[2:] == (170,) and post["beta"].shape[2:] == (1,)
    # log_lik for LOO; no y_rep unless asked for (the report does not use it)
    assert "log_radon" in f.idata.log_likelihood
    assert "posterior_predictive" not in f.idata.groups()
    # complete pooling: Q = 0, so no random effects at all (zero-size gamma dropped)
    assert fits["complete"].idata.posterior["beta"].shape[2:] == (2,)
    assert "gamma" not in fits["complete"].idata.posterior


@pytest.mark.slow
def test_replicates_flag_writes_y_rep_only(cmdstan_home):
    frame = radon.load()
    data = radon.stan_data(frame.log_radon, radon.design(frame, "complete"),
                           pointwise=False, replicates=True)
    fit = sample(radon.PROGRAM, data, RunOptions(1, 200, 100, 5, True), main=["sigma"]).fit
    y_rep = fit.stan_variable("y_rep")
    assert y_rep.shape == (100, 919) and "log_lik" not in fit.stan_variables()
    # replicates scatter around the data: complete pooling, mean 1.22, sd 0.82
    assert y_rep.mean() == pytest.approx(frame.log_radon.mean(), abs=0.1)
    assert y_rep.std() == pytest.approx(frame.log_radon.std(), rel=0.1)


@pytest.mark.slow
def test_report_is_complete_and_self_contained(tmp_path, cmdstan_home):
    out = tmp_path / "radon.html"
    assert radon.main(["--chains", "2", "--iter-warmup", "150", "--iter-sampling", "100",
                       "--quiet", "--output", str(out)]) == 0
    html = out.read_text()
    for section in ["Data", "Models", "Coefficients compared", "Coefficients by model",
                    "Partial pooling", "County-level uranium effect", "Nested cluster means",
                    "Fast program: county effects integrated out",
                    "LOO comparison", "Timing", "Provenance"]:
        assert f">{section}</h2>" in html
    assert "LAC QUI PARLE" in html and "mixed_effects_clusters.stan" in html
    assert_self_contained(html, 5)
