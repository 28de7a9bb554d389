"""A group intercept on a user's binary data (issue 11, "Scale"): separation's
formula path fits ``y ~ x + (1 | g)`` with the varying-intercept program, sums the
0/1 rows that share a covariate pattern (and group) to binomial counts, and picks
centred or non-centred group intercepts by the centring rule.  Aggregated and
row-by-row fits must give the same posterior within Monte Carlo error."""
import numpy as np
import pandas as pd
import pytest
from test_separation_formula import assert_recovers, run_cli

from pystan_models import bench, formula, probit, separation
from pystan_models.fitting import RunOptions

GROUPED = "y ~ x1 + x2 + (1 | g)"
# bench.simulate_logistic's truth with two predictors
TRUTH = {"Intercept": -0.5, "x1": -1.0, "x2": 1.0, "sd(1|g)": 0.8}
OPTS = RunOptions(chains=4, iter_warmup=500, iter_sampling=500, seed=5, quiet=True)


def grouped_design(n: int, groups: int, seed: int = 3) -> formula.Design:
    frame = bench.logistic_frame(bench.simulate_logistic(n, groups, k=2, seed=seed))
    return probit.user_design(frame, GROUPED, False, "separation")


def patterned(n: int = 5000, groups: int = 10, seed: int = 20261202) -> pd.DataFrame:
    """0/1 rows on a dose with 5 values and 2 arms: at most 10 patterns per group."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, n)
    dose = rng.integers(0, 5, n).astype(float)
    arm = rng.choice(["A", "B"], n)
    alpha = -1.0 + 0.5 * rng.normal(size=groups)
    eta = alpha[g] + 0.4 * dose - 0.6 * (arm == "B")
    return pd.DataFrame({"y": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int),
                         "dose": dose, "arm": arm, "g": [f"c{k}" for k in g]})


def assert_same_posterior(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Two fits of one posterior: their means differ by less than 4 combined MCSEs."""
    for name in a.index:
        tol = 4 * np.hypot(a.loc[name, "mcse_mean"], b.loc[name, "mcse_mean"])
        assert abs(a.loc[name, "mean"] - b.loc[name, "mean"]) < tol, (name, tol)


# ---------------------------------------------------------------- no CmdStan

def test_rich_groups_are_centred_and_sparse_ones_not():
    rich = separation.group_choice(formula.aggregate_bernoulli(grouped_design(2400, 60)))
    sparse = separation.group_choice(formula.aggregate_bernoulli(grouped_design(300, 100)))
    assert rich.centred and rich.weight > 0.6 and 0.5 < rich.tau < 1.2
    assert not sparse.centred and sparse.weight < 0.5


def test_rows_sharing_a_pattern_and_group_are_summed():
    d = probit.user_design(patterned(), "y ~ dose + C(arm) + (1 | g)", False, "separation")
    agg = formula.aggregate_bernoulli(d)
    assert len(agg.y) <= 10 * 5 * 2 and agg.trials.sum() == 5000
    assert agg.y.sum() == d.y.sum() and (agg.y <= agg.trials).all()


def test_threads_share_the_cores_out_among_the_chains():
    assert separation.threading(4, 1000, cores=2) == {
        "threads_per_chain": 1, "parallel_chains": 2, "grainsize": 1000}
    assert separation.threading(4, 1000, cores=16) == {
        "threads_per_chain": 4, "parallel_chains": 4, "grainsize": 62}


@pytest.mark.parametrize("formula_text, message", [
    ("y ~ x1 + (1 | g)", "separation can fit it"),        # probit: no group terms
])
def test_probit_points_a_group_intercept_to_separation(formula_text, message):
    frame = bench.logistic_frame(bench.simulate_logistic(200, 10, k=1))
    with pytest.raises(formula.FormulaError, match=message):
        probit.user_design(frame, formula_text, False)


def test_a_varying_slope_is_refused():
    frame = bench.logistic_frame(bench.simulate_logistic(200, 10, k=1))
    with pytest.raises(formula.FormulaError, match="varies more than the intercept"):
        probit.user_design(frame, "y ~ x1 + (x1 | g)", False, "separation")


# ---------------------------------------------------------------- CmdStan

@pytest.mark.slow
def test_the_command_line_recovers_a_varying_intercept_model(tmp_path, cmdstan_home):
    frame = bench.logistic_frame(bench.simulate_logistic(2400, 60, k=2, seed=3))
    r, html = run_cli(tmp_path, frame, formula=GROUPED)
    table = r.table("posterior")
    assert list(table.index) == ["Intercept", "x1", "x2", "sd(1|g)"]
    assert_recovers(table, TRUTH)
    assert r.passed and r.extras["choice"].centred
    assert len(r.table("groups")) == 60 and r.table("groups")["rows"].sum() == 2400
    assert "centred (median data weight" in html and "Group intercepts" in html


@pytest.mark.slow
def test_aggregated_and_row_by_row_fits_agree(cmdstan_home):
    """5,000 0/1 rows against their binomial counts, in both programs that
    aggregate: the Gelman et al. logistic regression and the varying-intercept one."""
    frame = patterned()
    d = probit.user_design(frame, "y ~ dose + C(arm) + (1 | g)", False, "separation")
    agg = formula.aggregate_bernoulli(d)
    assert len(agg.y) <= 100
    spec = separation.PRIORS["Cauchy(0, 2.5)"]
    tables = [separation.fit_grouped(x, OPTS, spec, 1.0, True).table() for x in (d, agg)]
    assert_same_posterior(*tables)
    binary = [False, True]
    tables = []
    for x in (d, agg):
        data = separation.program_data(x.X, x.y, binary, spec, trials=x.trials)
        tables.append(separation.sample("logistic_weakly_informative", data, OPTS,
                                        main=["alpha", "beta"], y_rep=None,
                                        log_lik=None).table())
    assert_same_posterior(*tables)
