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
