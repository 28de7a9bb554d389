"""Rats: data checks, the Gibbs full conditionals against known answers, NUTS vs
Gibbs against each other and against the published BUGS Birats posterior."""
import re

import numpy as np
from scipy import stats
import pytest

from pystan_models import gibbs_rats, rats
from pystan_models.errors import DataError, PystanModelsError
from pystan_models.fitting import RunOptions, posterior_table, sample

from conftest import assert_near_reference, assert_self_contained

# The notes' run: 3 chains, 500 iterations, the first 100 dropped; fixed seed.
NOTES = RunOptions(chains=3, iter_warmup=100, iter_sampling=400, seed=4321, quiet=True)
HEADER = "rat,age_days,weight\n"


def write(tmp_path, text):
    path = tmp_path / "rats.csv"
    path.write_text(HEADER + text)
    return path


# --- data -----------------------------------------------------------------------

def test_shipped_data_is_gelfand_rats():
    frame = rats.load()
    assert len(frame) == 150 and frame.rat.nunique() == 30
    assert sorted(frame.age_days.unique()) == [8, 15, 22, 29, 36]
    assert frame.weight[:5].tolist() == [151, 199, 246, 283, 320]   # rat 1
    assert frame.weight.iloc[-1] == 324                              # rat 30, day 36


@pytest.mark.parametrize("text, pattern", [
    ("1,8,151\n1,15,nan\n", r"row 2 \(line 3\), column 'weight'.*not a finite"),
    ("1,8,151\n1,15,\n", r"row 2 \(line 3\), column 'weight'.*not a finite"),
    ("1,8,151\n1,15,0\n", r"row 2 \(line 3\), column 'weight'.*positive"),
    ("1,8,151\n1,-15,199\n", r"row 2 \(line 3\), column 'age_days'.*negative age"),
    ("1,8,151\n1,8,199\n", r"row 2 \(line 3\), column 'age_days'.*repeats an age"),
    ("1,8,151\n0,15,199\n", r"row 2 \(line 3\), column 'rat'.*positive"),
    ("1,8,151\n1.5,15,199\n", r"row 2 \(line 3\), column 'rat'.*whole number"),
    ("1,8,151\n1,15,199\n3,8,140\n3,15,190\n", r"column 'rat'.*rat\(s\) 2 have no rows"),
    ("1,8,151\n2,8,199\n", r"column 'age_days'.*same age"),
])
def test_bad_file_is_refused_naming_file_row_and_column(tmp_path, text, pattern):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=pattern) as err:
        rats.load(path)
    assert str(path) in str(err.value)


def test_rows_are_sorted_by_rat_then_age(tmp_path):
    frame = rats.load(write(tmp_path, "2,15,200\n1,15,199\n2,8,150\n1,8,151\n"))
    assert frame.rat.tolist() == [1, 1, 2, 2] and frame.age_days.tolist() == [8, 15, 8, 15]


@pytest.mark.parametrize("change, pattern", [
    ({"a": 0.0}, "a must be positive"), ({"b": -1.0}, "b must be positive"),
    ({"rho": 1.0}, "rho must exceed 1"), ({"eta": (0.0, np.nan)}, "eta must be"),
    ({"C": ((1.0, 2.0), (2.0, 1.0))}, "C must be a symmetric positive-definite"),
    ({"R": ((1.0, 0.0), (0.5, 1.0))}, "R must be a symmetric positive-definite"),
])
def test_bad_hyperparameters_are_refused(change, pattern):
    fields = {k: getattr(rats.HYPER, k) for k in ("a", "b", "eta", "C", "rho", "R")}
    with pytest.raises(PystanModelsError, match=pattern):
        gibbs_rats.Hyper(**{**fields, **change})


