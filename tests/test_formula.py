"""The formula layer (pystan_models.formula): names, shapes and values of the
design matrices formulae builds, every data check, and Bernoulli aggregation.
No CmdStan needed."""
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pystan_models.errors import DataError, PystanModelsError
from pystan_models.formula import (FormulaError, aggregate_bernoulli,
                                   checked_structure, default_priors, design)


@pytest.fixture
def frame():
    rng = np.random.default_rng(20261202)
    n = 60
    return pd.DataFrame({
        "visits": rng.poisson(3, n), "age": rng.normal(40, 10, n).round(1),
        "sex": rng.choice(["F", "M"], n), "income": rng.normal(30, 5, n),
        "region": rng.choice(["north", "east", "west"], n),
        "months": rng.uniform(1, 12, n), "treat": rng.integers(0, 2, n),
        "base": rng.poisson(8, n), "patient": rng.integers(1, 13, n),
        "ses": rng.normal(size=n), "school": rng.choice(list("ABCDE"), n),
        "score": rng.normal(50, 10, n), "dead": rng.integers(0, 7, n), "n": 6,
        "bp": rng.normal(120, 15, n), "clinic": rng.choice(["c1", "c2", "c3"], n),
    })


def test_common_terms_match_a_hand_built_matrix(frame):
    d = design(frame, "visits ~ age + C(sex) + C(region) + income", family="poisson",
               exposure="months")
    assert d.intercept and d.response_name == "visits"
    # reference levels are the first in sorted order: F, east
    assert d.common_names == ["age", "C(sex)[M]", "C(region)[north]",
                              "C(region)[west]", "income"]
    expected = np.column_stack([frame.age, frame.sex == "M", frame.region == "north",
                                frame.region == "west", frame.income]).astype(float)
    np.testing.assert_array_equal(d.X, expected)
    np.testing.assert_array_equal(d.y, frame.visits)
    assert d.y.dtype.kind == "i" and d.trials is None
    np.testing.assert_allclose(d.log_exposure, np.log(frame.months))
    np.testing.assert_allclose(d.x_mean, expected.mean(axis=0))
    np.testing.assert_allclose(d.x_sd, expected.std(axis=0, ddof=1))
    assert d.dropped_rows == 0 and d.groups == []


def test_interaction_and_group_intercept(frame):
    d = design(frame, "visits ~ treat * base + (1 | patient)", family="poisson")
    assert d.common_names == ["treat", "base", "treat:base"]
    np.testing.assert_array_equal(d.X[:, 2], frame.treat * frame.base)
    (g,) = d.groups
    assert (g.name, g.factor, g.coef_names) == ("1|patient", "patient", ["1|patient"])
    levels = sorted(frame.patient.unique())
    assert g.levels == [str(v) for v in levels]          # numeric order, as text
    np.testing.assert_array_equal(g.index, [levels.index(v) + 1 for v in frame.patient])
    np.testing.assert_array_equal(g.Z, np.ones((len(frame), 1)))


def test_varying_intercept_and_slope(frame):
    d = design(frame, "score ~ ses + (1 + ses | school)", family="gaussian")
    (g,) = d.groups
    assert g.name == "1 + ses|school"
    assert g.coef_names == ["1|school", "ses|school"]
    assert g.levels == list("ABCDE")
    np.testing.assert_array_equal(g.index, frame.school.map(dict(zip("ABCDE", range(1, 6)))))
    np.testing.assert_array_equal(g.Z, np.column_stack([np.ones(len(frame)), frame.ses]))
    assert d.y.dtype.kind == "f"
    assert d.y_sd == pytest.approx(frame.score.std(ddof=1))


def test_binomial_response_and_intercept_only(frame):
    frame = frame.assign(log_dose=np.log(frame.income))
    d = design(frame, "p(dead, n) ~ log_dose", family="binomial")
    assert d.response_name == "p(dead, n)" and d.common_names == ["log_dose"]
    np.testing.assert_array_equal(d.y, frame.dead)
    np.testing.assert_array_equal(d.trials, frame.n)
    assert d.trials.dtype.kind == "i"
    d = design(frame, "bp ~ 1 + (1 | clinic)", family="gaussian")
    assert d.X.shape == (len(frame), 0) and d.intercept
    assert [g.name for g in d.groups] == ["1|clinic"]
    d = design(frame, "dead ~ log_dose", family="binomial", trials="n")
    np.testing.assert_array_equal(d.trials, frame.n)


