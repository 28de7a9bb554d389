"""Counts: data checks, Stan data, and the three count programs checked against
independent maximum-likelihood fits, numerical integration and the BUGS Epil results."""
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import integrate, optimize, special, stats
from statsmodels.discrete.truncated_model import TruncatedLFPoisson

from pystan_models import counts
from pystan_models.errors import DataError, PystanModelsError
from pystan_models.fitting import sample

from conftest import SHORT, assert_near_reference, assert_self_contained

ROACH_HEADER = "y,roach1,treatment,senior,exposure2\n"
ROACH_GOOD = ROACH_HEADER + "153,308,1,0,0.8\n0,1.67,0,1,1\n7,3,1,0,1\n"
EPIL_HEADER = "patient,visit,count,treatment,base,age,v4,log_base4,log_age\n"


def epil_rows(patient=1, treatment=0, base=11, age=31, counts_=(5, 3, 3, 3)):
    log_base4 = math.log(base / 4) if base > 0 else 0.0
    return "".join(
        f"{patient},{v},{c},{treatment},{base},{age},{int(v == 4)},"
        f"{log_base4!r},{math.log(age)!r}\n" for v, c in enumerate(counts_, 1))


EPIL_GOOD = EPIL_HEADER + epil_rows() + epil_rows(2, 1, 20, 25)


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------ no CmdStan

def test_shipped_roaches():
    frame = counts.load_roaches()
    assert len(frame) == 262 and int((frame.y == 0).sum()) == 94
    assert frame.y.dtype.kind == "i" and frame.exposure2.min() == pytest.approx(0.2)


def test_shipped_epilepsy_keeps_the_bugs_value():
    frame = counts.load_epilepsy()
    assert len(frame) == 236 and frame.patient.nunique() == 59
    # patient 8, visit 3 is 21 in the BUGS sources (MASS 7.3-65 corrected it to 23)
    assert frame.query("patient == 8 and visit == 3")["count"].item() == 21


def test_roaches_stan_data():
    frame = counts.load_roaches()
    data = counts.roaches_data(frame)
    assert data["N"] == 262 and data["K"] == 3
    assert data["X"][0] == pytest.approx([3.08, 1, 0])          # roach1 / 100
    assert data["log_exposure"][0] == pytest.approx(np.log(0.8))
    assert data["y"][0] == 153 and all(type(v) is int for v in data["y"])
    assert data["prior_only"] == 0 and data["pointwise"] == 1
    assert set(data) == {"N", "K", "X", "log_exposure", "y", "prior_only", "pointwise",
                         *counts.NOTES_PRIORS}
    assert {k: data[k] for k in counts.NOTES_PRIORS} == counts.NOTES_PRIORS


def test_epilepsy_stan_data():
    frame = counts.load_epilepsy()
    data = counts.epilepsy_data(frame)
    X = np.asarray(data["X"])
    assert data["N"] == 236 and data["K"] == 5 and data["J"] == 59
    assert X.shape == (236, 5) and list(counts.EPILEPSY_PREDICTORS) == [
        "Base", "Trt", "BT", "Age", "V4"]
    np.testing.assert_allclose(X[:, 2], X[:, 1] * X[:, 0])       # BT = Trt log(Base/4)
    np.testing.assert_allclose(X[:, 0], np.log(frame.base / 4))
    assert X[:, 4].tolist() == [0, 0, 0, 1] * 59
    assert data["group"][:5] == [1, 1, 1, 1, 2] and max(data["group"]) == 59
    assert set(data["log_exposure"]) == {0.0}
    assert data["prior_only"] == 0 and data["pointwise"] == 1


def test_programs_read_the_shared_data_names():
    """Every count program declares the contract's names (and the grouped one J, group)."""
    from pystan_models.programs import stan_file
    for program in counts.MAIN:
        text = stan_file(program).read_text()
        for decl in ["int<lower=1> N;", "int<lower=1> K;", "matrix[N, K] X;",
                     "vector[N] log_exposure;", "array[N] int<lower=0> y;",
                     "int<lower=0, upper=1> prior_only;", "int<lower=0, upper=1> pointwise;"]:
            assert decl in text, (program, decl)
    grouped = stan_file("counts_overdispersed_grouped").read_text()
    assert "array[N] int<lower=1, upper=J> group;" in grouped
    for program in ("counts_overdispersed", "counts_overdispersed_grouped"):
        # the report quotes the number of Gauss-Hermite nodes
        assert f"int Q = {counts.GH_NODES};" in stan_file(program).read_text()


