"""The programs of the collection that simulation-based calibration can check.

SBC needs a proper prior, so each target fixes the data switches that make it so
(the weakly informative variant where the notes' prior is flat) and simulates
data of the example's own shape (its real design matrix or standard errors)
from exactly that prior.  Simulators are module-level functions: worker
processes import them.  Each builds its data dict with the example module's own
``stan_data`` (or ``roaches_data``, ``epilepsy_data``, ``marginal_data``), so the
data contract is the example's.

Where a data switch of a program gives a proper prior in place of the notes'
flat one (beetles' ``prior_sd``, icc_oneway's ``alpha_prior_sd``, the radon
programs' ``beta_prior_sd``), or where the example's hyperparameters are too
vague to simulate sensible data (rats), the target's note says what it passes.
The two Gibbs sampler (numba)s (rats_gibbs, probit_gibbs) are targets with a
``sampler``: one chain through their public functions.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import probit, schools
from .calibrate import Target

INT_MAX = 2**31 - 1   # Stan's int is 32-bit


@lru_cache(maxsize=None)
def _school_se() -> np.ndarray:
    return schools.load().se.to_numpy()


def simulate_schools(rng):
    """mu ~ N(0, 5^2), tau ~ half-Cauchy(0, 5), the real eight standard errors;
    the data dict from the example's own stan_data (no log_lik or y_rep)."""
    import pandas as pd
    sigma = _school_se()
    mu, tau = rng.normal(0, 5), abs(5 * rng.standard_cauchy())
    theta = rng.normal(mu, tau, size=sigma.size)
    y = rng.normal(theta, sigma)
    data = schools.stan_data(pd.DataFrame({"effect": y, "se": sigma}), "half_cauchy",
                             schools.POSTERIORDB_HYPER, pointwise=False)
    return {"mu": mu, "tau": tau, "theta[1]": theta[0]}, data


@lru_cache(maxsize=None)
def _seeds_x() -> np.ndarray:
    return probit.design(probit.expand(probit.load()))


def _simulate_binary(rng, link):
    """alpha, beta_k ~ N(0, 1) (prior_sd = 1 instead of the example's 10, so the
    simulated data are rarely separated), on the 831-seed design; the data dict
    from the example's own stan_data (no log_lik or y_rep)."""
    import pandas as pd
    x = _seeds_x()
    alpha, beta = rng.normal(0, 1), rng.normal(0, 1, size=x.shape[1])
    p = link(alpha + x @ beta)
    y = (rng.random(len(x)) < p).astype(int)
    seeds = pd.DataFrame({"seed_type": x[:, 0], "root_extract": x[:, 1], "germinated": y})
    data = probit.stan_data(seeds, prior_sd=1.0, pointwise=False)
    truth = {"alpha": alpha, **{f"beta[{k + 1}]": b for k, b in enumerate(beta)}}
    return truth, data


def simulate_probit(rng):
    from scipy.special import ndtr
    return _simulate_binary(rng, ndtr)


def simulate_logit(rng):
    from scipy.special import expit
    return _simulate_binary(rng, expit)


def simulate_varying_logistic(rng):
    """The benchmark's shape, small: 600 rows, 20 groups, 3 predictors; priors
    mu, beta_k ~ N(0, 2.5^2), tau ~ N+(0, 1) as in the program."""
    n, j, k = 600, 20, 3
    mu, tau = rng.normal(0, 2.5), abs(rng.normal(0, 1))
    beta = rng.normal(0, 2.5, size=k)
    alpha = mu + tau * rng.normal(size=j)
    group = rng.integers(1, j + 1, size=n)
    x = rng.normal(size=(n, k))
    p = 1 / (1 + np.exp(-(alpha[group - 1] + x @ beta)))
    data = {"N": n, "K": k, "X": x.tolist(), "y": (rng.random(n) < p).astype(int).tolist(),
            "J": j, "group": group.tolist(), "prior_only": 0, "pointwise": 0}
    return {"mu": mu, "tau": tau, "beta[1]": beta[0]}, data



# --- beetles: the three links on the Bliss doses and trials ------------------------