def test_stan_data_dict():
    data = rats.stan_data(rats.load())
    assert data["N"] == 150 and data["J"] == 30
    assert len(data["rat"]) == len(data["x"]) == len(data["y"]) == 150
    assert all(isinstance(v, int) for v in data["rat"]) and data["rat"][5] == 2
    assert data["x"][:5] == [8, 15, 22, 29, 36]   # uncentred age: alpha_i is at birth
    assert data["C"] == [[1e6, 0.0], [0.0, 1e6]] and data["R"] == [[100.0, 0.0], [0.0, 0.1]]
    assert data["rho"] * np.asarray(data["R"]) == pytest.approx(np.diag([200, 0.2]))  # Omega
    assert data["a"] == data["b"] == 0.001
    assert data["pointwise"] == 0 and rats.stan_data(rats.load(), pointwise=True)["pointwise"] == 1


def test_initial_values_are_overdispersed_and_reproducible():
    frame = rats.load()
    inits = rats.initial_values(frame, 200, seed=1)
    assert inits[:3] == rats.initial_values(frame, 3, seed=1)
    start = np.array([i["theta_0"] for i in inits])
    # posterior sd of (alpha_0, beta_0) is about (2.4, 0.11): starts spread far wider
    assert start.std(0)[0] > 10 * 2.4 and start.std(0)[1] > 5 * 0.11
    for i in inits[:10]:
        assert np.linalg.eigvalsh(i["Sigma"]).min() > 0 and i["sigma_sq"] > 0
        assert np.shape(i["theta"]) == (30, 2)


def test_centred_inits_are_the_same_points():
    inits = rats.initial_values(rats.load(), 2, seed=1)
    A = np.array([[1.0, -22.0], [0.0, 1.0]])
    for i, c in zip(inits, rats.centred_inits(inits, 22.0)):
        np.testing.assert_allclose(A @ c["theta_0c"], i["theta_0"])
        np.testing.assert_allclose(A @ np.asarray(c["Sigma_c"]) @ A.T, i["Sigma"], atol=1e-9)
        assert c["sigma_sq"] == i["sigma_sq"] and "theta" not in c


# --- the Gibbs full conditionals against known answers ----------------------------

HYPER = rats.HYPER
# Informative, non-diagonal hyperparameters make the conditional checks sharper
# than the vague ones (and keep the textbook formulas free of cancellation).
SHARP = gibbs_rats.Hyper(a=3.0, b=50.0, eta=(90.0, 5.0), C=((25.0, -0.5), (-0.5, 0.1)),
                         rho=4.0, R=((80.0, 1.0), (1.0, 0.2)))


@pytest.fixture
def toy():
    """An unbalanced design (rats with 1 to 6 weighings at different ages) and a
    random current state of the chain."""
    rng = np.random.default_rng(7)
    sizes = [1, 3, 6, 2]
    rat = np.repeat(np.arange(4), sizes)
    x = rng.uniform(0, 40, rat.size)
    y = 100 + 6 * x + rng.normal(0, 8, rat.size)
    d = gibbs_rats.Design.of(rat, x, y, 4)
    state = {"theta": np.column_stack([rng.normal(100, 10, 4), rng.normal(6, 0.5, 4)]),
             "theta_0": np.array([104.0, 6.3]),
             "Sigma": np.array([[90.0, -1.0], [-1.0, 0.3]]), "sigma_sq": 40.0}
    return d, state


def log_joint(d, h, theta, theta_0, Sigma, sigma_sq):
    """log p(y, theta, theta_0, Sigma, sigma^2) up to a constant, written directly
    from the model (the inverse Wishart and inverse gamma as density kernels)."""
    from scipy import stats
    mu = theta[d.rat, 0] + theta[d.rat, 1] * d.x
    lp = stats.norm.logpdf(d.y, mu, np.sqrt(sigma_sq)).sum()
    lp += sum(stats.multivariate_normal.logpdf(t, theta_0, Sigma) for t in theta)
    lp += stats.multivariate_normal.logpdf(theta_0, h.eta, h.C)
    S = h.rho * np.asarray(h.R)
    lp += (-(h.rho + 3) / 2 * np.linalg.slogdet(Sigma)[1]
           - np.trace(S @ np.linalg.inv(Sigma)) / 2)
    lp += -(h.a + 1) * np.log(sigma_sq) - h.b / sigma_sq
    return lp


