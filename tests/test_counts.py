"""Counts: data checks, Stan data, and the three count programs checked against
independent maximum-likelihood fits, numerical integration and the BUGS Epil results."""
import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import integrate, optimize, special, stats
from statsmodels.discrete.truncated_model import TruncatedLFPoisson

from pystan_models import counts
from pystan_models.errors import DataError
from pystan_models.fitting import posterior_table, sample

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


def test_gauss_hermite_nodes_integrate_normal_moments():
    gh = counts.gauss_hermite()
    x, w = np.asarray(gh["gh_x"]), np.exp(gh["gh_log_w"])
    # E[e^2] = 1 and E[exp(e)] = exp(1/2) for e ~ N(0, 1)
    assert np.sum(w * 2 * x ** 2) / np.sqrt(np.pi) == pytest.approx(1)
    assert np.sum(w * np.exp(np.sqrt(2) * x)) / np.sqrt(np.pi) == pytest.approx(np.exp(0.5))


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
    table = posterior_table(roach_fits["Poisson"].idata, ["alpha", "beta"])
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
    table = posterior_table(roach_fits["hurdle Poisson"].idata,
                            ["alpha_1", "beta_1", "alpha_2", "beta_2"])
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
    table = posterior_table(fit.idata, ["alpha", "beta", "sigma"])
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
    data = {"N": N, "K": 2, "X": X.tolist(), "log_exposure": [0.0] * N, "y": y.tolist()}
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
                    "Sampling speed", "Provenance"]:
        assert f">{section}</h2>" in html
    assert html.count("data:image/png;base64,") == 3
    assert "counts_overdispersed_grouped.stan" in html and "alpha.Trt" in html
    assert "PSIS-LOO prefers the overdispersed Poisson" in html
    assert_self_contained(html, 1)
    assert [p.name for p in tmp_path.iterdir()] == ["counts.html"]