BEETLES_PRIOR_SD = 2.5


@lru_cache(maxsize=None)
def _beetles():
    return _load("beetles")


def _load(name):
    from importlib import import_module
    return import_module(f"pystan_models.{name}").load()


def _simulate_beetles(rng, link):
    """alpha_c, beta ~ N(0, 2.5^2) (the programs' prior_sd switch) on the Bliss
    doses (centred) and numbers exposed; the example's own stan_data."""
    from . import beetles
    frame = _beetles()
    x = frame.dose.to_numpy(float)
    alpha_c, beta = rng.normal(0, BEETLES_PRIOR_SD, size=2)
    p = link(alpha_c + beta * (x - x.mean()))
    killed = rng.binomial(frame.exposed.to_numpy(), p)
    data = beetles.stan_data(frame.assign(killed=killed), prior_sd=BEETLES_PRIOR_SD,
                             pointwise=False)
    return {"alpha_c": alpha_c, "beta[1]": beta}, data


def simulate_beetles_logit(rng):
    from scipy.special import expit
    return _simulate_beetles(rng, expit)


def simulate_beetles_probit(rng):
    from scipy.special import ndtr
    return _simulate_beetles(rng, ndtr)


def simulate_beetles_cloglog(rng):
    return _simulate_beetles(rng, lambda eta: -np.expm1(-np.exp(eta)))


# --- counts: roaches and epilepsy designs --------------------------------------------

@lru_cache(maxsize=None)
def _roaches():
    from . import counts
    return counts.load_roaches()


@lru_cache(maxsize=None)
def _epilepsy():
    from . import counts
    return counts.load_epilepsy()


def _standardised(data: dict) -> np.ndarray:
    """X_std of the count programs' transformed data (column means and sds)."""
    X = np.asarray(data["X"], float)
    return (X - X.mean(0)) / X.std(0, ddof=1)


def _poisson_fits(rng, log_mu: np.ndarray):
    """Poisson counts of mean exp(log_mu), or None when one of them would not fit
    a Stan int.  (A mean above 1e12 gives such a count with probability 1; the
    decision depends on the counts alone, so rejecting the data set keeps SBC
    exact: the posterior given any kept data set is unchanged.)"""
    if log_mu.max() > np.log(1e12):
        return None
    y = rng.poisson(np.exp(log_mu))
    return None if y.max() > INT_MAX else y


def _redraw(rng, draw):
    """draw(rng) -> (truth, data) or None; repeated until the counts fit."""
    while True:
        got = draw(rng)
        if got is not None:
            return got


def simulate_counts_poisson(rng):
    """alpha_c ~ N(0, 5^2), beta_std ~ N(0, 2.5^2) (the program's prior) on the
    roaches design and exposures."""
    from . import counts
    frame = _roaches()
    template = counts.roaches_data(frame, pointwise=False)
    x, off = _standardised(template), np.asarray(template["log_exposure"])

    def draw(rng):
        alpha_c, beta = rng.normal(0, 5), rng.normal(0, 2.5, size=x.shape[1])
        y = _poisson_fits(rng, off + alpha_c + x @ beta)
        if y is None:
            return None
        truth = {"alpha_c": alpha_c, **{f"beta_std[{k + 1}]": b for k, b in enumerate(beta)}}
        return truth, counts.roaches_data(frame.assign(y=y), pointwise=False)
    return _redraw(rng, draw)


def simulate_counts_overdispersed(rng):
    """alpha_c ~ N(0, 5^2), beta_std ~ N(0, 2.5^2), sigma ~ Exp(1), log_rate_i ~
    N(log exposure + linear predictor, sigma^2) on the roaches design."""
    from . import counts
    frame = _roaches()
    template = counts.roaches_data(frame, pointwise=False)
    x, off = _standardised(template), np.asarray(template["log_exposure"])

    def draw(rng):
        alpha_c, beta = rng.normal(0, 5), rng.normal(0, 2.5, size=x.shape[1])
        sigma = rng.exponential(1)
        log_rate = rng.normal(off + alpha_c + x @ beta, sigma)
        y = _poisson_fits(rng, log_rate)
        if y is None:
            return None
        truth = {"alpha_c": alpha_c, "beta_std[1]": beta[0], "sigma": sigma,
                 "log_rate[1]": log_rate[0]}
        return truth, counts.roaches_data(frame.assign(y=y), pointwise=False)
    return _redraw(rng, draw)


