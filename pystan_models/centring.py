"""Centred or non-centred group effects: the one rule every example with group terms
uses on a user's data, stated in its report.

A group term's coefficients gamma_j ~ N(mu, tau^2) can be sampled as themselves
(centred) or as gamma_j = mu + tau z_j with z_j ~ N(0, 1) (non-centred). Which one
mixes depends on how much group j's own rows say about gamma_j against what the
population says: with I_j the information in group j's rows about gamma_j, its data
weight is w_j = I_j tau^2 / (1 + I_j tau^2). Papaspiliopoulos, Roberts & Skold (2007,
Statistical Science 22, 59-73) show that the centred sampler's convergence rate for
group j is 1 - w_j and the non-centred one's w_j, so the centred form suits
data-rich groups (w_j near 1: the non-centred form has a ridge) and the non-centred
form sparse ones (w_j near 0: the centred form has Neal's funnel); NUTS feels the
same two geometries. The rule: centred when the median group's weight is at least
one half, with tau estimated from the data by the method of moments (the spread of
the groups' own estimates less their sampling variance, DerSimonian & Laird 1986).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RULE = ("centred when the median group's data weight w = I tau^2 / (1 + I tau^2) is at "
        "least 0.5 (I: the information in a group's rows about its coefficient; tau: the "
        "groups' sd estimated from the data by the method of moments), non-centred "
        "otherwise (Papaspiliopoulos, Roberts & Skold 2007)")


@dataclass(frozen=True)
class Choice:
    term: str          # e.g. "1|county"
    centred: bool
    weight: float      # the median group's data weight
    tau: float         # the moment estimate of the groups' sd

    @property
    def sentence(self) -> str:
        form = "centred" if self.centred else "non-centred"
        return (f"{self.term}: {form} (median data weight {self.weight:.2f} with the groups' "
                f"sd estimated at {self.tau:.3g})")


def moment_tau(estimates, variances) -> float:
    """The groups' sd from their own estimates and those estimates' sampling variances
    (inverse-variance weighted DerSimonian-Laird), 0 when the spread is all noise."""
    est, var = np.asarray(estimates, float), np.asarray(variances, float)
    keep = np.isfinite(est) & np.isfinite(var) & (var > 0)
    est, var = est[keep], var[keep]
    if len(est) < 2:
        return 0.0
    w = 1 / var
    mean = np.sum(w * est) / np.sum(w)
    q = np.sum(w * (est - mean) ** 2)
    tau2 = (q - (len(est) - 1)) / (np.sum(w) - np.sum(w ** 2) / np.sum(w))
    return float(np.sqrt(max(tau2, 0.0)))


def choose(term: str, estimates, variances) -> Choice:
    """Centred or not for one group term's coefficient, from each group's own estimate
    of it and that estimate's sampling variance (1 / I_j; inf for a group whose rows
    say nothing about it)."""
    var = np.asarray(variances, float)
    tau = moment_tau(estimates, var)
    info = np.where(np.isfinite(var) & (var > 0), 1 / np.where(var > 0, var, 1), 0.0)
    weights = info * tau ** 2 / (1 + info * tau ** 2)
    weight = float(np.median(weights))
    return Choice(term, weight >= 0.5, weight, tau)


# --- each group's own estimate, for the examples' formula paths ----------------------

def group_estimates(resid, index, sigma: float, z=None):
    """Each group's least-squares estimate of its coefficient on ``z`` (None: its
    intercept, the group mean) from the residuals ``resid`` about the common terms'
    fit, and that estimate's variance: sigma^2 / n_j for the intercept, sigma^2 /
    S_zz,j for a slope (inf where the group's z has fewer than 2 distinct values).
    ``index``: each row's group, 1..J."""
    index, resid = np.asarray(index), np.asarray(resid, float)
    n = np.bincount(index)[1:]
    total = lambda v: np.bincount(index, v, minlength=len(n) + 1)[1:]  # noqa: E731
    if z is None:
        return total(resid) / n, sigma ** 2 / n
    z = np.asarray(z, float)
    dz = z - (total(z) / n)[index - 1]
    szz = total(dz * dz)
    flat = szz <= 1e-12 * n * np.mean(z * z)
    est = np.where(flat, np.nan, total(dz * resid) / np.where(flat, 1, szz))
    return est, np.where(flat, np.inf, sigma ** 2 / np.where(flat, 1, szz))


def gaussian(term: str, y, F, index, z=None) -> Choice:
    """:func:`choose` for a gaussian group term: the groups' estimates
    (:func:`group_estimates`) from y's residuals about its least-squares fit on the
    common terms' columns ``F`` (intercept column included; none: y itself), sigma
    the residual sd."""
    y = np.asarray(y, float)
    F = np.asarray(F, float).reshape(len(y), -1)
    resid, rank = y, 0
    if F.shape[1]:
        resid = y - F @ np.linalg.lstsq(F, y, rcond=None)[0]
        rank = np.linalg.matrix_rank(F)
    sigma = float(np.sqrt(resid @ resid / max(len(y) - rank, 1)))
    return choose(term, *group_estimates(resid, index, sigma, z))


def poisson(term: str, y, mu, index) -> Choice:
    """:func:`choose` for a Poisson group intercept: each group's log rate about the
    common terms' Poisson fit ``mu`` (each row's fitted mean, exposure included),
    log((sum y + 0.5) / sum mu), with variance 1 / (sum y + 0.5)."""
    index = np.asarray(index)
    count = np.bincount(index, np.asarray(y, float))[1:] + 0.5
    return choose(term, np.log(count / np.bincount(index, np.asarray(mu, float))[1:]),
                  1 / count)


def binomial(term: str, y, trials, p, index) -> Choice:
    """:func:`choose` for a logistic group intercept: each group's one-step estimate
    of its intercept's shift from the common terms' fit ``p`` (each row's fitted
    probability), its score over its information sum(y - n p) / sum(n p (1 - p)),
    with variance 1 / information."""
    index, n, p = np.asarray(index), np.asarray(trials, float), np.asarray(p, float)
    info = np.bincount(index, n * p * (1 - p))[1:]
    score = np.bincount(index, np.asarray(y, float) - n * p)[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        return choose(term, score / info, 1 / info)


def table(choices) -> "pd.DataFrame":
    """The choices as a results table: one row per group term."""
    import pandas as pd
    return pd.DataFrame(
        [(c.term, "centred" if c.centred else "non-centred", c.weight, c.tau)
         for c in choices],
        columns=["term", "form", "median data weight", "groups' sd (moment estimate)"])


def text(choices) -> str:
    """The report's paragraph: one sentence per group term, then the rule."""
    return ("Group effects sampled centred or non-centred, one choice per group term: "
            + "; ".join(c.sentence for c in choices) + f". The rule: {RULE}.")