def test_ppc_statistics():
    s = counts.ppc_statistics(np.array([[0, 0, 2, 4], [1, 1, 1, 1]]))
    assert s["share of zeros"].tolist() == [0.5, 0.0]
    assert s["variance / mean"].tolist() == pytest.approx([np.var([0, 0, 2, 4], ddof=1) / 1.5,
                                                           0.0])


def test_statsmodels_mle_reproduces_gelman_hill():
    # Gelman & Hill (2007) 6.2 / rstanarm vignette: 3.09, 0.698 per 100, -0.52, -0.38
    mle = counts.mle_poisson(counts.load_roaches())["MLE"]
    assert mle.tolist() == pytest.approx([3.089, 0.698, -0.517, -0.380], abs=0.001)


@pytest.mark.parametrize("text, pattern", [
    (ROACH_GOOD.replace("0,1.67", "-2,1.67"), r"row 2 \(line 3\), column 'y'.*negative"),
    (ROACH_GOOD.replace("7,3,1", "7.5,3,1"), r"row 3 \(line 4\), column 'y'.*whole number"),
    (ROACH_GOOD.replace("7,3,1", "nan,3,1"), r"row 3 \(line 4\), column 'y'.*not a finite"),
    (ROACH_GOOD.replace("7,3,1", ",3,1"), r"row 3 \(line 4\), column 'y'.*not a finite"),
    (ROACH_GOOD.replace("0,1.67,0", "0,1.67,2"), r"row 2 \(line 3\), column 'treatment'.*0 or 1"),
    (ROACH_GOOD.replace("1,0,0.8", "1,0,0"), r"row 1 \(line 2\), column 'exposure2'.*positive"),
    (ROACH_GOOD.replace("1,0,0.8", "1,0,-1"), r"row 1 \(line 2\), column 'exposure2'.*positive"),
    (ROACH_GOOD.replace("308", "-308"), r"row 1 \(line 2\), column 'roach1'.*negative"),
    # rows whose length does not match the header
    (ROACH_GOOD.replace("7,3,1,0,1", "7,3,1"), r"row 3 \(line 4\): 3 fields, but the header has 5"),
    (ROACH_GOOD.replace("7,3,1,0,1", "7,3,1,0,1,9"),
     r"row 3 \(line 4\): 6 fields, but the header has 5"),
    (ROACH_HEADER + "1,2,1,0,1\n0,3,1,1,1\n", r"column 'treatment'.*cannot be estimated"),
    ("y,roach1,treatment,exposure2\n1,2,1,1\n", r"missing column\(s\) senior"),
], ids=["negative", "non-integer", "nan", "empty", "binary-2", "exposure-0", "exposure-neg",
        "roach1-neg", "short-row", "long-row", "constant-predictor", "missing-column"])
def test_bad_roaches_file(tmp_path, text, pattern):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=pattern) as err:
        counts.load_roaches(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("text, pattern", [
    (EPIL_GOOD.replace(",5,0,11", ",-5,0,11"), r"row 1 \(line 2\), column 'count'.*negative"),
    (EPIL_GOOD.replace(",5,0,11", ",5.5,0,11"), r"row 1 \(line 2\), column 'count'.*whole"),
    (EPIL_HEADER + epil_rows(base=0), r"row 1 \(line 2\), column 'base'.*positive"),
    (EPIL_GOOD.replace("1,1,5,0", "1,1,5,3"), r"row 1 \(line 2\), column 'treatment'.*0 or 1"),
    (EPIL_GOOD.replace(repr(math.log(20 / 4)), "1.5", 1),
     r"row 5 \(line 6\), column 'log_base4'.*not log\(base / 4\)"),
    (EPIL_GOOD.replace("1,2,3,0", "1,1,3,0"), r"row 2 \(line 3\), column 'visit'.*repeats"),
    (EPIL_HEADER + epil_rows() + epil_rows(2, 1, 20, 25).replace("2,4,3,1", "2,4,3,0"),
     r"row 8 \(line 9\), column 'treatment'.*differs from this patient's first row"),
    (EPIL_GOOD.replace("1,4,3,0,11,31,1", "1,4,3,0,11,31,0"),
     r"row 4 \(line 5\), column 'v4'.*visit == 4"),
], ids=["negative", "non-integer", "base-0", "binary-3", "log-base4", "duplicate-visit",
        "treatment-changes", "v4"])
def test_bad_epilepsy_file(tmp_path, text, pattern):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=pattern):
        counts.load_epilepsy(path)