def simulate_counts_hurdle(rng):
    """Zero part logit P(y = 0) = alpha_1c + X_std beta_1std, count part y | y > 0
    zero-truncated Poisson(exposure exp(alpha_2c + X_std beta_2std)); alphas ~
    N(0, 5^2), betas ~ N(0, 2.5^2) (the program's prior), roaches design."""
    from scipy.special import expit
    from . import counts
    frame = _roaches()
    template = counts.roaches_data(frame, pointwise=False)
    x, off = _standardised(template), np.asarray(template["log_exposure"])
    k = x.shape[1]

    def draw(rng):
        alpha_1c, beta_1 = rng.normal(0, 5), rng.normal(0, 2.5, size=k)
        alpha_2c, beta_2 = rng.normal(0, 5), rng.normal(0, 2.5, size=k)
        zero = rng.random(len(x)) < expit(alpha_1c + x @ beta_1)
        log_mu = off + alpha_2c + x @ beta_2
        if log_mu[~zero].max(initial=-np.inf) > np.log(1e12):
            return None
        mu = np.exp(np.minimum(log_mu, np.log(1e12)))
        # y | y > 0, exactly: in a Poisson process of rate mu on [0, 1] with at
        # least one event, the first comes at T with density proportional to
        # mu exp(-mu t) on [0, 1] (by inversion), and the others are
        # Poisson(mu (1 - T)); mu (1 - T) = mu + log1p(U expm1(-mu))
        rest = np.maximum(mu + np.log1p(rng.random(len(x)) * np.expm1(-mu)), 0)
        y = np.where(zero, 0, 1 + rng.poisson(rest))
        if y.max() > INT_MAX:
            return None
        truth = {"alpha_1c": alpha_1c, "beta_1std[1]": beta_1[0],
                 "alpha_2c": alpha_2c, "beta_2std[1]": beta_2[0]}
        return truth, counts.roaches_data(frame.assign(y=y), pointwise=False)
    return _redraw(rng, draw)


def simulate_counts_grouped(rng):
    """Epil model III: alpha_c ~ N(0, 5^2), beta_std ~ N(0, 2.5^2), sigma,
    sigma_group ~ Exp(1), z_i, u_j ~ N(0, 1); the epilepsy design (236 visits,
    59 patients)."""
    from . import counts
    frame = _epilepsy()
    template = counts.epilepsy_data(frame, pointwise=False)
    x, off = _standardised(template), np.asarray(template["log_exposure"])
    group = np.asarray(template["group"]) - 1

    def draw(rng):
        alpha_c, beta = rng.normal(0, 5), rng.normal(0, 2.5, size=x.shape[1])
        sigma, sigma_group = rng.exponential(1, size=2)
        z, u = rng.normal(size=len(x)), rng.normal(size=template["J"])
        y = _poisson_fits(rng, off + alpha_c + x @ beta + sigma_group * u[group]
                          + sigma * z)
        if y is None:
            return None
        truth = {"alpha_c": alpha_c, "beta_std[1]": beta[0], "sigma": sigma,
                 "sigma_group": sigma_group, "u[1]": u[0]}
        return truth, counts.epilepsy_data(frame.assign(count=y), pointwise=False)
    return _redraw(rng, draw)


# --- separation: the endometrial design ----------------------------------------------

SEPARATION_PRIOR = "Student-t(7, 0, 2.5)"


@lru_cache(maxsize=None)
def _endometrial():
    return _load("separation")