def error(frame, formula, family="gaussian", **kw) -> str:
    with pytest.raises(DataError) as info:
        design(frame, formula, family=family, **kw)
    return str(info.value)


def test_missing_columns_named_with_the_columns_there_are(frame):
    msg = error(frame, "score ~ sess + (1 | school)")
    assert "'sess'" in msg and "'ses'" in msg and "'school'" in msg
    msg = error(frame, "visits ~ age", "poisson", exposure="time")
    assert "'time'" in msg and "'months'" in msg


def test_non_numeric_values_named_by_row(frame):
    frame = frame.astype({"age": object, "visits": object})
    frame.loc[6, "age"] = "forty"
    msg = error(frame, "score ~ age")
    assert "row 7" in msg and "'age'" in msg and "'forty'" in msg
    frame.loc[3, "visits"] = "three"
    msg = error(frame, "visits ~ ses", "poisson")
    assert "row 4" in msg and "'visits'" in msg


def test_text_numbers_are_read_as_numbers(frame):
    as_text = frame.astype({"age": str})
    np.testing.assert_allclose(design(as_text, "score ~ age", family="gaussian").X[:, 0],
                               frame.age)


def test_blank_cells_fail_or_are_dropped(frame):
    frame = frame.astype({"school": object})
    frame.loc[[4, 9], "ses"] = np.nan
    frame.loc[11, "school"] = "  "
    msg = error(frame, "score ~ ses + (1 | school)")
    assert "row 5" in msg and "'ses'" in msg and "1 more row" in msg
    msg = error(frame, "score ~ income + (1 | school)")
    assert "row 12" in msg and "'school'" in msg
    d = design(frame, "score ~ ses + (1 | school)", family="gaussian", dropna=True)
    assert d.dropped_rows == 3 and len(d.y) == len(frame) - 3
    np.testing.assert_array_equal(d.rows, np.setdiff1d(np.arange(len(frame)), [4, 9, 11]))
    np.testing.assert_array_equal(d.X[:, 0], frame.ses.drop([4, 9, 11]))
    # after dropping, a bad value is still named by its row in the user's frame
    frame.loc[30, "score"] = np.inf
    assert "row 31" in error(frame, "score ~ ses + (1 | school)", dropna=True)


@pytest.mark.parametrize("family, formula, change, row, column, words", [
    ("bernoulli", "treat ~ age", ("treat", 8, 2), 9, "treat", "not 0 or 1"),
    ("binomial", "treat ~ age", ("treat", 8, 2), 9, "treat", "not 0 or 1"),
    ("poisson", "visits ~ age", ("visits", 2, -1), 3, "visits", "negative"),
    ("poisson", "visits ~ age", ("visits", 2, 1.5), 3, "visits", "whole"),
    ("poisson", "visits ~ age", ("visits", 2, 2**31), 3, "visits", "too large"),
    ("binomial", "p(dead, n) ~ age", ("dead", 5, 7), 6, "dead", "exceed"),
    ("binomial", "p(dead, n) ~ age", ("n", 5, 0), 6, "n", "at least 1"),
    ("poisson", "visits ~ age", ("months", 10, 0.0), 11, "months", "positive"),
])
def test_outcome_invalid_for_the_family(frame, family, formula, change, row, column,
                                        words):
    col, i, value = change
    frame = frame.astype({col: float})
    frame.loc[i, col] = value
    kw = {"exposure": "months"} if family == "poisson" else {}
    msg = error(frame, formula, family, **kw)
    assert f"row {row}," in msg and f"'{column}'" in msg and words in msg


