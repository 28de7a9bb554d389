"""The notes' Gibbs sampler for the rats model (Gelfand et al. 1990, section 6),
compiled with numba.

Model: y_ij ~ N(x_ij' theta_i, sigma^2) with x_ij = (1, age_ij)', theta_i ~ N(theta_0,
Sigma), sigma^2 ~ IG(a, b), theta_0 ~ N(eta, C), Sigma ~ Inv-Wishart(rho R, rho).
Every full conditional is closed-form (k rats, n weighings):

* theta_i | . ~ N(D_i d_i, D_i),  D_i^-1 = X_i'X_i / sigma^2 + Sigma^-1,
  d_i = X_i'y_i / sigma^2 + Sigma^-1 theta_0
* theta_0 | . ~ N(V (k Sigma^-1 theta_bar + C^-1 eta), V),  V^-1 = k Sigma^-1 + C^-1
* Sigma | . ~ Inv-Wishart(sum_i (theta_i - theta_0)(theta_i - theta_0)' + rho R, k + rho)
* sigma^2 | . ~ IG(a + n / 2, b + sum_ij (y_ij - x_ij' theta_i)^2 / 2)

Each ``*_conditional`` function returns the parameters of one full conditional, so
the tests can check them against independent formulas; :func:`step` draws from
them in turn and :func:`run_chain` repeats it.  Per-rat sufficient statistics
(X_i'X_i, X_i'y_i) make the theta_i step k 2 x 2 problems, whatever the number of
weighings per rat.  The functions are plain loops over the conditionals, compiled
by numba (``@njit(cache=True)``: the compile, a few seconds, is paid once per
machine and kept in numba's cache); a numpy version spent its time in numpy's
per-call overhead on 2 x 2 arrays, not in the mathematics.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from .errors import PystanModelsError
from .fitting import Fit, RunOptions, from_draws, gibbs_fit, run_chains

NAME = "rats_gibbs"   # how reports and the benchmark name the sampler
SAMPLER = "Gibbs (numba)"
# the quantities diagnosed by default: those the Stan programs write too
DERIVED = ["birth_weight", "daily_gain", "sigma", "sd_alpha", "sd_beta", "corr_theta"]


class Known(NamedTuple):
    """The known hyperparameters as the compiled conditionals take them."""
    a: float
    b: float
    eta: np.ndarray      # (2,)
    C_inv: np.ndarray    # (2, 2): C^-1
    rho: float
    rho_R: np.ndarray    # (2, 2): rho R


@dataclass(frozen=True)
class Hyper:
    """Known hyperparameters: sigma^2 ~ IG(a, b), theta_0 ~ N(eta, C),
    Sigma ~ Inv-Wishart(rho R, rho), so that E[Sigma^-1] = R^-1."""
    a: float
    b: float
    eta: tuple
    C: tuple
    rho: float
    R: tuple

    def __post_init__(self):
        for name in ("a", "b"):
            if not getattr(self, name) > 0:
                raise PystanModelsError(f"hyperparameter {name} must be positive "
                                        f"(got {getattr(self, name)})")
        if not self.rho > 1:
            raise PystanModelsError(f"hyperparameter rho must exceed 1, the dimension "
                                    f"minus one, for a proper inverse Wishart (got {self.rho})")
        if np.shape(self.eta) != (2,) or not np.all(np.isfinite(self.eta)):
            raise PystanModelsError(f"hyperparameter eta must be 2 finite numbers "
                                    f"(got {self.eta})")
        for name in ("C", "R"):
            m = np.asarray(getattr(self, name), dtype=float)
            if (m.shape != (2, 2) or not np.all(np.isfinite(m)) or not np.allclose(m, m.T)
                    or np.linalg.eigvalsh(m).min() <= 0):
                raise PystanModelsError(f"hyperparameter {name} must be a symmetric "
                                        f"positive-definite 2 x 2 matrix (got {m.tolist()})")

    def known(self) -> Known:
        return Known(float(self.a), float(self.b), np.array(self.eta, dtype=float),
                     np.linalg.inv(np.array(self.C, dtype=float)), float(self.rho),
                     self.rho * np.array(self.R, dtype=float))


class Design(NamedTuple):
    """Data in the form the sampler needs: rat index (0-based), ages, weights and
    per-rat sufficient statistics.  Any design: rats (a user's groups) may have
    different numbers of weighings at different ages (one weighing is enough;
    the theta_i step uses only X_i'X_i and X_i'y_i, the sigma^2 step every row),
    so the formula path's y ~ x + (x | g) data go in as they are."""
    rat: np.ndarray      # (n,) ints in 0..k-1
    x: np.ndarray        # (n,) age
    y: np.ndarray        # (n,) weight
    XtX: np.ndarray      # (k, 2, 2)
    Xty: np.ndarray      # (k, 2)

    @classmethod
    def of(cls, rat, x, y, k: int) -> "Design":
        rat = np.asarray(rat, dtype=np.int64)
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        X = np.column_stack([np.ones_like(x), x])
        XtX = np.zeros((k, 2, 2))
        Xty = np.zeros((k, 2))
        np.add.at(XtX, rat, X[:, :, None] * X[:, None, :])
        np.add.at(Xty, rat, X * y[:, None])
        return cls(rat, x, y, XtX, Xty)

    @property
    def k(self) -> int:
        return len(self.XtX)

    def compiled(self) -> "Design":
        """The same design with the exact array types the compiled code was built
        for (one compile serves every data set)."""
        return Design(*(np.ascontiguousarray(v, dtype=np.int64 if name == "rat" else float)
                        for name, v in zip(self._fields, self)))


# --- 2 x 2 algebra -------------------------------------------------------------
# Every matrix here is 2 x 2 (a rat's D_i, Sigma, V): closed forms, compiled.

@njit(cache=True)
def inv2(M: np.ndarray) -> np.ndarray:
    """Inverse of a 2 x 2 matrix."""
    det = M[0, 0] * M[1, 1] - M[0, 1] * M[1, 0]
    out = np.empty((2, 2))
    out[0, 0], out[0, 1] = M[1, 1] / det, -M[0, 1] / det
    out[1, 0], out[1, 1] = -M[1, 0] / det, M[0, 0] / det
    return out


@njit(cache=True)
def chol2(M: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a symmetric positive-definite 2 x 2 matrix."""
    l11 = np.sqrt(M[0, 0])
    l21 = M[1, 0] / l11
    out = np.zeros((2, 2))
    out[0, 0], out[1, 0] = l11, l21
    out[1, 1] = np.sqrt(M[1, 1] - l21 ** 2)
    return out


@njit(cache=True)
def matvec2(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.array([M[0, 0] * v[0] + M[0, 1] * v[1], M[1, 0] * v[0] + M[1, 1] * v[1]])


# --- full conditionals --------------------------------------------------------
# Each takes one chain's current state and returns the parameters of one full
# conditional; the sampler below draws from them in turn.

@njit(cache=True)
def theta_conditional(d: Design, sigma_sq: float, Sigma_inv: np.ndarray,
                      theta_0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean D_i d_i (k, 2) and covariance D_i (k, 2, 2) of every theta_i."""
    k = len(d.XtX)
    prior = matvec2(Sigma_inv, theta_0)                  # Sigma^-1 theta_0
    mean, cov = np.empty((k, 2)), np.empty((k, 2, 2))
    for i in range(k):   # written out in scalars: no temporary arrays per rat
        # D_i^-1 = X_i'X_i / sigma^2 + Sigma^-1 = [[p, q], [q, r]], and its inverse D_i
        p = d.XtX[i, 0, 0] / sigma_sq + Sigma_inv[0, 0]
        q = d.XtX[i, 0, 1] / sigma_sq + Sigma_inv[0, 1]
        r = d.XtX[i, 1, 1] / sigma_sq + Sigma_inv[1, 1]
        det = p * r - q * q
        cov[i, 0, 0], cov[i, 1, 1] = r / det, p / det
        cov[i, 0, 1] = cov[i, 1, 0] = -q / det
        # d_i = X_i'y_i / sigma^2 + Sigma^-1 theta_0, and the mean D_i d_i
        d0 = d.Xty[i, 0] / sigma_sq + prior[0]
        d1 = d.Xty[i, 1] / sigma_sq + prior[1]
        mean[i, 0] = cov[i, 0, 0] * d0 + cov[i, 0, 1] * d1
        mean[i, 1] = cov[i, 1, 0] * d0 + cov[i, 1, 1] * d1
    return mean, cov


@njit(cache=True)
def theta_0_conditional(theta: np.ndarray, Sigma_inv: np.ndarray, h: Known
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Mean V (k Sigma^-1 theta_bar + C^-1 eta) and covariance V of theta_0."""
    k = len(theta)
    V = inv2(k * Sigma_inv + h.C_inv)
    v = matvec2(Sigma_inv, theta.sum(axis=0)) + matvec2(h.C_inv, h.eta)
    return matvec2(V, v), V


@njit(cache=True)
def Sigma_conditional(theta: np.ndarray, theta_0: np.ndarray, h: Known
                      ) -> tuple[float, np.ndarray]:
    """Degrees of freedom and scale of the inverse Wishart."""
    scale = h.rho_R.copy()
    for i in range(len(theta)):
        e0, e1 = theta[i, 0] - theta_0[0], theta[i, 1] - theta_0[1]
        scale[0, 0] += e0 * e0
        scale[0, 1] += e0 * e1
        scale[1, 0] += e0 * e1
        scale[1, 1] += e1 * e1
    return len(theta) + h.rho, scale


@njit(cache=True)
def sigma_sq_conditional(d: Design, theta: np.ndarray, h: Known) -> tuple[float, float]:
    """Shape and scale of the inverse gamma."""
    ssr = 0.0
    for j in range(len(d.y)):
        ssr += (d.y[j] - theta[d.rat[j], 0] - theta[d.rat[j], 1] * d.x[j]) ** 2
    return h.a + len(d.y) / 2, h.b + ssr / 2


# --- the sampler ----------------------------------------------------------------

@njit(cache=True)
def draw_normal(rng: np.random.Generator, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """One draw from each of a stack of bivariate normals, mean (m, 2) and cov
    (m, 2, 2): mean + L z, with L the lower Cholesky factor of cov, z ~ N(0, I)."""
    out = np.empty(mean.shape)
    for i in range(len(mean)):
        l11 = np.sqrt(cov[i, 0, 0])
        l21 = cov[i, 1, 0] / l11
        l22 = np.sqrt(cov[i, 1, 1] - l21 ** 2)
        z1, z2 = rng.standard_normal(), rng.standard_normal()
        out[i, 0] = mean[i, 0] + l11 * z1
        out[i, 1] = mean[i, 1] + l21 * z1 + l22 * z2
    return out


@njit(cache=True)
def draw_inv_wishart(rng: np.random.Generator, df: float, scale: np.ndarray) -> np.ndarray:
    """One 2 x 2 draw from Inv-Wishart(scale, df), density proportional to
    |S|^-(df+3)/2 exp(-tr(scale S^-1) / 2), as in Stan and scipy.

    Bartlett's construction of W = S^-1 ~ Wishart(scale^-1, df): W = L A A' L' with
    L L' = scale^-1, A lower triangular, A_jj^2 ~ chi^2(df - j + 1), A_21 ~ N(0, 1).
    """
    L = chol2(inv2(scale))
    a11 = np.sqrt(rng.chisquare(df))
    a22 = np.sqrt(rng.chisquare(df - 1))
    a21 = rng.standard_normal()
    # B = L A, lower triangular, and W = B B'
    b11, b21, b22 = L[0, 0] * a11, L[1, 0] * a11 + L[1, 1] * a21, L[1, 1] * a22
    W = np.empty((2, 2))
    W[0, 0], W[1, 1] = b11 * b11, b21 * b21 + b22 * b22
    W[0, 1] = W[1, 0] = b11 * b21
    return inv2(W)


@njit(cache=True)
def step(rng: np.random.Generator, d: Design, h: Known, theta_0: np.ndarray,
         Sigma: np.ndarray, sigma_sq: float):
    """One sweep in the notes' order: theta_i, theta_0, Sigma, sigma^2."""
    Sigma_inv = inv2(Sigma)
    theta = draw_normal(rng, *theta_conditional(d, sigma_sq, Sigma_inv, theta_0))
    mean, V = theta_0_conditional(theta, Sigma_inv, h)
    theta_0 = draw_normal(rng, mean.reshape(1, 2), V.reshape(1, 2, 2))[0]
    Sigma = draw_inv_wishart(rng, *Sigma_conditional(theta, theta_0, h))
    shape, scale = sigma_sq_conditional(d, theta, h)
    sigma_sq = scale / rng.gamma(shape)
    return theta, theta_0, Sigma, sigma_sq


@njit(cache=True, nogil=True)   # nogil: chains run in threads at once
def run_chain(rng: np.random.Generator, d: Design, h: Known, theta_0: np.ndarray,
              Sigma: np.ndarray, sigma_sq: float, iter_warmup: int, theta_out: np.ndarray,
              theta_0_out: np.ndarray, Sigma_out: np.ndarray, sigma_sq_out: np.ndarray):
    """One chain from (theta_0, Sigma, sigma_sq): ``iter_warmup`` sweeps dropped, then
    one kept per row of the ``*_out`` arrays, written in place."""
    for it in range(iter_warmup + len(sigma_sq_out)):
        theta, theta_0, Sigma, sigma_sq = step(rng, d, h, theta_0, Sigma, sigma_sq)
        if it >= iter_warmup:
            kept = it - iter_warmup
            theta_out[kept], theta_0_out[kept] = theta, theta_0
            Sigma_out[kept], sigma_sq_out[kept] = Sigma, sigma_sq


def sample(d: Design, h: Hyper, inits: list[dict], opts: RunOptions,
           coords: dict | None = None, main: list[str] | None = None) -> Fit:
    """One chain per element of ``inits`` (dicts with theta_0, Sigma, sigma_sq as
    given to Stan; ``opts.chains`` of them), run side by side, each with its
    own random stream spawned from ``opts.seed``; the first ``opts.iter_warmup``
    sweeps are dropped, ``opts.iter_sampling`` kept.  Returns the engine's Fit,
    diagnosed on ``main`` (default: the population quantities in
    :data:`DERIVED`); its seconds are the chains' wall time, warmup included
    (numba's one-time compile, or its load from numba's cache, is not)."""
    if len(inits) != opts.chains:
        raise PystanModelsError(f"the Gibbs sampler got {len(inits)} starting points "
                                f"for {opts.chains} chains")
    chains, kept = opts.chains, opts.iter_sampling
    d = d.compiled()
    known = h.known()
    out = {"theta": np.empty((chains, kept, d.k, 2)),
           "theta_0": np.empty((chains, kept, 2)),
           "Sigma": np.empty((chains, kept, 2, 2)),
           "sigma_sq": np.empty((chains, kept))}
    starts = [(np.array(i["theta_0"], dtype=float), np.array(i["Sigma"], dtype=float),
               float(i["sigma_sq"])) for i in inits]
    # compile (or load from numba's cache) before the clock starts: no sweeps
    run_chain(np.random.default_rng(0), d, known, *starts[0], 0,
              *(v[0, :0] for v in out.values()))
    seconds = run_chains(lambda c, rng: run_chain(rng, d, known, *starts[c], opts.iter_warmup,
                                                  *(v[c] for v in out.values())),
                         opts.seed, chains)
    out.update(derived(out["theta_0"], out["Sigma"], out["sigma_sq"]))
    dims = {"theta": ["rat", "coef"], "theta_0": ["coef"], "Sigma": ["coef", "coef_"]}
    idata = from_draws(out, coords, dims)
    return gibbs_fit(NAME, idata, seconds, main or DERIVED, opts, sampler=SAMPLER)


def derived(theta_0, Sigma, sigma_sq) -> dict:
    """The quantities the Stan program writes in generated quantities."""
    sd = np.sqrt(np.diagonal(Sigma, axis1=-2, axis2=-1))
    return {"birth_weight": theta_0[..., 0], "daily_gain": theta_0[..., 1],
            "sigma": np.sqrt(sigma_sq), "sd_alpha": sd[..., 0], "sd_beta": sd[..., 1],
            "corr_theta": Sigma[..., 0, 1] / (sd[..., 0] * sd[..., 1])}