def simulate_separation(rng):
    """alpha_z ~ Cauchy(0, 10), beta_z ~ Student-t(7, 0, 2.5) (the example's
    second prior) on the endometrial inputs, scaled as the program scales them."""
    from scipy.special import expit
    from . import separation
    frame = _endometrial()
    prior = separation.PRIORS[SEPARATION_PRIOR]
    x = frame[list(separation.INPUTS)].to_numpy(float)
    binary = np.array([separation.BINARY[c] for c in separation.INPUTS])
    scale = np.where(binary == 1, 1.0, 2 * x.std(0, ddof=1))
    z = (x - x.mean(0)) / scale
    alpha_z = prior["intercept_scale"] * rng.standard_cauchy()
    beta_z = prior["prior_scale"] * rng.standard_t(prior["prior_df"], size=x.shape[1])
    y = (rng.random(len(x)) < expit(alpha_z + z @ beta_z)).astype(int)
    data = separation.stan_data(frame.assign(hg=y), SEPARATION_PRIOR, pointwise=False)
    return {"alpha_z": alpha_z, **{f"beta_z[{k + 1}]": b for k, b in enumerate(beta_z)}}, data


# --- radon: icc_oneway, mixed_effects_clusters, radon_intercepts_marginal -----------

RADON_BETA_PRIOR_SD = 1.0
ICC_ALPHA_PRIOR_SD = 2.0


@lru_cache(maxsize=None)
def _radon():
    from . import radon
    return radon.load()


def simulate_icc(rng):
    """alpha ~ N(0, 2^2) (the program's alpha_prior_sd switch), sigma_beta, sigma
    ~ N+(0, 1) (the example's scale_prior_sd), beta_j = alpha + sigma_beta eta_j;
    the radon counties (919 houses, 85 counties)."""
    from . import icc
    frame = _radon()
    group = frame.county.to_numpy() - 1
    J = int(group.max()) + 1
    alpha = rng.normal(0, ICC_ALPHA_PRIOR_SD)
    sigma_beta, sigma = np.abs(rng.normal(0, icc.SCALE_PRIOR_SD, size=2))
    beta = alpha + sigma_beta * rng.normal(size=J)
    y = rng.normal(beta[group], sigma)
    data = icc.stan_data(frame.assign(log_radon=y), alpha_prior_sd=ICC_ALPHA_PRIOR_SD,
                         pointwise=False)
    return {"alpha": alpha, "sigma_beta": sigma_beta, "sigma": sigma, "beta[1]": beta[0]}, data


def simulate_mixed_effects(rng):
    """The varying-intercepts design (floor in X, county intercepts in Z):
    beta ~ N(0, 1) (beta_prior_sd = 1), alpha ~ N(0, 100^2) (the example's
    mean_prior_sd), sigma_gamma, sigma ~ N+(0, 1), gamma_q = alpha + sigma_gamma z_q."""
    from . import radon
    frame = _radon()
    d = radon.design(frame, "intercepts")
    X, Z = d.X.to_numpy(float), np.asarray(d.Z, float)
    beta = rng.normal(0, RADON_BETA_PRIOR_SD, size=X.shape[1])
    alpha = rng.normal(0, radon.MEAN_PRIOR_SD)
    sigma_gamma, sigma = np.abs(rng.normal(0, radon.SCALE_PRIOR_SD, size=2))
    gamma = alpha + sigma_gamma * rng.normal(size=Z.shape[1])
    y = rng.normal(X @ beta + Z @ gamma, sigma)
    data = radon.stan_data(y, d, beta_prior_sd=RADON_BETA_PRIOR_SD, pointwise=False)
    return {"beta[1]": beta[0], "alpha[1]": alpha, "sigma_gamma[1]": sigma_gamma,
            "sigma": sigma, "gamma[1]": gamma[0]}, data