def iw_kernel(Sigma, df, scale):
    return -(df + 3) / 2 * np.linalg.slogdet(Sigma)[1] - np.trace(scale @ np.linalg.inv(Sigma)) / 2


def test_closed_form_2x2_algebra_matches_numpy():
    rng = np.random.default_rng(1)
    B = rng.normal(size=(4, 30, 2, 2))
    M = B @ np.swapaxes(B, -1, -2) + 0.1 * np.eye(2)
    np.testing.assert_allclose(gibbs_rats.inv2(M), np.linalg.inv(M), rtol=1e-9)
    np.testing.assert_allclose(gibbs_rats.chol2(M), np.linalg.cholesky(M), rtol=1e-9)
    np.testing.assert_allclose(gibbs_rats.inv2(B), np.linalg.inv(B), rtol=1e-8, atol=1e-10)


def test_theta_conditional_is_the_textbook_conjugate_normal(toy):
    """Known answer: theta_i and y_i are jointly normal given the rest, so
    theta_i | y_i has mean theta_0 + Sigma X'(X Sigma X' + s2 I)^-1 (y - X theta_0)
    and covariance Sigma - Sigma X'(X Sigma X' + s2 I)^-1 X Sigma."""
    d, s = toy
    mean, cov = gibbs_rats.theta_conditional(d, s["sigma_sq"], np.linalg.inv(s["Sigma"]),
                                             s["theta_0"])
    for i in range(d.k):
        X = np.column_stack([np.ones((d.rat == i).sum()), d.x[d.rat == i]])
        G = s["Sigma"] @ X.T @ np.linalg.inv(X @ s["Sigma"] @ X.T
                                             + s["sigma_sq"] * np.eye(len(X)))
        np.testing.assert_allclose(mean[i], s["theta_0"] + G @ (d.y[d.rat == i]
                                                                  - X @ s["theta_0"]))
        np.testing.assert_allclose(cov[i], s["Sigma"] - G @ X @ s["Sigma"], rtol=1e-9)


def test_theta_0_conditional_is_the_textbook_conjugate_normal(toy):
    """Known answer: the k theta_i are k observations of theta_0 with covariance
    Sigma; stack them and condition the joint normal of (theta_0, theta)."""
    d, s = toy
    mean, cov = gibbs_rats.theta_0_conditional(s["theta"], np.linalg.inv(s["Sigma"]), SHARP)
    H = np.tile(np.eye(2), (d.k, 1))
    C = np.asarray(SHARP.C)
    G = C @ H.T @ np.linalg.inv(H @ C @ H.T + np.kron(np.eye(d.k), s["Sigma"]))
    np.testing.assert_allclose(mean, SHARP.eta + G @ (s["theta"].ravel() - H @ SHARP.eta),
                               rtol=1e-6)
    np.testing.assert_allclose(cov, C - G @ H @ C, rtol=1e-5, atol=1e-9)


