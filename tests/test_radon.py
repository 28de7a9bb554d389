"""Radon: the general mixed-effects program on five designs, against least squares,
REML (statsmodels) and Gelman & Hill (2007, ch. 12); data and design checks."""
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from pystan_models import radon
from pystan_models.errors import DataError
from pystan_models.fitting import RunOptions, from_draws, loo_compare, mcse, sample, stacked

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
    # a zero activity is Gelman & Hill's log(0.1)
    zero = ROWS[:3] + ["4,2,ANOKA,3,0,0.0,-2.303,0.429,-0.847"]
    assert radon.load(write(tmp_path, zero)).radon.iloc[3] == 0


def test_shipped_file_with_another_transform_is_refused(tmp_path):
    # rstanarm's and posteriordb's log(radon + 0.1) is a different outcome: the
    # corrupted copy of the real file fails on its first row, naming the column
    frame = radon.load()
    path = tmp_path / "radon.csv"
    frame.assign(log_radon=np.log(frame.radon + 0.1)).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"row 1 \(line 2\), column 'log_radon'.*"
                                        r"915 more row\(s\)") as err:   # the 3 zeros agree
        radon.load(path)
    assert str(path) in str(err.value)
    # the same checks on a frame in memory
    with pytest.raises(DataError, match=r"^data frame, row 5, column 'log_radon'"):
        radon.load(frame.assign(log_radon=frame.log_radon.where(frame.index != 4, 9.0)))