def simulate_radon_marginal(rng):
    """The 'uranium' model: floor in X, county log uranium in W; beta, beta_county
    ~ N(0, 1) (beta_prior_sd = 1), alpha ~ N(0, 100^2), sigma_gamma, sigma ~
    N+(0, 1), gamma_j ~ N(alpha, sigma_gamma^2)."""
    from . import radon
    frame = _radon()
    info = radon.counties(frame)
    group = frame.county.to_numpy() - 1
    floor = frame.floor.to_numpy(float)
    w = info.log_uranium.to_numpy(float)
    beta, beta_county = rng.normal(0, RADON_BETA_PRIOR_SD, size=2)
    alpha = rng.normal(0, radon.MEAN_PRIOR_SD)
    sigma_gamma, sigma = np.abs(rng.normal(0, radon.SCALE_PRIOR_SD, size=2))
    gamma = rng.normal(alpha, sigma_gamma, size=len(info))
    y = rng.normal(floor * beta + (w * beta_county + gamma)[group], sigma)
    data = radon.marginal_data(frame.assign(log_radon=y),
                               beta_prior_sd=RADON_BETA_PRIOR_SD)
    return {"beta[1]": beta, "beta_county[1]": beta_county, "alpha": alpha,
            "sigma_gamma": sigma_gamma, "sigma": sigma, "gamma[1]": gamma[0]}, data


# --- rats: both programs and the Gibbs sampler ----------------------------------------

def rats_hyper():
    """Proper hyperparameters near the rats' scale, for calibration (BUGS's are so
    vague that simulated rats weigh anything from -1e4 to 1e4 g):
    sigma^2 ~ IG(3, 72) (mean 36 g^2), theta_0 ~ N((100, 6), diag(20^2, 1)),
    Sigma ~ Inv-Wishart(5 diag(100, 0.25), 5)."""
    from . import gibbs_rats
    return gibbs_rats.Hyper(a=3.0, b=72.0, eta=(100.0, 6.0),
                            C=((400.0, 0.0), (0.0, 1.0)), rho=5.0,
                            R=((100.0, 0.0), (0.0, 0.25)))


@lru_cache(maxsize=None)
def _rats():
    return _load("rats")


def simulate_rats(rng):
    """sigma^2 ~ IG(a, b), theta_0 ~ N(eta, C), Sigma ~ IW(rho R, rho), theta_j ~
    N(theta_0, Sigma), y ~ N(alpha_j + beta_j age, sigma^2), with
    :func:`rats_hyper`; the 30 rats' ages (8 to 36 days)."""
    from scipy import stats
    from . import rats
    frame = _rats()
    h = rats_hyper()
    sigma_sq = 1 / rng.gamma(h.a, 1 / h.b)
    theta_0 = rng.multivariate_normal(h.eta, h.C)
    Sigma = stats.invwishart.rvs(df=h.rho, scale=h.rho * np.asarray(h.R),
                                 random_state=rng)
    J = int(frame.rat.max())
    theta = rng.multivariate_normal(theta_0, Sigma, size=J)
    rat = frame.rat.to_numpy() - 1
    age = frame.age_days.to_numpy(float)
    y = rng.normal(theta[rat, 0] + theta[rat, 1] * age, np.sqrt(sigma_sq))
    data = rats.stan_data(frame.assign(weight=y), h)
    return {"birth_weight": theta_0[0], "daily_gain": theta_0[1],
            "sigma": np.sqrt(sigma_sq), "sd_alpha": np.sqrt(Sigma[0, 0]),
            "theta[1,1]": theta[0, 0]}, data


def sample_rats_gibbs(data, seed, warmup, iterations):
    """One chain of the notes' Gibbs sampler (gibbs_rats.sample) on the Stan data
    dict, started at the prior's centre."""
    from . import gibbs_rats
    from .fitting import RunOptions
    x = np.asarray(data["X"], float)[:, 0]
    d = gibbs_rats.Design.of(np.asarray(data["group"]) - 1, x, data["y"], data["J"])
    h = gibbs_rats.Hyper(a=data["a"], b=data["b"], eta=tuple(data["eta"]),
                         C=tuple(map(tuple, data["C"])), rho=data["rho"],
                         R=tuple(map(tuple, data["R"])))
    inits = [{"theta_0": list(h.eta), "Sigma": [list(r) for r in h.R],
              "sigma_sq": h.b / (h.a + 1)}]
    opts = RunOptions(chains=1, iter_warmup=warmup, iter_sampling=iterations, seed=seed,
                      quiet=True, quick=True)
    post = gibbs_rats.sample(d, h, inits, opts).idata.posterior
    out = {name: post[name].values[0] for name in
           ("birth_weight", "daily_gain", "sigma", "sd_alpha")}
    out["theta[1,1]"] = post["theta"].values[0, :, 0, 0]
    return out


