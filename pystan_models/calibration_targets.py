"""The programs of the collection that simulation-based calibration can check.

SBC needs a proper prior, so each target fixes the data switches that make it so
(the weakly informative variant where the notes' prior is flat) and simulates
data of the example's own shape (its real design matrix or standard errors)
from exactly that prior.  Simulators are module-level functions: worker
processes import them.
"""
from __future__ import annotations

import numpy as np

from . import probit, schools
from .calibrate import Target

SCHOOL_SE = None
SEEDS_X = None


def _school_se() -> np.ndarray:
    global SCHOOL_SE
    if SCHOOL_SE is None:
        SCHOOL_SE = schools.load().se.to_numpy()
    return SCHOOL_SE


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


def _seeds_x() -> np.ndarray:
    global SEEDS_X
    if SEEDS_X is None:
        SEEDS_X = probit.design(probit.expand(probit.load()))
    return SEEDS_X


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


TARGETS = {
    "schools_noncentered": Target(
        "schools_noncentered", ["mu", "tau", "theta[1]"], simulate_schools,
        "Priors: mu ~ N(0, 5^2), tau ~ half-Cauchy(0, 5) (posteriordb's); the real "
        "standard errors."),
    "probit_regression": Target(
        "probit_regression", ["alpha", "beta[1]", "beta[2]", "beta[3]"], simulate_probit,
        "Priors: N(0, 1) on every coefficient; the seeds design (831 seeds)."),
    "logistic_regression": Target(
        "logistic_regression", ["alpha", "beta[1]", "beta[2]", "beta[3]"], simulate_logit,
        "Priors: N(0, 1) on every coefficient; the seeds design (831 seeds)."),
    "varying_intercept_logistic": Target(
        "varying_intercept_logistic", ["mu", "tau", "beta[1]"], simulate_varying_logistic,
        "The benchmark's model on 600 simulated rows in 20 groups."),
}