def test_good_small_files_load(tmp_path):
    assert len(counts.load_roaches(write(tmp_path, ROACH_GOOD))) == 3
    assert len(counts.load_epilepsy(write(tmp_path, EPIL_GOOD, "e.csv"))) == 8


def test_failed_run_writes_no_report(tmp_path, capsys):
    bad = write(tmp_path, ROACH_GOOD.replace("1,0,0.8", "1,0,0"))
    out = tmp_path / "counts.html"
    assert counts.main(["--roaches", str(bad), "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "column 'exposure2'" in err and "Traceback" not in err
    assert not out.exists()


def test_load_gives_both_frames_with_their_sources():
    frames = counts.load()
    assert list(frames) == ["roaches", "epilepsy"]
    assert frames["roaches"].attrs["source"] == str(counts.ROACHES)
    assert len(counts.load(pd.read_csv(counts.ROACHES))["roaches"]) == 262


@pytest.mark.parametrize("which, column, value, pattern", [
    ("roaches", "treatment", 2, r"roaches data frame, row 5, column 'treatment'.*0 or 1"),
    ("roaches", "y", -1, r"roaches data frame, row 5, column 'y'.*negative"),
    ("epilepsy", "log_base4", 9.0,
     r"epilepsy data frame, row 5, column 'log_base4'.*not log\(base / 4\)"),
    ("epilepsy", "count", 2.5, r"epilepsy data frame, row 5, column 'count'.*whole number"),
])
def test_bad_frame_is_refused_before_anything_compiles(monkeypatch, which, column, value,
                                                       pattern):
    monkeypatch.setattr(counts, "sample", lambda *a, **k: pytest.fail("sampled"))
    frames = {"roaches": pd.read_csv(counts.ROACHES), "epilepsy": pd.read_csv(counts.EPILEPSY)}
    frames[which] = frames[which].astype({column: float})
    frames[which].loc[4, column] = value
    with pytest.raises(DataError, match=pattern):
        counts.analyse(frames["roaches"], frames["epilepsy"], quiet=True)


def test_bad_argument_and_option_are_refused(monkeypatch):
    monkeypatch.setattr(counts, "sample", lambda *a, **k: pytest.fail("sampled"))
    with pytest.raises(DataError, match="roaches data must be a CSV file path or a pandas"):
        counts.analyse(42)
    with pytest.raises(PystanModelsError, match="chains must be"):
        counts.analyse(chains=0)
    with pytest.raises(PystanModelsError, match="unknown option"):
        counts.analyse(adapt_delta=0.9)


def test_patient_order_follows_the_group_index():
    """Group j of the programs is patients(frame)[j - 1], whatever the row order."""
    frame = counts.load_epilepsy().sample(frac=1, random_state=3).reset_index(drop=True)
    data = counts.epilepsy_data(frame)
    ids = counts.patients(frame)
    assert len(set(ids)) == data["J"] == 59
    assert (ids[np.asarray(data["group"]) - 1] == frame.patient.to_numpy()).all()


# ------------------------------------------------------------ the answer, from tables

R_MODELS = ["Poisson", "overdispersed Poisson", "hurdle Poisson"]
E_MODELS = ["Poisson", counts.EPIL_MODEL]


def _ppc(observed, rows):
    """A ppc_table: rows = {model: ((zeros median, p), (var/mean median, p))}."""
    out = []
    for model, stats_ in rows.items():
        for stat, (med, p) in zip(["share of zeros", "variance / mean"], stats_):
            out.append({"model": model, "statistic": stat, "observed": observed[stat],
                        "replicated median": med, "2.5%": med, "97.5%": med,
                        "P(T(y_rep) >= T(y))": p})
    return pd.DataFrame(out)


def _loo(order, diffs, dses):
    return pd.DataFrame({"elpd_diff": diffs, "dse": dses}, index=order)


def _answer_inputs(**change):
    """Numbers like the default run's, every fit passing its diagnostics."""
    r_ppc = _ppc({"share of zeros": 0.36, "variance / mean": 101},
                 {"Poisson": ((0.0, 0.0), (47, 0.0)),
                  "overdispersed Poisson": ((0.31, 0.10), (9983, 1.0)),
                  "hurdle Poisson": ((0.36, 0.52), (47, 0.0))})
    e_ppc = _ppc({"share of zeros": 0.03, "variance / mean": 7.8},
                 {"Poisson": ((0.0, 0.0), (1.4, 0.0)),
                  counts.EPIL_MODEL: ((0.03, 0.5), (7.5, 0.44))})
    r_trt = pd.DataFrame({"median": [0.60, 0.44, 0.62], "2.5%": [0.57, 0.24, 0.60],
                          "97.5%": [0.63, 0.81, 0.66]}, index=R_MODELS)
    r_trt["log width"] = np.log(r_trt["97.5%"] / r_trt["2.5%"])
    names = list(counts.BUGS_EPIL)
    e_table = pd.DataFrame({"BUGS name": [counts.BUGS_NAMES[n] for n in names],
                            "mean": [counts.BUGS_EPIL[n] + 0.01 for n in names],
                            "sd": 0.2, "BUGS mean": [counts.BUGS_EPIL[n] for n in names],
                            "mcse_mean": 0.005}, index=names)
    inputs = dict(
        r_ppc=r_ppc,
        r_loo=_loo(["overdispersed Poisson", "hurdle Poisson", "Poisson"],
                   [0, 3641, 5338], [0, 547, 707]),
        r_bad_k={"overdispersed Poisson": 0, "hurdle Poisson": 30, "Poisson": 60},
        r_trt=r_trt, k_cond=np.r_[np.full(190, 1.2), np.zeros(72)], k_int=np.zeros(262),
        e_ppc=e_ppc, e_loo=_loo([counts.EPIL_MODEL, "Poisson"], [0, 219], [0, 64]),
        e_bad_k={counts.EPIL_MODEL: 0, "Poisson": 5}, e_table=e_table,
        e_rr=counts.interval(np.linspace(0.52, 0.97, 101)),
        problems={"roaches": {m: [] for m in R_MODELS},
                  "epilepsy": {m: [] for m in E_MODELS}})
    inputs.update(change)
    return inputs


def test_answer_when_every_fit_passes():
    text = counts.answer(**_answer_inputs())
    assert "diagnostics failed" not in text
    assert "PSIS-LOO prefers the overdispersed Poisson by a wide margin" in text
    assert "hurdle Poisson by 3641 ± 547" in text
    assert "agrees with the published BUGS Epil posterior means" in text
    assert "every interval lies below 1, so treatment lowers the counts" in text
    # the overdispersed model overshoots the spread, the hurdle undershoots it
    assert "the overdispersed Poisson's replications have 31.0% zeros" in text
    assert "too much spread" in text and "too little spread" in text
    assert "None of them gets both the zeros and the spread" in text
    assert "hurdle negative binomial" in text
    assert "Its replications cover the observed variance-to-mean ratio (p = 0.44)" in text
    assert "a plain Poisson regression's replications do not (p = 0.00)" in text
    assert f"For epilepsy, PSIS-LOO prefers the {counts.EPIL_MODEL} clearly" in text


def test_answer_says_nothing_resting_on_a_failed_fit():
    problems = {"roaches": {m: [] for m in R_MODELS},
                "epilepsy": {m: [] for m in E_MODELS}}
    problems["roaches"]["overdispersed Poisson"] = ["R-hat up to 1.080 (sigma); chains disagree"]
    problems["epilepsy"][counts.EPIL_MODEL] = ["12 of 4000 transitions diverged (0.3%)"]
    text = counts.answer(**_answer_inputs(problems=problems))
    assert "Sampler diagnostics failed for roaches: overdispersed Poisson (R-hat" in text
    assert "run longer chains" in text
    # no conclusion from either failed fit: no LOO ranking, no BUGS agreement
    assert "PSIS-LOO prefers" not in text and "No LOO ranking is stated" in text
    assert "agrees with" not in text and "vs BUGS" not in text
    assert "the overdispersed Poisson's replications" not in text
    assert "0.44 [0.24, 0.81]" not in text and "integrated log-likelihood" not in text
    assert "its comparison with BUGS is not stated" in text
    # what passed is still reported
    assert "the hurdle Poisson's replications have 36.0% zeros" in text
    assert "0.60 [0.57, 0.63] under the Poisson" in text


def test_answer_comparisons_are_computed():
    inputs = _answer_inputs()
    inputs["e_table"].loc["beta[Trt]", "mean"] = -0.5           # far from BUGS -0.947
    inputs["r_loo"] = _loo(["overdispersed Poisson", "hurdle Poisson", "Poisson"],
                           [0, 10, 5338], [0, 5, 707])
    inputs["r_trt"].loc["overdispersed Poisson", "97.5%"] = 1.3
    text = counts.answer(**inputs)
    assert "differs from the published BUGS Epil posterior means for alpha.Trt" in text
    assert "agrees with" not in text
    assert "PSIS-LOO prefers the overdispersed Poisson but not decisively" in text
    assert "below 1 only under the Poisson and the hurdle Poisson" in text
    # many high Pareto k in one of the two top models: the margin is qualified
    assert "unreliable for 30 observations of the hurdle Poisson" in text


# ------------------------------------------------------------ compile and sample

@pytest.fixture(scope="module")
def roaches():
    return counts.load_roaches()


@pytest.fixture(scope="module")
def roach_fits(cmdstan_home, roaches):
    return counts.fit_roaches(roaches, SHORT)


@pytest.fixture(scope="module")
def epilepsy():
    return counts.load_epilepsy()


@pytest.fixture(scope="module")
def epil_fits(cmdstan_home, epilepsy):
    return counts.fit_epilepsy(epilepsy, SHORT)


@pytest.mark.slow
def test_sampler_diagnostics_pass(roach_fits, epil_fits):
    for f in [*roach_fits.values(), *epil_fits.values()]:
        assert f.problems == [], f.program


@pytest.mark.slow
def test_poisson_matches_statsmodels_mle(roach_fits, roaches):
    mle = counts.mle_poisson(roaches)["MLE"]
    table = roach_fits["Poisson"].table()
    # priors normal(0, 2.5) on standardised coefficients are weak against 262
    # counts averaging 26: the posterior mean sits at the MLE
    assert_near_reference(table, mle.to_dict())


@pytest.mark.slow
def test_hurdle_parts_match_separate_mles(roach_fits, roaches):
    """The hurdle likelihood factorises: a logistic regression of y == 0 and a
    zero-truncated Poisson regression of the positive counts, fitted by statsmodels."""
    data = counts.roaches_data(roaches)
    X = sm.add_constant(np.asarray(data["X"]))
    y = roaches.y.to_numpy()
    zero = sm.Logit((y == 0).astype(int), X).fit(disp=0).params
    pos = y > 0
    count = TruncatedLFPoisson(y[pos], X[pos], offset=np.asarray(data["log_exposure"])[pos],
                               truncation=0).fit(disp=0, maxiter=200).params
    names = list(counts.ROACH_PREDICTORS)
    ref = {"alpha_1": zero[0], **{f"beta_1[{k}]": v for k, v in zip(names, zero[1:])},
           "alpha_2": count[0], **{f"beta_2[{k}]": v for k, v in zip(names, count[1:])}}
    table = roach_fits["hurdle Poisson"].table()
    assert_near_reference(table, ref)


def _poisson_lognormal_loglik(y, eta, sigma, grid=np.linspace(-10, 10, 8001)):
    """log of the integral over e of Poisson(y | exp(eta + sigma e)) N(e | 0, 1), by the
    trapezoid rule on a fine grid (spacing 0.0025; the integrand's width is at
    least about 1 / (sigma sqrt(y)) = 0.02 here)."""
    log_rate = eta[:, None] + sigma * grid[None, :]
    terms = (y[:, None] * log_rate - np.exp(log_rate) - special.gammaln(y + 1)[:, None]
             + stats.norm.logpdf(grid)[None, :])
    return special.logsumexp(terms, axis=1) + np.log(grid[1] - grid[0])


@pytest.mark.slow
def test_overdispersed_matches_marginal_mle(roach_fits, roaches):
    """Maximise the Poisson-lognormal likelihood (epsilon integrated out numerically)."""
    data = counts.roaches_data(roaches)
    X, off, y = np.asarray(data["X"]), np.asarray(data["log_exposure"]), roaches.y.to_numpy()
    fit = roach_fits["overdispersed Poisson"]
    table = fit.table()
    start = np.r_[table["mean"].iloc[:4], np.log(table["mean"].iloc[4])]

    def nll(p):
        return -_poisson_lognormal_loglik(y, off + p[0] + X @ p[1:4], np.exp(p[4])).sum()

    res = optimize.minimize(nll, start, method="BFGS")
    assert res.success
    names = ["alpha"] + [f"beta[{k}]" for k in counts.ROACH_PREDICTORS] + ["sigma"]
    mle = dict(zip(names, np.r_[res.x[:4], np.exp(res.x[4])]))
    # 262 counts against weak priors: posterior mean within 0.2 sd of the MLE
    assert_near_reference(table, mle)


@pytest.mark.slow
def test_integrated_log_lik_matches_adaptive_quadrature(roach_fits, roaches):
    """The program's log_lik (adaptive Gauss-Hermite) against scipy's quad, for the
    largest count, zeros and counts in between, at a few posterior draws."""
    fit = roach_fits["overdispersed Poisson"]
    data = counts.roaches_data(roaches)
    y = roaches.y.to_numpy()
    eta = counts.log_rate_without_noise(fit, data)
    sigma = counts.draws(fit.idata, "sigma")
    log_lik = counts.draws(fit.idata, "y", "log_likelihood")
    rows = [int(np.argmax(y)), int(np.argmin(y)), *np.flatnonzero((y > 2) & (y < 40))[:3]]
    for s in (0, 777, 1999):
        for i in rows:
            def f(e):
                return np.exp(stats.poisson.logpmf(y[i], np.exp(eta[s, i] + sigma[s] * e))
                              + stats.norm.logpdf(e))
            mode = (np.log(max(y[i], 0.5)) - eta[s, i]) / sigma[s]
            ref, _ = integrate.quad(f, -12, 12, points=[np.clip(mode, -11, 11)], limit=500,
                                    epsabs=0, epsrel=1e-10)
            # CSV output keeps 6 significant figures: eta is rebuilt to about 1e-5
            assert log_lik[s, i] == pytest.approx(np.log(ref), abs=0.01), (s, i, y[i])


@pytest.mark.slow
def test_integrated_log_lik_makes_psis_loo_reliable(roach_fits, roaches):
    fit = roach_fits["overdispersed Poisson"]
    k_int = counts.pareto_k(fit.idata)
    k_cond = counts.pareto_k(fit.idata, counts.conditional_log_lik(fit, counts.roaches_data(
        roaches)))
    assert (k_int > 0.7).sum() <= 2
    assert (k_cond > 0.7).sum() > 50


@pytest.mark.slow
def test_overdispersed_and_hurdle_reproduce_the_zeros_poisson_does_not(roach_fits, roaches):
    table = counts.ppc_table(roach_fits, roaches.y).set_index(["model", "statistic"])
    p = table["P(T(y_rep) >= T(y))"]
    zeros = table.xs("share of zeros", level="statistic")
    observed = zeros.observed.iloc[0]
    assert observed == pytest.approx(94 / 262)
    # Poisson: essentially no zeros (0.36 observed); a posterior predictive p-value of 0
    assert p["Poisson", "share of zeros"] == 0 and zeros.loc["Poisson", "97.5%"] < 0.05
    for model in ("overdispersed Poisson", "hurdle Poisson"):
        assert 0.025 < p[model, "share of zeros"] < 0.975, model
        assert abs(zeros.loc[model, "replicated median"] - observed) < 0.06, model
    # the spread: Poisson and hurdle (zero-truncated Poisson part) are far below the
    # observed variance-to-mean ratio of 101, the lognormal model far above it
    assert p["Poisson", "variance / mean"] == 0 and p["hurdle Poisson", "variance / mean"] == 0
    assert p["overdispersed Poisson", "variance / mean"] == 1


def _ztp_moments(mu):
    """Mean and variance of the zero-truncated Poisson."""
    q = -np.expm1(-mu)                  # P(y > 0)
    mean = mu / q
    return mean, (mu + mu ** 2) / q - mean ** 2


@pytest.mark.slow
def test_hurdle_replications_follow_the_model(roach_fits, roaches):
    """y_rep of the hurdle: zeros with probability p_i, positives with the
    zero-truncated Poisson mean and variance (roaches: rates above 1, rejection)."""
    f = roach_fits["hurdle Poisson"]
    data = counts.roaches_data(roaches)
    X = np.asarray(data["X"])
    y_rep = counts.draws(f.idata, "y", "posterior_predictive")
    p_zero = special.expit(counts.draws(f.idata, "alpha_1")[:, None]
                           + counts.draws(f.idata, "beta_1") @ X.T)
    mu = np.exp(np.asarray(data["log_exposure"]) + counts.draws(f.idata, "alpha_2")[:, None]
                + counts.draws(f.idata, "beta_2") @ X.T)
    zeros = y_rep == 0
    z = (zeros.sum() - p_zero.sum()) / np.sqrt((p_zero * (1 - p_zero)).sum())
    assert abs(z) < 4
    mean, var = _ztp_moments(mu[~zeros])
    z = (y_rep[~zeros].sum() - mean.sum()) / np.sqrt(var.sum())
    assert abs(z) < 4 and mu.min() > 1


@pytest.mark.slow
def test_zero_truncated_draws_at_small_rates(cmdstan_home):
    """The inverse-CDF branch (rate below 1): among positive draws, P(y = 1) is
    mu / (exp(mu) - 1).  Simulated data with rates around 0.3."""
    rng = np.random.default_rng(7)
    N = 300
    X = rng.normal(size=(N, 2))
    mu = np.exp(-1.2 + 0.3 * X[:, 0])
    y = np.where(rng.random(N) < 0.5, 0, stats.poisson.ppf(
        rng.uniform(np.exp(-mu), 1), mu)).astype(int)
    data = {"N": N, "K": 2, "X": X.tolist(), "log_exposure": [0.0] * N, "y": y.tolist(),
            "prior_only": 0, "pointwise": 1, **counts.NOTES_PRIORS}
    f = sample("counts_hurdle", data, SHORT, main=counts.MAIN["counts_hurdle"],
               observed={"y": y})
    y_rep = counts.draws(f.idata, "y", "posterior_predictive")
    mu_draws = np.exp(counts.draws(f.idata, "alpha_2")[:, None]
                      + counts.draws(f.idata, "beta_2") @ X.T)
    small = (y_rep > 0) & (mu_draws < 1)           # drawn by the inverse-CDF branch
    assert small.sum() > 0.9 * (y_rep > 0).sum()
    p_one = (mu_draws / np.expm1(mu_draws))[small]
    z = ((y_rep[small] == 1).sum() - p_one.sum()) / np.sqrt((p_one * (1 - p_one)).sum())
    assert abs(z) < 4 and (y_rep[small] == 3).any()


@pytest.mark.parametrize("program", ["counts_poisson", "counts_hurdle",
                                     "counts_overdispersed_grouped"])
@pytest.mark.slow
def test_prior_only_samples_the_prior(cmdstan_home, roaches, epilepsy, program):
    """prior_only = 1 switches the likelihood off: the standardised coefficients follow
    their normal(0, 2.5) prior; pointwise = 0 writes no log_lik or y_rep."""
    frame = epilepsy if "grouped" in program else roaches
    data = (counts.epilepsy_data(frame) if "grouped" in program
            else counts.roaches_data(frame)) | {"prior_only": 1, "pointwise": 0}
    main = counts.MAIN[program]
    f = sample(program, data, SHORT, main=main)
    assert f.problems == [], f.problems
    names = [n for n in ("beta_std", "beta_1std", "beta_2std") if n in f.idata.posterior]
    for name in names:
        table = f.table([name])
        assert (table["mean"].abs() <= 4 * table["mcse_mean"] + 0.05).all(), table
        assert np.allclose(table["sd"], 2.5, rtol=0.1), table
    # zero-size outputs: CmdStan writes no columns for them
    assert not {"log_lik", "y_rep"} & set(f.fit.metadata.stan_vars)


@pytest.mark.slow
def test_epilepsy_matches_bugs_epil(epil_fits):
    """OpenBUGS/MultiBUGS Epil example (Breslow & Clayton model III), 20,000 draws."""
    table = counts.epilepsy_table(epil_fits["overdispersed Poisson + patient effect"])
    # different (weakly informative vs BUGS's vague) priors and BUGS's own Monte
    # Carlo error (up to 0.04 for alpha0): 0.2 posterior sd plus our 3 MCSE
    assert_near_reference(table, counts.BUGS_EPIL)


@pytest.mark.slow
def test_epilepsy_overdispersion_is_captured(epil_fits, epilepsy):
    table = counts.ppc_table(epil_fits, epilepsy["count"]).set_index(["model", "statistic"])
    p = table["P(T(y_rep) >= T(y))"]
    assert p["Poisson", "variance / mean"] < 0.01
    assert 0.025 < p["overdispersed Poisson + patient effect", "variance / mean"] < 0.975
    rr = counts.progabide_rate_ratio(epil_fits["overdispersed Poisson + patient effect"],
                                     epilepsy)
    assert 0.5 < np.median(rr) < 0.95          # progabide lowers the seizure rate


@pytest.mark.slow
def test_outputs_have_names_and_shapes(roach_fits, epil_fits):
    for fits, n in ((roach_fits, 262), (epil_fits, 236)):
        for f in fits.values():
            y_rep = f.idata.posterior_predictive["y"]
            assert y_rep.shape == (SHORT.chains, SHORT.iter_sampling, n)
            assert (y_rep >= 0).all() and f.idata.log_likelihood["y"].shape == y_rep.shape
            assert list(f.idata.posterior["beta" if "hurdle" not in f.program
                                          else "beta_1"]["predictor"].values) in (
                list(counts.ROACH_PREDICTORS), list(counts.EPILEPSY_PREDICTORS))
    assert epil_fits["overdispersed Poisson + patient effect"].idata.posterior["b1"].shape[2] == 59


@pytest.mark.slow
def test_report_is_complete(tmp_path, monkeypatch, roach_fits, epil_fits):
    # the report from the fits above (sampling is tested there), end to end otherwise
    monkeypatch.setattr(counts, "fit_roaches", lambda frame, opts: roach_fits)
    monkeypatch.setattr(counts, "fit_epilepsy", lambda frame, opts: epil_fits)
    out = tmp_path / "counts.html"
    assert counts.main(["--quiet", "--output", str(out)]) == 0
    html = out.read_text()
    for section in ["Data", "Models", "Roaches: posterior predictive checks",
                    "Roaches: LOO comparison", "Roaches: rate ratios",
                    "Roaches: coefficients by model", "Epilepsy: BUGS Epil model III",
                    "Sampling speed", "Predictive checks", "Provenance"]:
        assert f">{section}</h2>" in html
    # the notes' three figures, the prior predictive figure, then ArviZ's check and
    # LOO-PIT for each of the 5 fits
    assert html.count("data:image/png;base64,") == 3 + 1 + 2 * 5
    assert ">Priors</h2>" in html
    assert "counts_overdispersed_grouped.stan" in html and "alpha.Trt" in html
    assert "Breslow &amp; Clayton (1993) model III" in html     # the program's header
    assert 'id="diagnostics-failed"' not in html               # the fits passed, so
    assert "PSIS-LOO prefers the overdispersed Poisson" in html  # the answer concludes
    assert_self_contained(html, 1)
    assert [p.name for p in tmp_path.iterdir()] == ["counts.html"]


@pytest.mark.slow
def test_analyse_in_memory_frames(tmp_path, cmdstan_home):
    """The library call on DataFrames: fits, named tables and an answer that agrees
    with the diagnostics, and the report from it."""
    roaches, epilepsy = pd.read_csv(counts.ROACHES), pd.read_csv(counts.EPILEPSY)
    r = counts.analyse(roaches, epilepsy, chains=2, iter_warmup=200, iter_sampling=200,
                       seed=3, quiet=True, quick=True)
    assert list(r.fits) == [f"roaches: {m}" for m in counts.ROACH_MODELS] + [
        f"epilepsy: {m}" for m in counts.EPILEPSY_MODELS]
    assert r.fits["roaches: overdispersed Poisson"].idata.posterior.sizes["chain"] == 2
    assert r.data["roaches"].attrs["source"] == "data frame"
    assert set(r.table("roaches_loo").index) == set(counts.ROACH_MODELS)
    assert r.table("epilepsy_bugs").loc["beta[Trt]", "BUGS name"] == "alpha.Trt"
    assert len(r.table("efficiency")) == 5
    if r.problems:
        assert r.answer.startswith("Sampler diagnostics failed")
    else:
        assert "Sampler diagnostics failed" not in r.answer and "PSIS-LOO prefers" in r.answer
    html = r.write_report(tmp_path / "counts.html").read_text()
    assert "data frame" in html and ">Provenance</h2>" in html