def sample_probit_gibbs(data, seed, warmup, iterations):
    """One chain of the Albert-Chib sampler (probit.gibbs_probit) on the Stan data."""
    from .fitting import RunOptions
    opts = RunOptions(chains=1, iter_warmup=warmup, iter_sampling=iterations, seed=seed,
                      quiet=True, quick=True)
    post = probit.gibbs_probit(data["X"], data["y"], data["prior_sd"], opts).idata.posterior
    out = {"alpha": post["alpha"].values[0]}
    beta = post["beta"].values[0]
    out.update({f"beta[{k + 1}]": beta[:, k] for k in range(beta.shape[1])})
    return out


BEETLES_NOTE = ("Priors: alpha_c, beta ~ N(0, 2.5^2) (prior_sd = 2.5 instead of the "
                "notes' flat prior, scaled so that the death rate at the mean dose lies "
                "between 1% and 99% in 95% of draws: not all 0/1); the Bliss doses "
                "(centred) and numbers exposed.")
COUNTS_NOTE = (" The program's own prior reaches Poisson means above 2^31 (Stan's int) "
               "for some draws; such data sets are drawn again (rejection on the data "
               "alone, so SBC stays exact, but the kept truths lean to smaller rates).")
RATS_NOTE = ("Hyperparameters for calibration, passed as data: sigma^2 ~ IG(3, 72), "
             "theta_0 ~ N((100, 6), diag(400, 1)), Sigma ~ IW(5 diag(100, 0.25), 5) "
             "(BUGS's vague ones simulate absurd rats); the 30 rats' ages.")