def test_every_conditional_is_proportional_to_the_joint(toy):
    """Bayes' rule: for any two values v, w of one block, log q(v) - log q(w) must
    equal log p(v, rest) - log p(w, rest) for the full conditional q."""
    from scipy import stats
    d, s = toy
    rng = np.random.default_rng(3)
    Sigma_inv = np.linalg.inv(s["Sigma"])
    joint = lambda **kw: log_joint(d, SHARP, **{**s, **kw})

    mean, cov = gibbs_rats.theta_conditional(d, s["sigma_sq"], Sigma_inv, s["theta_0"])
    q = lambda t: sum(stats.multivariate_normal.logpdf(t[i], mean[i], cov[i])
                      for i in range(d.k))
    v, w = s["theta"], s["theta"] + rng.normal(0, [3, 0.2], (d.k, 2))
    assert q(v) - q(w) == pytest.approx(joint(theta=v) - joint(theta=w), rel=1e-8)

    mean, cov = gibbs_rats.theta_0_conditional(s["theta"], Sigma_inv, SHARP)
    v, w = np.array([101.0, 6.1]), np.array([110.0, 5.8])
    q = lambda t: stats.multivariate_normal.logpdf(t, mean, cov)
    assert q(v) - q(w) == pytest.approx(joint(theta_0=v) - joint(theta_0=w), rel=1e-8)

    df, scale = gibbs_rats.Sigma_conditional(s["theta"], s["theta_0"], SHARP)
    v, w = s["Sigma"], np.array([[150.0, 2.0], [2.0, 0.5]])
    assert (iw_kernel(v, df, scale) - iw_kernel(w, df, scale)
            == pytest.approx(joint(Sigma=v) - joint(Sigma=w), rel=1e-8))

    shape, scale = gibbs_rats.sigma_sq_conditional(d, s["theta"], SHARP)
    q = lambda v: stats.invgamma.logpdf(v, shape, scale=scale)
    assert q(30.0) - q(55.0) == pytest.approx(joint(sigma_sq=30.0) - joint(sigma_sq=55.0),
                                              rel=1e-8)


def test_draws_follow_the_conditionals(toy):
    """The random parts: stacked normal draws and the inverse Wishart / inverse
    gamma parameterisation (E[Sigma^-1] = df scale^-1, E[sigma^2] = scale/(shape-1))."""
    d, s = toy
    rng = np.random.default_rng(11)
    mean, cov = gibbs_rats.theta_conditional(d, s["sigma_sq"], np.linalg.inv(s["Sigma"]),
                                             s["theta_0"])
    n = 20000
    draws = gibbs_rats.draw_normal(rng, np.broadcast_to(mean, (n, *mean.shape)),
                                   np.broadcast_to(cov, (n, *cov.shape)))
    se = np.sqrt(np.diagonal(cov, axis1=1, axis2=2) / n)
    assert np.all(np.abs(draws.mean(0) - mean) < 4 * se)
    for i in range(d.k):
        np.testing.assert_allclose(np.cov(draws[:, i].T), cov[i], rtol=0.05, atol=1e-3)
    sweeps = [gibbs_rats.step(rng, d, SHARP, s["theta_0"], s["Sigma"], s["sigma_sq"])
              for _ in range(4000)]
    # with theta_0, Sigma, sigma^2 held at s, the sweep's theta has mean D_i d_i
    thetas = np.array([sw[0] for sw in sweeps])
    assert np.all(np.abs(thetas.mean(0) - mean)
                  < 5 * np.sqrt(np.diagonal(cov, axis1=1, axis2=2) / 4000))
    # inverse Wishart: moments, and the same distribution as scipy's sampler
    df, scale = 10.0, np.array([[300.0, 5.0], [5.0, 2.0]])
    S = gibbs_rats.draw_inv_wishart(rng, df, np.broadcast_to(scale, (n, 2, 2)))
    np.testing.assert_allclose(np.linalg.inv(S).mean(0), df * np.linalg.inv(scale),
                               rtol=0.03, atol=2e-4)
    np.testing.assert_allclose(S.mean(0), scale / (df - 3), rtol=0.05, atol=0.02)
    from scipy import stats
    ref = stats.invwishart.rvs(df, scale, size=n, random_state=rng)
    for ij in [(0, 0), (0, 1), (1, 1)]:
        assert stats.ks_2samp(S[:, ij[0], ij[1]], ref[:, ij[0], ij[1]]).pvalue > 1e-3