def test_single_level_group_empty_frame_and_bad_formula(frame):
    msg = error(frame.assign(clinic="c1"), "bp ~ 1 + (1 | clinic)")
    assert "'clinic'" in msg and "at least 2" in msg
    assert "no data rows" in error(frame.iloc[:0], "bp ~ 1")
    msg = error(frame, "bp ~ age +")
    assert "cannot be parsed" in msg and "\n" not in msg
    assert "cannot be parsed" in error(frame, "~ age")
    msg = error(frame, "p(dead, n) ~ age", "poisson")
    assert "binomial response" in msg and "beetles" in msg


def test_collinear_terms_are_named(frame):
    frame = frame.assign(age2=2 * frame.age + 3, const=1.0)
    msg = error(frame, "score ~ income + age + age2")
    assert "not of full rank" in msg
    assert re.search(r"age2 = 3 \* Intercept \+ 2 \* age", msg), msg
    msg = error(frame, "score ~ age + const")
    assert re.search(r"const = 1 \* Intercept", msg), msg
    msg = error(frame, "score ~ 0 + C(sex) + income + C(sex):income + treat + "
                "I(treat * 2)")
    assert "I(treat * 2) = 2 * treat" in msg


def test_default_priors_follow_rstanarm(frame):
    d = design(frame, "score ~ age + income + (1 | school)", family="gaussian")
    p = default_priors(d)
    sy = frame.score.std(ddof=1)
    np.testing.assert_allclose(p["beta"]["scale"], 2.5 * sy / frame[["age", "income"]]
                               .std(ddof=1))
    assert p["intercept"]["location"] == pytest.approx(frame.score.mean())
    assert p["intercept"]["scale"] == pytest.approx(2.5 * sy)
    assert p["sigma"]["rate"] == pytest.approx(1 / sy)
    assert p["sd"]["names"] == ["1|school"]
    d = design(frame, "treat ~ age", family="bernoulli")
    p2 = default_priors(d, scale=2)
    np.testing.assert_allclose(p2["beta"]["scale"], 5 / frame.age.std(ddof=1))
    assert p2["intercept"] == {"dist": "normal", "location": 0.0, "scale": 5.0}
    assert "sigma" not in p2


def test_checked_structure_names_what_fits(frame):
    d = design(frame, "score ~ age + (1 | school) + (1 | clinic)", family="gaussian")
    assert checked_structure(d, example="radon") is d
    with pytest.raises(FormulaError) as info:
        checked_structure(d, example="rats")
    msg = str(info.value)
    assert "rats fits" in msg and "2 group term(s)" in msg and "radon can fit it" in msg
    assert isinstance(info.value, PystanModelsError)
    d = design(frame, "visits ~ age + (1 + age | patient)", family="poisson")
    with pytest.raises(FormulaError, match="no example fits it"):
        checked_structure(d, example="counts")
    d = design(frame, "p(dead, n) ~ age", family="binomial")
    for example in ("beetles", "probit", "separation"):
        checked_structure(d, example=example)
    d = design(frame, "score ~ age + (1 | school)", family="gaussian")
    with pytest.raises(FormulaError, match="icc fits .* radon can fit it"):
        checked_structure(d, example="icc")


def test_aggregated_bernoulli_keeps_the_likelihood():
    rng = np.random.default_rng(7)
    n = 3000
    frame = pd.DataFrame({"arm": rng.choice(["a", "b", "c"], n),
                          "dose": rng.choice([0.5, 1.0, 2.0, 4.0], n),
                          "site": rng.choice(["s1", "s2"], n)})
    frame["y"] = rng.binomial(1, 0.3, n)
    d = design(frame, "y ~ C(arm) + dose + (1 | site)", family="bernoulli")
    a = aggregate_bernoulli(d)
    assert len(a.y) == frame.groupby(["arm", "dose", "site"]).ngroups == 24
    assert a.y.sum() == frame.y.sum() and a.trials.sum() == n
    assert a.family == "binomial" and a.y.dtype.kind == a.trials.dtype.kind == "i"
    # patterns in the order of their first row; row_map points each row to its own
    firsts = frame.drop(columns="y").drop_duplicates().index.to_numpy()
    np.testing.assert_array_equal(a.rows, firsts)
    np.testing.assert_array_equal(a.X[a.row_map], d.X)
    np.testing.assert_array_equal(a.groups[0].index[a.row_map], d.groups[0].index)
    np.testing.assert_array_equal(np.bincount(a.row_map, frame.y), a.y)
    beta, u = np.array([0.4, -0.3, 0.2]), np.array([-0.5, 0.5])
    def eta(x, g):
        return -0.7 + x @ beta + u[g.index - 1]
    bern = stats.bernoulli.logpmf(d.y, 1 / (1 + np.exp(-eta(d.X, d.groups[0])))).sum()
    p = 1 / (1 + np.exp(-eta(a.X, a.groups[0])))
    binom = stats.binom.logpmf(a.y, a.trials, p).sum()
    log_choose = (stats.binom.logpmf(a.y, a.trials, 0.5)
                  - a.trials * np.log(0.5)).sum()
    assert binom - log_choose == pytest.approx(bern, rel=1e-10)
    assert abs(binom - bern) > 1       # the constant is not zero: the test can tell
    with pytest.raises(PystanModelsError):
        aggregate_bernoulli(design(frame, "dose ~ C(arm)", family="gaussian"))