TARGETS = {
    "schools_noncentered": Target(
        "schools_noncentered", ["mu", "tau", "theta[1]"], simulate_schools,
        "Priors: mu ~ N(0, 5^2), tau ~ half-Cauchy(0, 5) (posteriordb's); the real "
        "standard errors."),
    "schools_centered": Target(
        "schools_centered", ["mu", "tau", "theta[1]"], simulate_schools,
        "Priors: mu ~ N(0, 5^2), tau ~ half-Cauchy(0, 5) (posteriordb's); the real "
        "standard errors.  Centred: expect divergences at small tau."),
    "probit_regression": Target(
        "probit_regression", ["alpha", "beta[1]", "beta[2]", "beta[3]"], simulate_probit,
        "Priors: N(0, 1) on every coefficient; the seeds design (831 seeds)."),
    "probit_gibbs": Target(
        probit.GIBBS, ["alpha", "beta[1]", "beta[2]", "beta[3]"], simulate_probit,
        "Albert-Chib Gibbs sampler (numpy, probit.gibbs_probit), one chain. Priors: "
        "N(0, 1) on every coefficient; the seeds design (831 seeds).",
        sampler=sample_probit_gibbs),
    "logistic_regression": Target(
        "logistic_regression", ["alpha", "beta[1]", "beta[2]", "beta[3]"], simulate_logit,
        "Priors: N(0, 1) on every coefficient; the seeds design (831 seeds)."),
    "logistic_weakly_informative": Target(
        "logistic_weakly_informative", ["alpha_z", "beta_z[1]", "beta_z[2]", "beta_z[3]"],
        simulate_separation,
        "Priors: alpha_z ~ Cauchy(0, 10), beta_z ~ Student-t(7, 0, 2.5) (the separation "
        "example's second prior); the endometrial inputs (79 patients)."),
    "varying_intercept_logistic": Target(
        "varying_intercept_logistic", ["mu", "tau", "beta[1]"], simulate_varying_logistic,
        "The benchmark's model on 600 simulated rows in 20 groups."),
    "beetles_logit": Target("beetles_logit", ["alpha_c", "beta[1]"], simulate_beetles_logit,
                            BEETLES_NOTE),
    "beetles_probit": Target("beetles_probit", ["alpha_c", "beta[1]"], simulate_beetles_probit,
                             BEETLES_NOTE),
    "beetles_cloglog": Target("beetles_cloglog", ["alpha_c", "beta[1]"],
                              simulate_beetles_cloglog, BEETLES_NOTE),
    "counts_poisson": Target(
        "counts_poisson", ["alpha_c", "beta_std[1]", "beta_std[2]", "beta_std[3]"],
        simulate_counts_poisson,
        "Priors: alpha_c ~ N(0, 5^2), beta_std ~ N(0, 2.5^2) (the program's); the "
        "roaches design and exposures (262 rows)." + COUNTS_NOTE),
    "counts_overdispersed": Target(
        "counts_overdispersed", ["alpha_c", "beta_std[1]", "sigma", "log_rate[1]"],
        simulate_counts_overdispersed,
        "Priors: alpha_c ~ N(0, 5^2), beta_std ~ N(0, 2.5^2), sigma ~ Exp(1) (the "
        "program's); the roaches design and exposures (262 rows)." + COUNTS_NOTE),
    "counts_hurdle": Target(
        "counts_hurdle", ["alpha_1c", "beta_1std[1]", "alpha_2c", "beta_2std[1]"],
        simulate_counts_hurdle,
        "Priors: alphas ~ N(0, 5^2), betas ~ N(0, 2.5^2) (the program's); the roaches "
        "design and exposures (262 rows)." + COUNTS_NOTE),
    "counts_overdispersed_grouped": Target(
        "counts_overdispersed_grouped",
        ["alpha_c", "beta_std[1]", "sigma", "sigma_group", "u[1]"], simulate_counts_grouped,
        "Priors: alpha_c ~ N(0, 5^2), beta_std ~ N(0, 2.5^2), sigma, sigma_group ~ "
        "Exp(1) (the program's); the epilepsy design (236 visits, 59 patients)."
        + COUNTS_NOTE),
    "icc_oneway": Target(
        "icc_oneway", ["alpha", "sigma_beta", "sigma", "beta[1]"], simulate_icc,
        "Priors: alpha ~ N(0, 2^2) (alpha_prior_sd = 2 instead of the notes' flat "
        "prior), sigma_beta, sigma ~ N+(0, 1) (the example's); the radon counties "
        "(919 houses, 85 counties)."),
    "mixed_effects_clusters": Target(
        "mixed_effects_clusters", ["beta[1]", "alpha[1]", "sigma_gamma[1]", "sigma",
                                   "gamma[1]"], simulate_mixed_effects,
        "The varying-intercepts radon design (floor; 85 county intercepts). Priors: "
        "beta ~ N(0, 1) (beta_prior_sd = 1 instead of flat), alpha ~ N(0, 100^2), "
        "sigma_gamma, sigma ~ N+(0, 1) (the example's)."),
    "radon_intercepts_marginal": Target(
        "radon_intercepts_marginal", ["beta[1]", "beta_county[1]", "alpha", "sigma_gamma",
                                      "sigma", "gamma[1]"], simulate_radon_marginal,
        "The uranium radon design (floor; county log uranium; 85 counties). Priors: "
        "beta, beta_county ~ N(0, 1) (beta_prior_sd = 1 instead of flat), alpha ~ "
        "N(0, 100^2), sigma_gamma, sigma ~ N+(0, 1) (the example's)."),
    "rats_conjugate": Target(
        "rats_conjugate", ["birth_weight", "daily_gain", "sigma", "sd_alpha", "theta[1,1]"],
        simulate_rats, RATS_NOTE),
    "rats_marginal": Target(
        "rats_marginal", ["birth_weight", "daily_gain", "sigma", "sd_alpha", "theta[1,1]"],
        simulate_rats, RATS_NOTE),
    "rats_gibbs": Target(
        "rats_gibbs", ["birth_weight", "daily_gain", "sigma", "sd_alpha", "theta[1,1]"],
        simulate_rats, "The notes' Gibbs sampler (numpy, gibbs_rats.sample), one chain. "
        + RATS_NOTE, sampler=sample_rats_gibbs),
}