def test_chains_side_by_side_match_one_at_a_time(toy):
    """The batched conditionals (one state per chain) equal the single-chain ones."""
    d, s = toy
    rng = np.random.default_rng(5)
    Sig = np.stack([s["Sigma"], 1.5 * s["Sigma"], np.diag([50.0, 0.1])])
    t0 = s["theta_0"] + rng.normal(0, 1, (3, 2))
    s2 = np.array([40.0, 20.0, 70.0])
    th = s["theta"] + rng.normal(0, 1, (3, d.k, 2))
    batched = [gibbs_rats.theta_conditional(d, s2, np.linalg.inv(Sig), t0),
               gibbs_rats.theta_0_conditional(th, np.linalg.inv(Sig), SHARP),
               gibbs_rats.Sigma_conditional(th, t0, SHARP),
               gibbs_rats.sigma_sq_conditional(d, th, SHARP)]
    for c in range(3):
        single = [gibbs_rats.theta_conditional(d, s2[c], np.linalg.inv(Sig[c]), t0[c]),
                  gibbs_rats.theta_0_conditional(th[c], np.linalg.inv(Sig[c]), SHARP),
                  gibbs_rats.Sigma_conditional(th[c], t0[c], SHARP),
                  gibbs_rats.sigma_sq_conditional(d, th[c], SHARP)]
        for (b1, b2), (s1, s2_) in zip(batched, single):
            np.testing.assert_allclose(np.asarray(b1)[c] if np.ndim(b1) else b1, s1)
            np.testing.assert_allclose(np.asarray(b2)[c] if np.ndim(b2) else b2, s2_)


def test_large_sample_posterior_concentrates_on_the_truth():
    """Known answer: 400 rats x 10 weighings simulated from known parameters; the
    posterior must sit within 4 posterior sd of the truth (and be narrow)."""
    rng = np.random.default_rng(2024)
    k, ages = 400, np.linspace(5, 40, 10)
    truth = {"theta_0": np.array([105.0, 6.2]), "Sigma": np.array([[100.0, 1.5], [1.5, 0.25]]),
             "sigma": 6.0}
    theta = rng.multivariate_normal(truth["theta_0"], truth["Sigma"], k)
    rat = np.repeat(np.arange(k), ages.size)
    x = np.tile(ages, k)
    y = theta[rat, 0] + theta[rat, 1] * x + rng.normal(0, truth["sigma"], rat.size)
    d = gibbs_rats.Design.of(rat, x, y, k)
    init = {"theta_0": [0.0, 0.0], "Sigma": np.eye(2), "sigma_sq": 1.0}
    run = gibbs_rats.sample(d, HYPER, [init, init], 100, 300, seed=5)
    post = run.idata.posterior
    for name, true in [("birth_weight", 105.0), ("daily_gain", 6.2), ("sigma", 6.0),
                       ("sd_alpha", 10.0), ("sd_beta", 0.5), ("corr_theta", 0.3)]:
        draws = post[name].values
        assert abs(draws.mean() - true) < 4 * draws.std(), name
    assert post["sigma"].std() < 0.1 and post["birth_weight"].std() < 1


def test_gibbs_is_reproducible_and_shaped():
    frame = rats.load()
    inits = rats.initial_values(frame, 2, seed=3)
    opts = RunOptions(chains=2, iter_warmup=5, iter_sampling=7, seed=9, quiet=True)
    a, b = rats.fit_gibbs(frame, opts, inits), rats.fit_gibbs(frame, opts, inits)
    np.testing.assert_array_equal(a.idata.posterior["theta"], b.idata.posterior["theta"])
    post = a.idata.posterior
    assert post["theta"].shape == (2, 7, 30, 2) and post["Sigma"].shape == (2, 7, 2, 2)
    assert list(post["coef"].values) == ["alpha", "beta"]


# --- NUTS and Gibbs on the rats --------------------------------------------------