@pytest.mark.parametrize("rows, pattern", [
    (ROWS[:2] + [r.replace(",2,ANOKA", ",3,ANOKA") for r in ROWS[2:]],
     r"column 'county': no rows for county 2; counties must be numbered 1\.\.3"),
    (ROWS[:3] + ["4,2,ANOKA,3,0,1.0,nan,0.429,-0.847"],
     r"row 4 \(line 5\), column 'log_radon' \(value 'nan'\).*not a finite number"),
    (ROWS[:3] + ["4,2,ANOKA,3,0,1.0,,0.429,-0.847"], r"row 4 .*column 'log_radon'"),
    (ROWS[:3] + ["4,2,ANOKAH,3,0,1.0,0.0,0.429,-0.847"],
     r"row 4 \(line 5\), column 'county_name'.*differs from the name"),
    (ROWS[:3] + ["4,2,ANOKA,3,0,1.0,0.0,0.6065,-0.5"],
     r"row 4 \(line 5\), column 'uranium_ppm'.*one value per county"),
    (ROWS[:3] + ["4,2,ANOKA,4,0,1.0,0.0,0.429,-0.847"],
     r"row 4 \(line 5\), column 'county_fips'.*one value per county"),
    # issue 15: derived columns that do not follow from the columns they derive from
    (ROWS[:3] + ["4,2,ANOKA,3,0,1.0,0.0953,0.429,-0.847"],     # log(1.0 + 0.1)
     r"row 4 \(line 5\), column 'log_radon' \(value '?0.0953'?\): is not log\(radon\)"),
    (ROWS[:3] + ["4,2,ANOKA,3,0,0.0,0.0,0.429,-0.847"],        # 0 must become log(0.1)
     r"row 4 \(line 5\), column 'log_radon'.*0 replaced by 0.1"),
    (ROWS[:3] + ["4,2,ANOKA,3,0,1.0,0.0,0.429,-0.5"],
     r"row 4 \(line 5\), column 'log_uranium'.*not log\(uranium_ppm\)"),
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

@pytest.mark.parametrize("model, K, intercept, Q, S, C", [
    ("complete", 1, 1, 0, 0, 0), ("none", 86, 0, 0, 0, 0), ("intercepts", 1, 0, 85, 1, 1),
    ("uranium", 2, 0, 85, 1, 1), ("slopes", 1, 0, 170, 2, 2)])
def test_stan_data_sizes(model, K, intercept, Q, S, C):
    frame = radon.load()
    data = radon.stan_data(frame.log_radon, radon.design(frame, model))
    assert (data["K"], data["intercept"], data["Q"], data["S"], data["C"]) == (
        K, intercept, Q, S, C)
    assert np.shape(data["X"]) == (919, K) and len(data["cluster"]) == Q
    assert len(data["z_col"]) == S and all(len(c) == 919 for c in data["z_col"])
    assert data["has_mean"] == [1] * C and data["nested"] == 0
    # the contract's switches; LOO fits write log_lik without y_rep
    assert (data["prior_only"], data["pointwise"], data["log_lik_only"]) == (0, 1, 1)
    assert data["beta_prior_sd"] == 0       # the notes' flat prior
    assert all(isinstance(v, int) for v in data["cluster"])
    # X never holds an intercept column
    assert not any(np.ptp(col) == 0 for col in np.array(data["X"]).T)


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
    d.intercept = True                        # a fixed intercept and a free cluster mean
    with pytest.raises(DataError, match="not identified under the flat prior"):
        radon.stan_data(frame.log_radon, d)
    d.has_mean = [0]                          # the mean is the fixed intercept: fine
    assert radon.stan_data(frame.log_radon, d)["has_mean"] == [0]
    d.intercept, d.X = False, d.X.assign(ones=1.0)   # an intercept column in X
    with pytest.raises(DataError, match="column 'ones' of X is constant"):
        radon.stan_data(frame.log_radon, d)


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
    assert "(--counties): no county named 'GOTHAM'" in err and "Traceback" not in err
    assert not out.exists()
    # the library call checks the same before sampling
    with pytest.raises(DataError, match="no county named 'GOTHAM'"):
        radon.analyse(figure_counties=["AITKIN", "GOTHAM"])
    with pytest.raises(DataError, match="at least one county"):
        radon.analyse(figure_counties=" , ")


def test_bad_frame_raises_naming_column_and_row():
    frame = radon.load()
    # rstanarm's transform on one house: refused before anything compiles
    bad = frame.assign(log_radon=frame.log_radon.where(frame.index != 6,
                                                       np.log(frame.radon[6] + 0.1)))
    with pytest.raises(DataError, match=r"^data frame, row 7, column 'log_radon'.*"
                                        r"not log\(radon\)"):
        radon.analyse(bad)
    with pytest.raises(DataError, match=r"^data frame, row 3, column 'floor'.*not 0 or 1"):
        radon.analyse(frame.assign(floor=frame.floor.where(frame.index != 2, 2)))
    with pytest.raises(DataError, match=r"data frame: missing column\(s\) log_uranium"):
        radon.analyse(frame.drop(columns="log_uranium"))
    # a frame that passes keeps its source for the report
    assert radon.load(frame.copy()).attrs["source"] == "data frame"


def test_unknown_run_option_is_refused():
    from pystan_models.errors import PystanModelsError
    with pytest.raises(PystanModelsError, match="unknown option"):
        radon.analyse(chain=2)


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


# --- the answer, from constructed tables (no sampling) ------------------------------

def row(mean, sd, lo=None, hi=None):
    return {"mean": mean, "sd": sd, "2.5%": mean - 2 * sd if lo is None else lo,
            "97.5%": mean + 2 * sd if hi is None else hi}


def answer_inputs(**changes):
    """Tables, problems, references, LOO and the pooling county as analyse builds
    them, with Gelman & Hill's values; ``changes``: model -> {parameter: row}."""
    rows = {
        "complete": {"beta[intercept]": row(1.33, 0.03), "beta[floor]": row(-0.61, 0.07),
                     "sigma": row(0.82, 0.02)},
        "none": {"beta[floor]": row(-0.72, 0.07), "sigma": row(0.76, 0.02)},
        "intercepts": {"beta[floor]": row(-0.69, 0.07),
                       "alpha[county intercept]": row(1.46, 0.05),
                       "sigma_gamma[county intercept]": row(0.33, 0.05),
                       "sigma": row(0.76, 0.02)},
        "uranium": {"alpha[county intercept]": row(1.47, 0.04),
                    "beta[floor]": row(-0.67, 0.07), "beta[log_uranium]": row(0.72, 0.09),
                    "sigma_gamma[county intercept]": row(0.16, 0.05),
                    "sigma": row(0.76, 0.02)},
        "slopes": {"alpha[county intercept]": row(1.47, 0.04),
                   "alpha[county floor slope]": row(-0.66, 0.09),
                   "beta[log_uranium]": row(0.81, 0.09),
                   "sigma_gamma[county intercept]": row(0.14, 0.05),
                   "sigma_gamma[county floor slope]": row(0.35, 0.12),
                   "sigma": row(0.75, 0.02)}}
    for model, change in changes.items():
        rows[model].update(change)
    tables = {m: pd.DataFrame(r).T for m, r in rows.items()}
    refs = {m: {k: v["mean"] for k, v in r.items()} for m, r in rows.items()}
    refs["slopes"]["sigma_gamma[county floor slope]"] = 0.44   # REML's mode
    loo = pd.DataFrame({"elpd_diff": [0.0, 4.0, 4.8, 10.0, 60.0],
                        "dse": [0.0, 1.5, 2.0, 4.0, 10.0]},
                       index=[radon.MODELS[m] for m in
                              ("uranium", "slopes", "intercepts", "none", "complete")])
    pooled = {"county": "LAC QUI PARLE", "houses": 2, "none": 2.9, "partial": 1.9,
              "mean": 1.46}
    return tables, {m: [] for m in rows}, refs, loo, [], pooled


def test_answer_states_the_conclusions_when_diagnostics_pass():
    text = radon.answer(*answer_inputs())
    assert "lower log radon than a basement one by 0.69 (95% interval 0.55 to 0.83)" in text
    assert "falls from 0.33 to 0.16" in text and "76% of the between-county" in text
    assert "By LOO varying intercepts + county uranium has the highest elpd" in text
    assert "does not tell them apart" not in text and "provisional" not in text
    assert "moves small counties towards the mean" in text
    assert "within 0.00 posterior sd of Gelman & Hill" in text
    assert "except the slopes model's two poorly determined county sds" in text
    assert "diagnostics failed" not in text


def test_answer_leaves_out_what_rests_on_a_failed_fit():
    tables, problems, refs, loo, notes, pooled = answer_inputs()
    problems["intercepts"] = ["R-hat up to 1.080 (beta[floor]); chains disagree"]
    text = radon.answer(tables, problems, refs, loo, notes, pooled)
    assert text.startswith("The sampler diagnostics failed for the varying intercepts fit "
                           "(R-hat up to 1.080")
    assert "run longer chains" in text
    # the floor effect, the sd comparison, the LOO ranking and the pooling claim all
    # rest on the failed fit (LOO compares all five): none of them is stated
    for claim in ("first-floor measurement", "falls from", "By LOO", "Partial pooling",
                  "0.69"):
        assert claim not in text, claim
    # the uranium fit passed: its own numbers stay, without the comparison
    assert "County soil uranium has coefficient 0.72" in text
    # reference gaps over the fits that passed only
    assert "models with passing diagnostics only" in text
    # every fit failed: nothing but the failure
    text = radon.answer(tables, {m: ["bulk ESS as low as 40"] for m in problems}, refs,
                        loo, notes, pooled)
    assert "County soil" not in text and "Posterior means" not in text
    assert "numbers of those fits are left out" in text


def test_answer_comparisons_follow_the_numbers():
    tables, problems, refs, loo, notes, pooled = answer_inputs(
        intercepts={"beta[floor]": row(-0.05, 0.07)},
        uranium={"sigma_gamma[county intercept]": row(0.40, 0.05)})
    pooled["partial"] = 3.2                          # further from the mean than 2.9
    loo.loc[loo.index[1], ["elpd_diff", "dse"]] = [1.0, 1.5]
    text = radon.answer(tables, problems, refs, loo, notes, pooled)
    assert "floor effect (first floor minus basement) is -0.05" in text
    assert "which includes 0" in text and "lower log radon" not in text
    assert "falls" not in text and "is 0.40 (0.33 without)" in text
    assert "towards the mean" not in text and "has intercept 2.90 without" in text
    assert "LOO does not tell them apart" in text


def test_answer_loo_ranking_is_provisional_with_high_pareto_k():
    tables, problems, refs, loo, _, pooled = answer_inputs()
    notes = [f"{radon.MODELS['slopes']}: 3 of 919 observations have Pareto k > 0.7"]
    text = radon.answer(tables, problems, refs, loo, notes, pooled)
    assert "The ranking is provisional" in text and "Pareto k > 0.7" in text
    notes = [f"{radon.MODELS['none']}: 3 of 919 observations have Pareto k > 0.7"]
    text = radon.answer(tables, problems, refs, loo, notes, pooled)
    assert "provisional" not in text
    assert f"PSIS-LOO is unreliable for some houses in {radon.MODELS['none']}" in text


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
    post = stacked(fits["slopes"].idata, "sigma_gamma")
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
    mc_error = mcse(from_draws({"a": a.reshape(SHORT.chains, SHORT.iter_sampling, -1)}),
                    ["a"])["a"].values
    # the BLUP plugs in the REML sds; the posterior mean integrates over them
    tol = 0.2 * a.std(0) + 3 * mc_error
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
    assert (data["N"], data["J"], data["K"], data["L"]) == (919, 85, 1, 1)
    assert np.shape(data["X"]) == (919, 1) and np.shape(data["W"]) == (85, 1)
    assert data["W"][35][0] == pytest.approx(np.log(1.36483), abs=1e-6)  # LAC QUI PARLE
    assert all(isinstance(c, int) for c in data["group"]) and max(data["group"]) == 85
    assert (data["prior_only"], data["pointwise"], data["beta_prior_sd"]) == (0, 0, 0)


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
    assert "posterior_predictive" not in f.idata.children
    # complete pooling: Q = 0, so no random effects at all (zero-size gamma dropped)
    assert fits["complete"].idata.posterior["beta"].shape[2:] == (2,)
    assert "gamma" not in fits["complete"].idata.posterior


@pytest.mark.slow
def test_pointwise_flag_writes_log_lik_and_y_rep(cmdstan_home):
    frame = radon.load()
    data = radon.stan_data(frame.log_radon, radon.design(frame, "complete"), y_rep=True)
    fit = sample(radon.PROGRAM, data, RunOptions(1, 200, 100, 5, True), main=["sigma"]).fit
    y_rep = fit.stan_variable("y_rep")
    assert y_rep.shape == (100, 919) and fit.stan_variable("log_lik").shape == (100, 919)
    # replicates scatter around the data: complete pooling, mean 1.22, sd 0.82
    assert y_rep.mean() == pytest.approx(frame.log_radon.mean(), abs=0.1)
    assert y_rep.std() == pytest.approx(frame.log_radon.std(), rel=0.1)


@pytest.mark.slow
def test_prior_only_draws_from_the_prior(cmdstan_home):
    # with a proper prior on beta, prior_only = 1 gives the prior: sigma is
    # half-normal(0, 1) (mean sqrt(2 / pi)) and the data do not pull beta
    frame = radon.load()
    opts = RunOptions(2, 300, 300, 5, True)
    data = radon.stan_data(frame.log_radon, radon.design(frame, "uranium"),
                           beta_prior_sd=1.0, prior_only=True, pointwise=False)
    fit = sample(radon.PROGRAM, data, opts, main=["sigma"]).fit
    assert fit.stan_variable("sigma").mean() == pytest.approx(np.sqrt(2 / np.pi), abs=0.12)
    assert abs(fit.stan_variable("beta").mean()) < 0.25
    assert fit.stan_variable("beta").std() == pytest.approx(1.0, rel=0.25)
    marginal = sample(radon.MARGINAL, radon.marginal_data(frame, beta_prior_sd=1.0,
                                                          prior_only=True), opts,
                      main=["sigma"]).fit
    assert marginal.stan_variable("sigma").mean() == pytest.approx(np.sqrt(2 / np.pi),
                                                                   abs=0.12)
    assert marginal.stan_variable("beta").std() == pytest.approx(1.0, rel=0.25)


@pytest.mark.slow
def test_analyse_on_a_frame_in_memory(tmp_path, cmdstan_home):
    frame = radon.load().copy()
    r = radon.analyse(frame, chains=2, iter_warmup=150, iter_sampling=100, seed=3,
                      quiet=True, quick=True, figure_counties="AITKIN, CLAY")
    assert set(r.fits) == {*radon.MODELS, radon.NESTED, radon.MARGINAL_FIT}
    assert "log_radon" in r.fits["uranium"].idata.log_likelihood
    assert "log_lik" not in r.fits[radon.MARGINAL_FIT].fit.stan_variables()
    coef = r.table("coefficients")
    assert coef.loc[("uranium", "beta[log_uranium]"), "REML / LS"] == pytest.approx(0.72,
                                                                                   abs=0.01)
    assert list(r.table("loo").index[:1]) != [] and len(r.table("efficiency")) == 7
    assert r.extras["figure_counties"] == ["AITKIN", "CLAY"]
    # the answer is built from these tables and these fits' diagnostics
    problems = {k: r.fits[k].problems for k in radon.MODELS}
    assert r.answer.startswith("The sampler diagnostics failed") == any(problems.values())
    html = r.write_report(tmp_path / "radon.html").read_text()
    assert "data frame" in html and ">Provenance</h2>" in html


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
