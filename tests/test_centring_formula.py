"""Centred or non-centred group effects on a user's data (issue 11): radon, icc and
counts choose per group term by pystan_models.centring's rule, say which and why in
the report, and recover the truth either way.  Simulated data (fixed seed): a
data-rich case (30 groups x 60 rows, groups' sd 0.5, residual sd 1) is centred, a
sparse one (100 groups x 3 rows, groups' sd 0.2) non-centred."""
import numpy as np
import pandas as pd
import pytest
from test_icc_formula import run as run_icc
from test_radon_formula import assert_recovers, run as run_radon

from pystan_models import counts, formula, radon

CASES = {"rich": (30, 60, 0.5), "sparse": (100, 3, 0.2)}   # groups, rows, tau
SHORT = ["--chains", "2", "--iter-warmup", "300", "--iter-sampling", "300", "--seed", "3"]
COUNTS_SIGMA = 0.3      # the counts' observation-level sd


def grouped(case: str, seed=20261202) -> pd.DataFrame:
    """y = 1 + 0.5 x + a_g + e, y0 = 1 + a_g + e, e ~ N(0, 1); n ~ Poisson(exp(0.5 +
    0.3 x + a_g + eps)), eps ~ N(0, 0.3^2); a_g ~ N(0, tau^2)."""
    J, n, tau = CASES[case]
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(J), n)
    x, a, e = rng.normal(size=g.size), rng.normal(0, tau, J)[g], rng.normal(size=g.size)
    eps = rng.normal(0, COUNTS_SIGMA, g.size)
    return pd.DataFrame({"y": 1 + 0.5 * x + a + e, "y0": 1 + a + e, "x": x,
                         "n": rng.poisson(np.exp(0.5 + 0.3 * x + a + eps)),
                         "g": [f"g{j:03d}" for j in g]})


def truth(example: str, case: str) -> dict[str, float]:
    tau = CASES[case][2]
    return {"radon": {"Intercept": 1.0, "x": 0.5, "sd(1|g)": tau, "sigma": 1.0},
            "icc": {"Intercept": 1.0, "sd(1|g)": tau, "sigma": 1.0,
                    "rho": tau ** 2 / (1 + tau ** 2)},
            "counts": {"Intercept": 0.5, "x": 0.3, "sd(1|g)": tau,
                       "sigma (observation-level sd)": COUNTS_SIGMA}}[example]


# --- no CmdStan -------------------------------------------------------------------

@pytest.mark.parametrize("case", list(CASES))
def test_radon_centres_rich_groups_and_moves_the_intercept_into_their_mean(case):
    fd = formula.design(grouped(case), "y ~ x + (1 | g)", family="gaussian")
    um = radon.user_model(fd)
    (choice,) = um.choices
    centred = case == "rich"
    assert choice.centred is centred and choice.term == "1|g"
    data = radon.stan_data(fd.y - um.shift, um.d, **radon.user_priors(fd, 1.0))
    assert data["centred"] == [int(centred)]
    # centred intercepts about a fixed intercept would be a ridge: the intercept is
    # then the cluster's free mean, and the tables still call it Intercept
    assert (data["intercept"], data["has_mean"]) == ((0, [1]) if centred else (1, [0]))
    assert um.terms == ["Intercept", "x"] and um.fixed == ["Intercept"] * (not centred) + ["x"]
    # the notes' designs stay non-centred
    assert radon.stan_data(np.zeros(919), radon.design(radon.load(), "slopes"))[
        "centred"] == [0, 0]


def test_radon_centred_slope_takes_its_common_term():
    fd = formula.design(grouped("rich"), "y ~ x + (1 + x | g)", family="gaussian")
    um = radon.user_model(fd, centred=True)
    assert um.d.has_mean == [1, 1] and not um.d.intercept and um.fixed == []
    assert um.free == ["1|g", "x|g"] and um.d.X.shape[1] == 0
    # the reference fit (REML) is the same model whatever the program's form
    ref, plain = radon.user_reml(um), radon.user_reml(radon.user_model(fd, centred=False))
    assert ref == pytest.approx(plain)


@pytest.mark.parametrize("case", list(CASES))
def test_counts_chooses_from_each_groups_log_rate(case):
    _, d = counts.user_design(grouped(case), "n ~ x + (1 | g)")
    data = counts.formula_data(d, counts.formula_priors(d)[0])
    mle = counts.poisson_mle(d.y, d.X, data["log_exposure"], ["Intercept", "x"])
    choice = counts.group_choice(d, mle, data["log_exposure"])
    assert choice.centred is (case == "rich") and choice.term == "1|g"
    assert data["centred"] == 0 and counts.epilepsy_data(counts.load_epilepsy())[
        "centred"] == 0


# --- compile and sample: one fit per example and case -----------------------------

def run_counts(monkeypatch, tmp_path, frame, formula_text, *extra):
    """As test_radon_formula's ``run``, for counts."""
    path, out = tmp_path / "counts.csv", tmp_path / "out" / "counts.html"
    frame.to_csv(path, index=False)
    seen = {}
    analyse = counts.analyse
    monkeypatch.setattr(counts, "analyse",
                        lambda *a, **k: seen.setdefault("r", analyse(*a, **k)))
    code = counts.main(["--data", str(path), "--formula", formula_text,
                        "--output", str(out), "--quiet", *extra])
    return code, seen.get("r"), out


RUNS = {"radon": (run_radon, "y ~ x + (1 | g)", lambda r: r.table("coefficients")),
        "icc": (run_icc, "y0 ~ 1 + (1 | g)", lambda r: r.table("estimates")),
        "counts": (run_counts, "n ~ x + (1 | g)", lambda r: r.table("coefficients").loc[
            "overdispersed Poisson + g effect"])}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("example", list(RUNS))
def test_the_chosen_form_is_reported_and_recovers_the_truth(
        example, case, tmp_path, monkeypatch, cmdstan_home):
    runner, text, posterior = RUNS[example]
    code, r, out = runner(monkeypatch, tmp_path, grouped(case), text, *SHORT)
    assert code == 0
    form = "centred" if case == "rich" else "non-centred"
    (choice,) = r.extras["centring"]
    assert choice.centred is (case == "rich")
    assert r.table("centring").form.tolist() == [form]
    html = out.read_text()
    assert f"1|g: {form} (median data weight {choice.weight:.2f}" in html
    assert "Papaspiliopoulos" in html
    table = posterior(r)
    assert_recovers(table, truth(example, case))
    if example == "radon":     # the intercept, a cluster mean when centred, keeps its row
        assert list(table.index) == list(truth(example, case))