@pytest.fixture(scope="module")
def runs(cmdstan_home):
    frame = rats.load()
    inits = rats.initial_values(frame, NOTES.chains, NOTES.seed)
    return {"NUTS": rats.fit_nuts(frame, NOTES, inits),
            "NUTS marginal": rats.fit_nuts(frame, NOTES, inits, program="rats_marginal"),
            "Gibbs": rats.fit_gibbs(frame, NOTES, inits)}


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["NUTS", "NUTS marginal", "Gibbs"])
def test_average_rat_weighs_about_106g_at_birth_and_gains_6_2g_a_day(runs, sampler):
    table = posterior_table(runs[sampler].idata, rats.MAIN)
    assert 104 <= table.loc["birth_weight", "mean"] <= 109
    assert 6.0 <= table.loc["daily_gain", "mean"] <= 6.4
    # BUGS Birats (20,000 draws) is the same posterior: only Monte Carlo error (ours,
    # 4 MCSE) and a sliver for BUGS's own error and prior equivalences (0.05 sd).
    assert_near_reference(table, {k: v[0] for k, v in rats.BUGS.items()},
                          sd_fraction=0.05, n_mcse=4)
    assert table.loc["birth_weight", "sd"] == pytest.approx(2.361, rel=0.2)
    assert table.loc["daily_gain", "sd"] == pytest.approx(0.1063, rel=0.2)


@pytest.mark.slow
def test_nuts_and_gibbs_agree_within_monte_carlo_error(runs):
    z = rats.agreement(runs, "NUTS", "Gibbs")
    assert (z < 4).all(), z.to_dict()
    t = {k: posterior_table(r.idata, rats.MAIN) for k, r in runs.items()}
    # and their spreads match: posterior sd within 20% (ESS of a few hundred)
    ratio = t["NUTS"]["sd"] / t["Gibbs"]["sd"]
    assert ratio.between(0.8, 1.25).all(), ratio.to_dict()


@pytest.mark.slow
def test_marginal_program_has_the_plain_programs_posterior(runs):
    """Integrating theta_i out and drawing it back must not change the posterior:
    population parameters and all 60 rat-level coefficients agree within Monte
    Carlo error (max over 60 comparisons: 4.5 MCSE), with matching spreads."""
    z = rats.agreement(runs, "NUTS", "NUTS marginal")
    assert (z < 4).all(), z.to_dict()
    z_theta = rats.agreement(runs, "NUTS", "NUTS marginal", var_names=["theta"])
    assert len(z_theta) == 60 and z_theta.max() < 4.5, z_theta.nlargest(3).to_dict()
    sd = {k: runs[k].idata.posterior["theta"].std(("chain", "draw")).values
          for k in ("NUTS", "NUTS marginal")}
    np.testing.assert_allclose(sd["NUTS marginal"], sd["NUTS"], rtol=0.2)
    assert runs["NUTS marginal"].problems == []
    assert runs["NUTS marginal"].idata.posterior["theta"].shape == (3, 400, 30, 2)


@pytest.mark.slow
def test_short_warmup_still_adapts_the_metric(runs):
    """The notes' 100 warmup iterations are below CmdStan's default windows; the
    driver passes explicit ones so the metric is adapted, not left at identity."""
    for name in ("NUTS", "NUTS marginal"):
        metric = np.asarray(runs[name].fit.metric)
        assert not np.allclose(np.diagonal(metric, axis1=-2, axis2=-1)
                               if metric.ndim == 3 else metric, 1.0), name


@pytest.mark.slow
def test_unbalanced_data_marginal_program_agrees_with_gibbs(tmp_path, cmdstan_home):
    """Rats with 1 to 5 weighings (some rows dropped): the marginal program's
    per-rat algebra and the Gibbs sampler's must still give the same posterior."""
    frame = rats.load()
    keep = ~((frame.rat <= 10) & (frame.age_days > 8 + 7 * (frame.rat % 5)))
    path = tmp_path / "rats.csv"
    frame[keep].to_csv(path, index=False)
    short = rats.load(path)
    assert sorted(short.groupby("rat").size().unique()) == [1, 2, 3, 4, 5]
    opts = RunOptions(chains=3, iter_warmup=300, iter_sampling=500, seed=99, quiet=True)
    inits = rats.initial_values(short, 3, opts.seed)
    runs = {"NUTS marginal": rats.fit_nuts(short, opts, inits, program="rats_marginal"),
            "Gibbs": rats.fit_gibbs(short, opts, inits)}
    z = rats.agreement(runs, "NUTS marginal", "Gibbs")
    assert (z < 4).all(), z.to_dict()