def test_reference_levels_as_formulae_sets_them(frame):
    # formulae sorts an unordered column's levels (its category order is ignored),
    # keeps an ordered Categorical's order, and takes Treatment("...") as reference
    unordered = frame.assign(region=pd.Categorical(frame.region,
                                                   ["west", "north", "east"]))
    ordered = frame.assign(region=pd.Categorical(frame.region,
                                                 ["west", "north", "east"], ordered=True))
    names = {label: design(f, formula, family="gaussian").common_names for label, f,
             formula in [("unordered", unordered, "score ~ region"),
                         ("ordered", ordered, "score ~ region"),
                         ("treatment", frame, 'score ~ C(region, Treatment("west"))')]}
    assert names == {"unordered": ["region[north]", "region[west]"],
                     "ordered": ["region[north]", "region[east]"],
                     "treatment": ['C(region, Treatment("west"))[east]',
                                   'C(region, Treatment("west"))[north]']}


def test_constant_trials_sum_contrasts_and_a_bar_outside_parentheses(frame):
    # p(successes, 6): a constant number of trials, as formulae reads it
    d = design(frame, "p(dead, 6) ~ age", family="binomial")
    np.testing.assert_array_equal(d.y, frame.dead)
    np.testing.assert_array_equal(d.trials, np.full(len(frame), 6))
    assert d.trials.dtype.kind == "i" and d.response_name == "p(dead, 6)"
    np.testing.assert_array_equal(d.X, design(frame, "p(dead, n) ~ age",
                                              family="binomial").X)
    first = int(np.argmax(frame.dead.to_numpy() > 4))
    msg = error(frame, "p(dead, 4) ~ age", "binomial")
    assert f"row {first + 1}," in msg and "'dead'" in msg and "exceed" in msg
    assert "p(dead, 4)" in msg
    for bad in ("0", "2.5", "n + 1"):
        msg = error(frame, f"p(dead, {bad}) ~ age", "binomial")
        assert "trials in p(dead" in msg and "whole number" in msg
    # Sum is formulae's contrast, not a column: +1 for F, -1 for M (the last level)
    d = design(frame, "score ~ C(sex, Sum)", family="gaussian")
    assert d.common_names == ["C(sex, Sum)[F]"]
    np.testing.assert_array_equal(d.X[:, 0], np.where(frame.sex == "F", 1.0, -1.0))
    # formulae reads "y ~ x | g" as "y ~ x", silently: refused here
    msg = error(frame, "score ~ ses | school")
    assert "outside parentheses" in msg and "(1 | g)" in msg
    assert design(frame, 'score ~ C(region, Treatment("west")) + (1 | school)',
                  family="gaussian").groups[0].name == "1|school"


def test_a_formula_with_group_terms_only():
    """No common terms at all: an empty X and no intercept (it used to crash)."""
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"bp": rng.normal(size=30), "clinic": rng.integers(0, 4, 30)})
    d = design(frame, "bp ~ 0 + (1 | clinic)", family="gaussian")
    assert d.X.shape == (30, 0) and not d.intercept and d.common_names == []
    assert [g.name for g in d.groups] == ["1|clinic"] and d.groups[0].Z.shape == (30, 1)
