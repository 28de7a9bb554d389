"""The notes' Gibbs sampler for the rats model (Gelfand et al. 1990, section 6), in numpy.

Model: y_ij ~ N(x_ij' theta_i, sigma^2) with x_ij = (1, age_ij)', theta_i ~ N(theta_0,
Sigma), sigma^2 ~ IG(a, b), theta_0 ~ N(eta, C), Sigma ~ Inv-Wishart(rho R, rho).
Every full conditional is closed-form (k rats, n weighings):

* theta_i | . ~ N(D_i d_i, D_i),  D_i^-1 = X_i'X_i / sigma^2 + Sigma^-1,
  d_i = X_i'y_i / sigma^2 + Sigma^-1 theta_0          (all rats at once)
* theta_0 | . ~ N(V (k Sigma^-1 theta_bar + C^-1 eta), V),  V^-1 = k Sigma^-1 + C^-1
* Sigma | . ~ Inv-Wishart(sum_i (theta_i - theta_0)(theta_i - theta_0)' + rho R, k + rho)
* sigma^2 | . ~ IG(a + n / 2, b + sum_ij (y_ij - x_ij' theta_i)^2 / 2)

Each ``*_conditional`` function returns the parameters of one full conditional, so
the tests can check them against independent formulas; :func:`sample` draws from
them in turn.  Per-rat sufficient statistics (X_i'X_i, X_i'y_i) make the theta_i
step a batch of 2 x 2 problems, whatever the number of weighings per rat.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import arviz as az
import numpy as np

from .errors import PystanModelsError
from .fitting import Fit, RunOptions, gibbs_fit

NAME = "rats_gibbs"   # how reports and the benchmark name the sampler
# the quantities diagnosed by default: those the Stan programs write too
DERIVED = ["birth_weight", "daily_gain", "sigma", "sd_alpha", "sd_beta", "corr_theta"]


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


@dataclass(frozen=True)
class Design:
    """Data in the form the sampler needs: rat index (0-based), ages, weights and
    per-rat sufficient statistics."""
    rat: np.ndarray      # (n,) ints in 0..k-1
    x: np.ndarray        # (n,) age
    y: np.ndarray        # (n,) weight
    XtX: np.ndarray      # (k, 2, 2)
    Xty: np.ndarray      # (k, 2)

    @classmethod
    def of(cls, rat, x, y, k: int) -> "Design":
        rat, x, y = np.asarray(rat), np.asarray(x, float), np.asarray(y, float)
        X = np.column_stack([np.ones_like(x), x])
        XtX = np.zeros((k, 2, 2))
        Xty = np.zeros((k, 2))
        np.add.at(XtX, rat, X[:, :, None] * X[:, None, :])
        np.add.at(Xty, rat, X * y[:, None])
        return cls(rat, x, y, XtX, Xty)

    @property
    def k(self) -> int:
        return len(self.XtX)


# --- 2 x 2 algebra on stacks ----------------------------------------------------
# Every matrix here is 2 x 2 (a rat's D_i, Sigma, V); closed forms on whole stacks
# cost a few array operations, where np.linalg's per-call overhead would dominate
# a sweep (they agree with np.linalg to rounding; see the tests).

def inv2(M: np.ndarray) -> np.ndarray:
    """Inverse of every 2 x 2 matrix in a stack."""
    a, b, c, d = M[..., 0, 0], M[..., 0, 1], M[..., 1, 0], M[..., 1, 1]
    det = a * d - b * c
    out = np.empty(M.shape)
    out[..., 0, 0], out[..., 0, 1] = d / det, -b / det
    out[..., 1, 0], out[..., 1, 1] = -c / det, a / det
    return out


def chol2(M: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of every symmetric positive-definite 2 x 2 matrix."""
    l11 = np.sqrt(M[..., 0, 0])
    l21 = M[..., 1, 0] / l11
    out = np.zeros(M.shape)
    out[..., 0, 0], out[..., 1, 0] = l11, l21
    out[..., 1, 1] = np.sqrt(M[..., 1, 1] - l21 ** 2)
    return out


# --- full conditionals --------------------------------------------------------
# Each takes the current state with any leading batch axes (chains run side by
# side); a single chain's state has none.