@pytest.mark.slow
def test_nuts_fit_is_clean_and_complete(runs):
    nuts = runs["NUTS"]
    assert nuts.problems == []
    post = nuts.idata.posterior
    assert post["theta"].shape == (3, 400, 30, 2)
    assert "log_likelihood" not in nuts.idata.groups()   # pointwise output off
    # generated quantities agree with the parameters they are made from
    np.testing.assert_allclose(post["birth_weight"], post["theta_0"].sel(coef="alpha"))
    np.testing.assert_allclose(post["sigma"] ** 2, post["sigma_sq"], rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("program", ["rats_conjugate", "rats_marginal"])
def test_pointwise_output_is_the_likelihood_given_the_drawn_lines(program, cmdstan_home):
    frame = rats.load()
    opts = RunOptions(chains=1, iter_warmup=200, iter_sampling=50, seed=3, quiet=True)
    inits = rats.initial_values(frame, 1, opts.seed)
    if program == "rats_marginal":
        inits = rats.centred_inits(inits, frame.age_days.mean())
    fit = sample(program, rats.stan_data(frame, pointwise=True), opts, main=["sigma"],
                 inits=inits, observed={"y": frame.weight}).fit
    theta, sigma = fit.stan_variable("theta"), fit.stan_variable("sigma")
    i = frame.rat.to_numpy() - 1
    mu = theta[:, i, 0] + theta[:, i, 1] * frame.age_days.to_numpy()
    expected = stats.norm.logpdf(frame.weight.to_numpy(), mu, sigma[:, None])
    # CmdStan's CSV keeps 6 significant digits of theta, sigma and log_lik
    np.testing.assert_allclose(fit.stan_variable("log_lik"), expected, rtol=2e-4)
    assert fit.stan_variable("y_rep").shape == (50, 150)


@pytest.mark.slow
def test_efficiency_table(runs):
    eff = rats.efficiency(runs)
    assert list(eff.index) == ["NUTS", "NUTS marginal", "Gibbs"]
    assert eff.iloc[0, -1] == 1.0
    assert (eff["min bulk ESS / s"] > 0).all() and (eff["wall time (s)"] > 0).all()
    assert set(eff["worst parameter"]) <= set(rats.MAIN)


@pytest.mark.slow
def test_report_is_complete_and_self_contained(tmp_path, cmdstan_home):
    out = tmp_path / "rats.html"
    assert rats.main(["--quiet", "--seed", "4321", "--output", str(out)]) == 0
    html = out.read_text()
    for section in ["Data", "Model and hyperparameters", "Starting values",
                    "Posterior summaries: NUTS vs Gibbs",
                    "Posterior densities of the population intercept and slope",
                    "Trace plots", "Effective samples per second", "Provenance"]:
        assert f">{section}</h2>" in html
    answer = re.search(r'<div class="answer">(.*?)</div>', html, re.S).group(1)
    assert re.search(r"weighs about 10[4-9] g at birth", answer)
    assert re.search(r"gains about 6\.[0-4] g per day", answer)
    assert "3 chains x (100 warmup + 400 draws)" in html   # the notes' run by default
    assert "rats_conjugate.stan" in html and "rats_marginal.stan" in html
    assert "gibbs_rats.py" in html and "as fast as plain NUTS" in answer
    assert_self_contained(html, 5)
    assert [p.name for p in tmp_path.iterdir()] == ["rats.html"]


def test_failed_run_writes_no_report(tmp_path, capsys):
    bad = write(tmp_path, "1,8,151\n1,15,199\n3,8,140\n")
    out = tmp_path / "reports" / "rats.html"
    assert rats.main(["--data", str(bad), "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "rat(s) 2 have no rows" in err and "Traceback" not in err
    assert not out.exists()