def theta_conditional(d: Design, sigma_sq, Sigma_inv: np.ndarray, theta_0: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Mean D_i d_i (..., k, 2) and covariance D_i (..., k, 2, 2) of every theta_i."""
    s2 = np.asarray(sigma_sq, dtype=float)[..., None, None, None]
    D = inv2(d.XtX / s2 + Sigma_inv[..., None, :, :])
    di = d.Xty / s2[..., 0] + (Sigma_inv @ theta_0[..., None])[..., None, :, 0]
    return np.einsum("...kab,...kb->...ka", D, di), D


def theta_0_conditional(theta: np.ndarray, Sigma_inv: np.ndarray, h: Hyper
                        ) -> tuple[np.ndarray, np.ndarray]:
    C_inv = inv2(np.asarray(h.C, dtype=float))
    V = inv2(theta.shape[-2] * Sigma_inv + C_inv)
    v = Sigma_inv @ theta.sum(-2)[..., None] + (C_inv @ np.asarray(h.eta))[:, None]
    return (V @ v)[..., 0], V


def Sigma_conditional(theta: np.ndarray, theta_0: np.ndarray, h: Hyper
                      ) -> tuple[float, np.ndarray]:
    """Degrees of freedom and scale of the inverse Wishart."""
    dev = theta - theta_0[..., None, :]
    return (theta.shape[-2] + h.rho,
            np.einsum("...ka,...kb->...ab", dev, dev) + h.rho * np.asarray(h.R))


def sigma_sq_conditional(d: Design, theta: np.ndarray, h: Hyper):
    """Shape and scale of the inverse gamma."""
    resid = d.y - theta[..., d.rat, 0] - theta[..., d.rat, 1] * d.x
    return h.a + len(d.y) / 2, h.b + (resid ** 2).sum(-1) / 2


# --- the sampler ----------------------------------------------------------------

def draw_normal(rng: np.random.Generator, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """One draw from each of a stack of multivariate normals."""
    L = chol2(cov)
    return mean + (L @ rng.standard_normal(mean.shape)[..., None])[..., 0]


def draw_inv_wishart(rng: np.random.Generator, df: float, scale: np.ndarray) -> np.ndarray:
    """One 2 x 2 draw from each of a stack of Inv-Wishart(scale, df), density
    proportional to |S|^-(df+3)/2 exp(-tr(scale S^-1) / 2), as in Stan and scipy.

    Bartlett's construction of W = S^-1 ~ Wishart(scale^-1, df): W = L A A' L' with
    L L' = scale^-1, A lower triangular, A_jj^2 ~ chi^2(df - j + 1), A_21 ~ N(0, 1).
    (scipy.stats.invwishart draws the same, but one scale matrix per call.)
    """
    batch = scale.shape[:-2]
    L = chol2(inv2(scale))
    A = np.zeros((*batch, 2, 2))
    A[..., 0, 0] = np.sqrt(rng.chisquare(df, batch))
    A[..., 1, 1] = np.sqrt(rng.chisquare(df - 1, batch))
    A[..., 1, 0] = rng.standard_normal(batch)
    LA = L @ A
    return inv2(LA @ np.swapaxes(LA, -1, -2))


def step(rng: np.random.Generator, d: Design, h: Hyper, theta_0, Sigma, sigma_sq):
    """One sweep in the notes' order: theta_i, theta_0, Sigma, sigma^2."""
    Sigma_inv = inv2(Sigma)
    theta = draw_normal(rng, *theta_conditional(d, sigma_sq, Sigma_inv, theta_0))
    theta_0 = draw_normal(rng, *theta_0_conditional(theta, Sigma_inv, h))
    Sigma = draw_inv_wishart(rng, *Sigma_conditional(theta, theta_0, h))
    shape, scale = sigma_sq_conditional(d, theta, h)
    sigma_sq = scale / rng.gamma(shape, size=np.shape(scale))
    return theta, theta_0, Sigma, sigma_sq


def sample(d: Design, h: Hyper, inits: list[dict], opts: RunOptions,
           coords: dict | None = None, main: list[str] | None = None) -> Fit:
    """One chain per element of ``inits`` (dicts with theta_0, Sigma, sigma_sq as
    given to Stan; ``opts.chains`` of them), all advanced together; the first
    ``opts.iter_warmup`` sweeps are dropped, ``opts.iter_sampling`` kept, from
    ``opts.seed``.  Returns the engine's Fit, diagnosed on ``main`` (default: the
    population quantities in :data:`DERIVED`); its seconds include warmup."""
    if len(inits) != opts.chains:
        raise PystanModelsError(f"the Gibbs sampler got {len(inits)} starting points "
                                f"for {opts.chains} chains")
    rng = np.random.default_rng(opts.seed)
    chains, kept = opts.chains, opts.iter_sampling
    out = {"theta": np.empty((chains, kept, d.k, 2)),
           "theta_0": np.empty((chains, kept, 2)),
           "Sigma": np.empty((chains, kept, 2, 2)),
           "sigma_sq": np.empty((chains, kept))}
    state = (None, *(np.array([i[name] for i in inits], dtype=float)
                     for name in ("theta_0", "Sigma", "sigma_sq")))
    start = time.perf_counter()
    for it in range(opts.iter_warmup + kept):
        state = step(rng, d, h, *state[1:])
        if it >= opts.iter_warmup:
            for name, value in zip(out, state):
                out[name][:, it - opts.iter_warmup] = value
    seconds = time.perf_counter() - start
    out.update(derived(out["theta_0"], out["Sigma"], out["sigma_sq"]))
    dims = {"theta": ["rat", "coef"], "theta_0": ["coef"], "Sigma": ["coef", "coef_"]}
    idata = az.from_dict(posterior=out, coords=coords, dims=dims)
    return gibbs_fit(NAME, idata, seconds, main or DERIVED, opts)


def derived(theta_0, Sigma, sigma_sq) -> dict:
    """The quantities the Stan program writes in generated quantities."""
    sd = np.sqrt(np.diagonal(Sigma, axis1=-2, axis2=-1))
    return {"birth_weight": theta_0[..., 0], "daily_gain": theta_0[..., 1],
            "sigma": np.sqrt(sigma_sq), "sd_alpha": sd[..., 0], "sd_beta": sd[..., 1],
            "corr_theta": Sigma[..., 0, 1] / (sd[..., 0] * sd[..., 1])}
