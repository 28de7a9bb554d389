"""Probit as a latent variable model: NUTS vs Albert-Chib Gibbs, vs logit.

Data: Crowder (1978) Orobanche seed germination, the BUGS "Seeds" example: 21
plates in a 2 x 2 design (seed type x root extract), germinated out of total.
Each plate is expanded to one Bernoulli row per seed (831 seeds, 424
germinated) with predictors seed_type, root_extract and their product.  The
expansion loses nothing for a GLM (the Bernoulli and binomial likelihoods differ
by a constant) and gives the per-seed latent variables u_i the notes' Gibbs
sampler needs.  Plate-to-plate overdispersion, which the BUGS example models
with random effects, is ignored here; the report's plate-level check shows it.

The notes' representation: u_i ~ N(alpha + x_i' beta, 1), y_i = 1 if u_i > 0.
Stan integrates u out (y_i ~ Bernoulli(Phi(.))); the Gibbs sampler (Albert &
Chib 1993) draws u | beta, y from truncated normals and beta | u from its
conjugate normal.  Both use the prior alpha, beta_k ~ N(0, 10^2), so they
target the same posterior.  The logit fit of the same data shows the usual
factor of about 1.6 between logit and probit coefficients.
"""
from __future__ import annotations

import dataclasses
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from numba import njit
from scipy.special import ndtr

from . import cli, formula, predict, programs, report
from .data import FRAME, Column, check_rows, data_file, prepare, read_table
from .errors import DataError, PystanModelsError
from .fitting import (MCSE_NOTE, Fit, RunOptions, diagnostics, draws, efficiency_table,
                      from_draws, gibbs_fit, mcse, mcse_comparison, reference, replayable,
                      run_chains, run_options, sample, say, stacked)
from .predictive import replicate
from .results import Results

DATA = data_file("seeds.csv")
COLUMNS = [Column("plate", "int"), Column("germinated", "count"),
           Column("total", "count", positive=True), Column("seed_type", "binary"),
           Column("root_extract", "binary")]
PREDICTORS = ["seed_type", "root_extract", "seed_type:root_extract"]
# The four seed type x root extract cells, as rows of the predictor matrix.
CELLS = pd.DataFrame({"seed_type": [0, 0, 1, 1], "root_extract": [0, 1, 0, 1]},
                     index=["aegyptiaca 75, bean", "aegyptiaca 75, cucumber",
                            "aegyptiaca 73, bean", "aegyptiaca 73, cucumber"])
PARAMS = ["alpha", "beta"]
GIBBS = "probit_gibbs"   # the Gibbs sampler's name as a program
SAMPLER = "Albert-Chib Gibbs (numba)"
PRIOR_SD = 10.0
# the programs this example fits (compiled together when the cache lacks them)
PROGRAMS = ("probit_regression", "logistic_regression")
# the outcome's kind, for the report's predictive checks (report.predictive_checks)
OUTCOME = "binomial"
DEFAULTS = RunOptions()
TITLE = "Probit as a latent variable model: NUTS, Gibbs and the logit"
# Two correct samplers of one posterior: (difference of their estimates) / (combined
# Monte Carlo standard error) is about N(0, 1).  Beyond this many the answer says the
# samplers disagree (a false alarm about once in 16,000 comparisons).
AGREE_MCSE = 4.0
# What the answer calls "the usual factor" between logit and probit coefficients.
USUAL_RATIO = (1.5, 1.9)
# Why a maximum-likelihood estimate may not exist, in the seeds' terms and in general.
NO_MLE = "(a cell without seeds, or one where all or none germinated)"
NO_MLE_FORMULA = ("(the outcomes are separated: some combination of the terms predicts "
                  "them perfectly)")
# At most this many covariate patterns get fitted probabilities (p_new) for a formula.
MAX_PATTERNS = 20
# Binomial rows are expanded to at most this many Bernoulli rows (the programs and the
# Gibbs sampler take 0/1 rows, one latent u_i each).
MAX_ROWS = 2_000_000
# What the report calls "next to the MLE": every posterior mean within this many
# posterior sds of the maximum-likelihood estimate.
NEAR_MLE_SD = 0.25


# ---------------------------------------------------------------- data

def _check(frame: pd.DataFrame, source: str) -> None:
    check_rows(source, frame, "germinated", frame.germinated > frame.total,
               "more seeds germinated than were on the plate (column 'total')")
    check_rows(source, frame, "plate", frame.plate.duplicated(), "plate listed twice")


def load(data=DATA) -> pd.DataFrame:
    """The validated plates: ``data`` is a CSV path (default: Crowder's 21 plates) or
    a DataFrame with columns plate, germinated, total, seed_type, root_extract."""
    return prepare(data, DATA, COLUMNS, _check)


def expand(plates: pd.DataFrame) -> pd.DataFrame:
    """One row per seed: plate, seed_type, root_extract, germinated (0/1)."""
    rows = plates.loc[plates.index.repeat(plates.total)]
    # within a plate, the first `germinated` seeds are the ones that germinated
    rank = rows.groupby("plate").cumcount()
    return pd.DataFrame({"plate": rows.plate.to_numpy(),
                         "seed_type": rows.seed_type.to_numpy(),
                         "root_extract": rows.root_extract.to_numpy(),
                         "germinated": (rank.to_numpy() < rows.germinated.to_numpy()).astype(int)})


def design(frame: pd.DataFrame) -> np.ndarray:
    """Predictor matrix (no intercept column): seed_type, root_extract, product."""
    s, r = frame.seed_type.to_numpy(float), frame.root_extract.to_numpy(float)
    return np.column_stack([s, r, s * r])


def stan_data(seeds: pd.DataFrame, prior_sd: float = PRIOR_SD, *, prior_only: bool = False,
              pointwise: bool = False) -> dict:
    """The collection's data contract, for both programs: ``X`` the seeds' design
    matrix (no intercept column), ``y`` germinated (0/1), ``X_new`` the four cells.

    ``pointwise``: also write log_lik and y_rep per seed (2 x 831 values per draw,
    which would dominate the sampling time the efficiency comparison measures);
    ``prior_only``: leave the likelihood out (prior predictive draws)."""
    return program_data(design(seeds), seeds.germinated, prior_sd, design(CELLS),
                        prior_only=prior_only, pointwise=pointwise)


def program_data(x, y, prior_sd: float, x_new, *, prior_only: bool = False,
                 pointwise: bool = False) -> dict:
    """Both programs' data from a design matrix ``x`` (no intercept column), 0/1
    outcomes ``y`` and the covariate patterns ``x_new`` to predict."""
    x, x_new = np.asarray(x, dtype=float), np.asarray(x_new, dtype=float)
    return {"N": len(x), "K": x.shape[1], "X": x.tolist(),
            "y": np.asarray(y).astype(int).tolist(), "prior_sd": float(prior_sd),
            "G": len(x_new), "X_new": x_new.tolist(),
            "prior_only": int(prior_only), "pointwise": int(pointwise)}


# ---------------------------------------------------------------- Gibbs sampler
# Plain loops compiled by numba (@njit(cache=True): compiled once per machine and
# kept in numba's cache); numpy spent this sampler's time in per-call overhead.

# Wichura (1988), algorithm AS 241 (PPND16): Phi^-1 to about 1e-16.
_A = (3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3,
      1.3731693765509461125e4, 4.5921953931549871457e4, 6.7265770927008700853e4,
      3.3430575583588128105e4, 2.5090809287301226727e3)
_B = (1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
      2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4,
      5.2264952788528545610e3)
_C = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
      3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
      2.27238449892691845833e-2, 7.74545014278341407640e-4)
_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
      1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
      1.05075007164441684324e-9)
_E = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
      2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
      2.71155556874348757815e-5, 2.01033439929228813265e-7)
_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
      7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
      2.04426310338993978564e-15)
# below Phi(-TAIL) the inverse CDF loses precision; exponential rejection takes over
TAIL = 5.0


@njit(cache=True)
def _poly(c, x):
    out = c[7]
    for j in range(6, -1, -1):
        out = out * x + c[j]
    return out


@njit(cache=True)
def ndtri(p: float) -> float:
    """Phi^-1(p), the standard normal quantile, for 0 < p < 1 (AS 241)."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        return q * _poly(_A, r) / _poly(_B, r)
    r = math.sqrt(-math.log(p if q < 0 else 1.0 - p))
    if r <= 5.0:
        z = _poly(_C, r - 1.6) / _poly(_D, r - 1.6)
    else:
        z = _poly(_E, r - 5.0) / _poly(_F, r - 5.0)
    return -z if q < 0 else z


@njit(cache=True)
def std_normal_cdf(x: float) -> float:
    """Phi(x), the standard normal distribution function."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@njit(cache=True)
def latent_draw(rng: np.random.Generator, mu: float, s: float, p: float) -> float:
    """u ~ N(mu, 1) truncated to u > 0 (s = 1, y = 1) or u <= 0 (s = -1, y = 0),
    given p = Phi(s mu), its probability before truncation.

    s (mu - u) is a standard normal truncated above at s mu, so by the inverse CDF
    u = mu - s Phi^-1(U p), U ~ Uniform(0, 1].  Deep in the tail (s mu < -TAIL) p
    is too small for that: then z = s (u - mu) is a standard normal truncated below
    at a = -s mu, drawn exactly by Robert's (1995) exponential rejection, which
    almost always accepts at once there.
    """
    if s * mu >= -TAIL:
        # U p < 1 (U p = 1 only when p rounds to 1, where the truncation is nil)
        return mu - s * ndtri(min((1.0 - rng.random()) * p, 1.0 - 2.0 ** -53))
    a = -s * mu
    rate = 0.5 * (a + math.sqrt(a * a + 4.0))
    while True:
        z = a + rng.standard_exponential() / rate
        if rng.random() <= math.exp(-0.5 * (z - rate) ** 2):
            return mu + s * z


@njit(cache=True)
def truncated_latent(mu: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """u_i ~ N(mu_i, 1) truncated to u_i > 0 if y_i = 1 and to u_i <= 0 if y_i = 0."""
    u = np.empty(len(mu))
    for i in range(len(mu)):
        s = 2.0 * y[i] - 1.0
        u[i] = latent_draw(rng, mu[i], s, std_normal_cdf(s * mu[i]))
    return u


@njit(cache=True, nogil=True)   # nogil: chains run in threads at once
def run_chain(rng: np.random.Generator, w: np.ndarray, s: np.ndarray, count: np.ndarray,
              proj: np.ndarray, chol: np.ndarray, b: np.ndarray, iter_warmup: int,
              draws: np.ndarray) -> None:
    """Albert-Chib sweeps from ``b``: ``iter_warmup`` dropped, then one kept per
    row of ``draws``.

    The seeds come in groups of equal (w_i, y_i): row g of ``w`` and ``s`` (= 2 y - 1)
    stands for count[g] seeds, whose u_i share one truncated normal; b | u needs
    only W'u = sum_g w_g (sum of the group's u_i), and ``proj`` = V W_g' maps the
    groups' sums to its mean."""
    G, k = w.shape
    sums, z = np.empty(G), np.empty(k)
    for it in range(iter_warmup + len(draws)):
        # u | b, y: independent truncated normals, summed by group
        for g in range(G):
            mu = 0.0
            for j in range(k):
                mu += w[g, j] * b[j]
            p = std_normal_cdf(s[g] * mu)
            total = 0.0
            for _ in range(count[g]):
                total += latent_draw(rng, mu, s[g], p)
            sums[g] = total
        # b | u ~ N(V W'u, V), V = chol chol'
        for j in range(k):
            z[j] = rng.standard_normal()
        b = proj @ sums + chol @ z
        if it >= iter_warmup:
            draws[it - iter_warmup] = b


@replayable(GIBBS)
def gibbs_probit(x, y, prior_sd: float = PRIOR_SD, opts: RunOptions = DEFAULTS,
                 x_new=None, *, predictors=None, cells=None) -> Fit:
    """Albert & Chib (1993) data augmentation for probit regression.

    Model: u_i ~ N(w_i' b, 1), y_i = 1{u_i > 0}, w_i = (1, x_i), b = (alpha, beta),
    prior b ~ N(0, prior_sd^2 I).  Each sweep draws
      u | b, y  from truncated normals (:func:`latent_draw`), then
      b | u     ~ N(V W'u, V),  V = (W'W + I / prior_sd^2)^-1
    (the prior mean is 0, so the B0^-1 b0 term vanishes).  Chains start from
    independent N(0, 1) draws; the first ``opts.iter_warmup`` sweeps are discarded.
    Returns the engine's :class:`Fit` (no CmdStan fit), diagnosed like NUTS; its
    ``seconds`` is the wall time of all chains, run side by side.  ``predictors``
    and ``cells`` name the columns of x and the rows of x_new (default: the
    seeds' names).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y)
    if x.ndim != 2:
        raise DataError(f"gibbs_probit: x must be a matrix, got shape {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"gibbs_probit: x has {len(x)} rows but y has {y.size} values")
    if not np.all(np.isfinite(x)):
        raise DataError(f"gibbs_probit: x has {int((~np.isfinite(x)).sum())} non-finite "
                        f"value(s) (first in row {int(np.argwhere(~np.isfinite(x))[0, 0]) + 1})")
    if not np.isin(y, [0, 1]).all():
        bad = int(np.flatnonzero(~np.isin(y, [0, 1]))[0])
        raise DataError(f"gibbs_probit: y must be 0 or 1; row {bad + 1} is {y[bad].item()!r}")
    if not (np.isfinite(prior_sd) and prior_sd > 0):
        raise DataError(f"gibbs_probit: prior_sd must be positive, got {prior_sd}")
    y = y.astype(float)
    w = np.column_stack([np.ones(len(x)), x])
    k = w.shape[1]
    cov = np.linalg.inv(w.T @ w + np.eye(k) / prior_sd**2)
    chol = np.linalg.cholesky(cov)
    # seeds with the same predictors and outcome share their latent's conditional
    rows, count = np.unique(np.column_stack([w, y]), axis=0, return_counts=True)
    w_g, s_g = np.ascontiguousarray(rows[:, :k]), 2.0 * rows[:, k] - 1.0
    proj = np.ascontiguousarray(cov @ w_g.T)    # b | u has mean proj @ (group sums of u)
    count = count.astype(np.int64)
    draws = np.empty((opts.chains, opts.iter_sampling, k))
    # compile (or load from numba's cache) before the clock starts: no sweeps
    run_chain(np.random.default_rng(0), w_g, s_g, count, proj, chol, np.zeros(k), 0,
              draws[0, :0])
    seconds = run_chains(lambda c, rng: run_chain(rng, w_g, s_g, count, proj, chol,
                                                  rng.normal(size=k), opts.iter_warmup,
                                                  draws[c]), opts.seed, opts.chains)
    posterior = {"alpha": draws[..., 0], "beta": draws[..., 1:]}
    coords = {"predictor": list(PREDICTORS[:k - 1] if predictors is None else predictors)}
    dims = {"beta": ["predictor"]}
    if x_new is not None:
        w_new = np.column_stack([np.ones(len(x_new)), np.asarray(x_new, dtype=float)])
        posterior["p_new"] = ndtr(draws @ w_new.T)
        coords["cell"] = list(CELLS.index[:len(w_new)] if cells is None else cells)
        dims["p_new"] = ["cell"]
    idata = from_draws(posterior, coords, dims)
    return gibbs_fit(GIBBS, idata, seconds, PARAMS, opts,
                     sampler=SAMPLER)


# ---------------------------------------------------------------- fits

def fit_all(seeds: pd.DataFrame, opts: RunOptions, prior_sd: float = PRIOR_SD
            ) -> dict[str, Fit]:
    """NUTS probit, NUTS logit and Gibbs probit on the same data and prior."""
    return fit_programs(stan_data(seeds, prior_sd), PREDICTORS, list(CELLS.index), opts)


def fit_programs(data: dict, predictors: list[str], cells: list[str], opts: RunOptions
                 ) -> dict[str, Fit]:
    """The three fits of :func:`fit_all` on the programs' ``data`` (see
    :func:`program_data`), columns named ``predictors``, patterns ``cells``."""
    coords = {"predictor": list(predictors), "cell": list(cells),
              "seed": np.arange(data["N"])}
    dims = {"beta": ["predictor"], "p_new": ["cell"], "y": ["seed"]}
    fits = {}
    for name, program in [("probit NUTS", "probit_regression"),
                          ("logit NUTS", "logistic_regression")]:
        fits[name] = replicate(  # after sampling: the timings compared stay as sampled
            sample(program, data, opts, main=PARAMS, observed={"y": data["y"]},
                   coords=coords, dims=dict(dims)), data, {"y": data["y"]}, opts.seed)
    say(opts, f"Gibbs sampling: {opts.chains} chains x ({opts.iter_warmup} warmup + "
              f"{opts.iter_sampling} draws)")
    fits["probit Gibbs"] = gibbs_probit(data["X"], data["y"], data["prior_sd"], opts,
                                        x_new=data["X_new"], predictors=predictors,
                                        cells=cells)
    return fits


def mle(seeds: pd.DataFrame, link: str = "probit") -> pd.DataFrame:
    """Maximum-likelihood estimates and standard errors (statsmodels Probit/Logit);
    NaN when they do not exist (a design of lower rank, or separated outcomes)."""
    return ml_fit(design(seeds), seeds.germinated.to_numpy(), link, row_names())


@reference
def ml_fit(x, y, link: str, index: list[str]) -> pd.DataFrame:
    """:func:`mle` for a design matrix ``x`` (no intercept column) and 0/1 ``y``,
    rows named ``index`` (intercept first)."""
    import statsmodels.api as sm   # here: slow to import; a rebuild needs none
    model = {"probit": sm.Probit, "logit": sm.Logit}[link]
    w = sm.add_constant(np.asarray(x, dtype=float), has_constant="add")
    nan = pd.DataFrame({"MLE": np.nan, "MLE se": np.nan}, index=index)
    if np.linalg.matrix_rank(w) < w.shape[1]:
        return nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = model(y, w).fit(disp=0)
        except Exception:   # statsmodels' PerfectSeparationError, singular matrices
            return nan
    if not (res.mle_retvals.get("converged", True) and np.isfinite(res.bse).all()):
        return nan
    return pd.DataFrame({"MLE": res.params, "MLE se": res.bse}, index=index)


def row_names(params: list[str] = PARAMS) -> list[str]:
    """The coefficients' row labels: the notes' alpha and beta[...], or, for a
    formula, the term-named scalars the fits hold (``params`` itself)."""
    if params == PARAMS:
        return ["alpha"] + [f"beta[{p}]" for p in PREDICTORS]
    return list(params)


def agreement(nuts: Fit, gibbs: Fit, params: list[str] = PARAMS) -> pd.DataFrame:
    """The engine's MCSE comparison of the two samplers (means, sds, difference of
    the means / combined MCSE), with 95% intervals and the difference of the sds
    in units of their combined Monte Carlo standard error."""
    a, b = nuts.table(params), gibbs.table(params)
    out = mcse_comparison(nuts, gibbs, params, labels=("NUTS", "Gibbs"))
    out["NUTS 95% interval"], out["Gibbs 95% interval"] = _interval(a), _interval(b)
    out["sd difference / combined MCSE"] = (a["sd"] - b["sd"]) / np.hypot(
        mcse_sd(nuts.idata, params), mcse_sd(gibbs.idata, params))
    out["sd ratio"] = a["sd"] / b["sd"]
    return out


def mcse_sd(idata, params: list[str] = PARAMS) -> pd.Series:
    """Monte Carlo standard error of each coefficient's posterior sd (ArviZ)."""
    m = mcse(idata, params, method="sd")
    return pd.Series(np.concatenate([np.ravel(m[v].values) for v in params]),
                     index=row_names(params))


def mle_gap(table: pd.DataFrame, ml: pd.DataFrame) -> tuple[float, str]:
    """The largest |posterior mean - MLE| / posterior sd, and its coefficient."""
    gap = (table["mean"] - ml["MLE"]).abs() / table["sd"]
    return float(gap.max()), str(gap.idxmax())


def _interval(t: pd.DataFrame) -> list[str]:
    return [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(t["2.5%"], t["97.5%"])]


def efficiency(fits: dict[str, Fit], params: list[str] = PARAMS) -> pd.DataFrame:
    """The engine's efficiency table, with the sum of the chains' own times beside
    the wall time: CmdStan runs chains two at a time, the Gibbs sampler one after
    another, and per chain-second that difference goes away."""
    out = efficiency_table(fits, params)
    chain_total = pd.Series({name: sum(f.chain_seconds) if f.chain_seconds
                             else f.seconds for name, f in fits.items()})
    out["sum of chain times (s)"] = chain_total
    out["min bulk ESS / chain-second"] = out["min bulk ESS"].astype(float) / chain_total
    return out


def link_comparison(probit: Fit, logit: Fit, params: list[str] = PARAMS,
                    cells=CELLS.index) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Coefficients and fitted cell probabilities under the two links."""
    p, q = probit.table(params), logit.table(params)
    coef = pd.DataFrame({"probit mean": p["mean"], "probit sd": p["sd"],
                         "logit mean": q["mean"], "logit sd": q["sd"]})
    coef["logit / probit"] = coef["logit mean"] / coef["probit mean"]
    coef["clearly non-zero"] = (p["mean"].abs() > 3 * p["sd"]).map({True: "yes", False: "no"})
    pp = probit.idata.posterior["p_new"].mean(("chain", "draw")).to_series()
    pl = logit.idata.posterior["p_new"].mean(("chain", "draw")).to_series()
    fitted = pd.DataFrame({"probit": pp.to_numpy(), "logit": pl.to_numpy()}, index=cells)
    fitted["|difference|"] = (fitted.probit - fitted.logit).abs()
    return coef, fitted


def observed_cells(seeds: pd.DataFrame) -> pd.DataFrame:
    """Seeds and germinated per seed type x root extract cell (a cell without seeds
    has 0 seeds and no observed proportion)."""
    g = seeds.groupby(["seed_type", "root_extract"]).germinated
    cells = pd.DataFrame({"seeds": g.size(), "germinated": g.sum()})
    cells = cells.reindex(pd.MultiIndex.from_frame(CELLS), fill_value=0)
    cells["observed proportion"] = cells.germinated / cells.seeds.where(cells.seeds > 0)
    cells.index = CELLS.index
    return cells


def plate_check(plates: pd.DataFrame, fit: Fit, seed: int
                ) -> tuple[pd.DataFrame, float, float]:
    """Posterior predictive check for extra-binomial variation between plates.

    Per draw: each plate's replicated count r_rep_j ~ Binomial(n_j, p_j), with p_j
    its cell's germination probability (the same as summing the plate's replicated
    seeds), and Pearson's T = sum_j (r_j - n_j p_j)^2 / (n_j p_j (1 - p_j)) for the
    observed and the replicated counts.  Returns the per-plate 95% predictive
    intervals, the posterior mean of T(observed), and Pr(T(replicated) >= T(observed)).
    """
    cell = [CELLS.index[2 * s + r] for s, r in zip(plates.seed_type, plates.root_extract)]
    p = stacked(fit.idata, "p_new").sel(cell=cell).values   # plates x draws
    n, r = plates.total.to_numpy()[:, None], plates.germinated.to_numpy()[:, None]
    reps = np.random.default_rng(seed).binomial(n, p)
    var = n * p * (1 - p)
    t_obs = ((r - n * p) ** 2 / var).sum(axis=0)
    t_rep = ((reps - n * p) ** 2 / var).sum(axis=0)
    lo, hi = np.quantile(reps, [0.025, 0.975], axis=1)
    table = pd.DataFrame({"plate": plates.plate, "germinated": plates.germinated,
                          "total": plates.total, "replicated 2.5%": lo,
                          "replicated 97.5%": hi,
                          "outside": (plates.germinated < lo) | (plates.germinated > hi)})
    return table, float(t_obs.mean()), float((t_rep >= t_obs).mean())


# ---------------------------------------------------------------- the answer

def _listed(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def answer(agree: pd.DataFrame, eff: pd.DataFrame, coef: pd.DataFrame,
           fitted: pd.DataFrame, ml: pd.DataFrame, problems: dict[str, list[str]], *,
           no_mle: str = NO_MLE, outcome: str = "germination") -> str:
    """The answer paragraph, every claim computed from the numbers passed in.

    ``agree``: :func:`agreement`; ``eff``: :func:`efficiency`; ``coef``, ``fitted``:
    :func:`link_comparison`; ``ml``: the probit MLE table (:func:`mle`); ``problems``:
    the failed diagnostics of each fit ("probit NUTS", "probit Gibbs", "logit NUTS").
    A claim that rests on a fit with failed diagnostics is not made: the paragraph
    says which fits failed and what to do instead.  ``no_mle`` says why a maximum-
    likelihood estimate may not exist, ``outcome`` names the fitted probabilities.
    """
    failed = [k for k, p in problems.items() if p]
    parts = []
    if failed:
        parts.append(
            f"Sampler diagnostics failed for the {_listed(failed)} "
            f"fit{'s' if len(failed) > 1 else ''} (listed below), so this run supports no "
            f"conclusion that rests on {'them' if len(failed) > 1 else 'it'}: the chains "
            "may be too short (run longer chains: raise --iter-warmup and "
            "--iter-sampling) and check again.")
    if not (problems.get("probit NUTS") or problems.get("probit Gibbs")):
        parts.append(_sampler_sentence(agree, eff))
    if not (problems.get("probit NUTS") or problems.get("logit NUTS")):
        parts.append(_link_sentence(coef, fitted, outcome))
    if failed and ml["MLE"].notna().all():
        parts.append("The maximum-likelihood probit coefficients, which do not depend on "
                     "any sampler, are " + ", ".join(
                         f"{m:.3f} ({k})" for k, m in ml["MLE"].items()) + ".")
    elif failed:
        parts.append(f"The maximum-likelihood estimate does not exist for these data "
                     f"{no_mle}.")
    return " ".join(parts)


def _sampler_sentence(agree: pd.DataFrame, eff: pd.DataFrame) -> str:
    means = agree["difference / combined MCSE"].abs()
    sds = agree["sd difference / combined MCSE"].abs()
    if means.max() <= AGREE_MCSE and sds.max() <= AGREE_MCSE:
        text = (f"NUTS and the Albert-Chib Gibbs sampler agree: across the {len(agree)} "
                f"probit coefficients the posterior means differ by at most "
                f"{means.max():.1f} combined Monte Carlo standard errors "
                f"({means.idxmax()}) and the posterior sds by at most {sds.max():.1f} "
                f"({100 * (agree['sd ratio'] - 1).abs().max():.0f}%), within the "
                f"{AGREE_MCSE:g} that Monte Carlo error alone explains.")
    else:
        which = means if means.max() >= sds.max() else sds
        stat = "mean" if which is means else "sd"
        return (f"NUTS and the Albert-Chib Gibbs sampler do not agree: the posterior "
                f"{stat} of {which.idxmax()} differs by {which.max():.1f} combined Monte "
                f"Carlo standard errors, more than the {AGREE_MCSE:g} that Monte Carlo "
                "error alone explains, so one of the two samplers (or the program) is "
                "not drawing from this posterior, or the chains are too short for their "
                "Monte Carlo errors to be trusted: run longer chains and check again. "
                "Until they agree, their effective draws per second compare nothing.")
    return text + (
        f" Per second of wall time NUTS gave "
        f"{eff.loc['probit NUTS', 'min bulk ESS / s']:.0f} and Gibbs "
        f"{eff.loc['probit Gibbs', 'min bulk ESS / s']:.0f} effective draws "
        f"(minimum bulk ESS over the coefficients).")


def _link_sentence(coef: pd.DataFrame, fitted: pd.DataFrame, outcome: str = "germination"
                   ) -> str:
    clear = coef[coef["clearly non-zero"] == "yes"]
    if len(clear):
        ratios = clear["logit / probit"]
        text = ("The logit coefficients are " + ", ".join(f"{r:.2f}" for r in ratios)
                + f" times the probit ones for the clearly non-zero "
                f"coefficient{'s' if len(clear) > 1 else ''} ({', '.join(clear.index)})")
        low, high = USUAL_RATIO
        if ratios.between(low, high).all():
            text += ", the usual factor of about 1.6-1.8"
        else:
            text += (f", not all within {low:g}-{high:g} around the usual factor of "
                     "about 1.6-1.8")
    else:
        text = ("No coefficient is clearly non-zero (more than 3 posterior sds from 0), "
                "so the ratio of logit to probit coefficients is noise here")
    return text + (f"; the fitted {outcome} probabilities of the two links differ by "
                   f"at most {fitted['|difference|'].max():.4f}.")


# ---------------------------------------------------------------- figures

def coefficient_draws(f: Fit, params: list[str] = PARAMS) -> np.ndarray:
    """Draws x coefficients, in the order of :func:`row_names`."""
    values = [draws(f.idata, v) for v in params]
    return np.column_stack([v.reshape(len(v), -1) for v in values])


def density_figure(nuts: Fit, gibbs: Fit, params: list[str] = PARAMS):
    import matplotlib.pyplot as plt
    names = row_names(params)
    cols = min(len(names), 4)
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(13, 3.4 * rows), squeeze=False)
    axes = axes.ravel()
    for ax in axes[len(names):]:
        ax.set_visible(False)
    for (label, f, colour) in [("NUTS (Stan)", nuts, "C0"), ("Albert-Chib Gibbs", gibbs, "C1")]:
        for ax, d in zip(axes, coefficient_draws(f, params).T):
            report.kde_line(ax, d, color=colour, label=label)
    for ax, name in zip(axes, names):
        ax.set(title=name, xlabel="coefficient (probit scale)", ylabel="posterior density")
    axes[0].legend(loc="upper left", fontsize="small")
    fig.suptitle("Probit posteriors: NUTS and Gibbs overlaid")
    fig.tight_layout()
    return fig


def fitted_figure(cells: pd.DataFrame, probit: Fit, logit: Fit, xlabel: str =
                  "seed type, root extract", outcome: str = "germination"):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4))
    pos = np.arange(len(cells))
    for shift, (name, f, colour) in zip([-0.12, 0.12], [("probit", probit, "C0"),
                                                        ("logit", logit, "C1")]):
        p = stacked(f.idata, "p_new").values
        lo, mid, hi = np.quantile(p, [0.025, 0.5, 0.975], axis=1)
        ax.errorbar(pos + shift, mid, yerr=[mid - lo, hi - mid], fmt="o", color=colour,
                    capsize=4, label=f"{name}: median, 95% interval")
    ax.scatter(pos, cells["observed proportion"], marker="x", color="k", s=60, zorder=3,
               label="observed proportion")
    ax.set_xticks(pos, cells.index, rotation=10)
    ax.set(xlabel=xlabel, ylabel=f"probability of {outcome}",
           title=f"Fitted {outcome} probabilities: probit vs logit")
    ax.legend()
    return fig


def trace_figure(fit, title: str, params: list[str] = PARAMS):
    fig = report.trace_figure(fit.idata, params, title, figsize=(10, max(8, 2 * len(
        row_names(params)))), compact=False)
    for ax in fig.axes[::2]:
        ax.set_xlabel("coefficient (probit scale)")
    return fig


def plate_figure(check: pd.DataFrame):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 3.8))
    mid = (check["replicated 2.5%"] + check["replicated 97.5%"]) / 2
    ax.errorbar(check.plate, mid, yerr=(check["replicated 97.5%"] - mid), fmt="none",
                color="C0", capsize=3, label="replicated count, 95% interval")
    colour = np.where(check.outside, "C3", "k")
    ax.scatter(check.plate, check.germinated, color=colour, zorder=3,
               label="observed (red: outside the interval)")
    ax.set(xlabel="plate", ylabel="seeds germinated (count)",
           title="Posterior predictive check by plate (probit, no plate effects)")
    ax.set_xticks(check.plate)
    ax.legend()
    return fig


# ---------------------------------------------------------------- analysis

def analyse(data=None, *, prior_sd: float | None = None, formula: str | None = None,
            dropna: bool = False, prior_scale: float = 1.0, **run) -> Results:
    """Fit the probit by NUTS and by Albert-Chib Gibbs, and the logit by NUTS, to
    ``data`` (None: Crowder's 21 plates; a CSV path; a DataFrame with plate,
    germinated, total, seed_type, root_extract), all with the prior
    N(0, ``prior_sd``^2) (default 10) on every coefficient, and compare.

    ``formula`` (e.g. ``"employed ~ age + C(region)"`` or ``"p(germinated, total) ~
    seed_type * root_extract"``): fit the same three models to ``data``, a user's CSV
    or DataFrame (None: the bundled seeds file), instead; see :func:`analyse_formula`.
    ``run``: chains, iter_warmup, iter_sampling, seed, quiet, quick (see
    :class:`RunOptions`)."""
    opts = run_options(DEFAULTS, run)
    if formula is not None:
        if prior_sd is not None:
            raise PystanModelsError("--prior-sd sets the notes' N(0, sd^2) prior; with "
                                    "--formula the priors are scaled to the data: use "
                                    "--prior-scale")
        return analyse_formula(data, formula, opts, dropna=dropna, prior_scale=prior_scale)
    if dropna or prior_scale != 1.0:
        raise PystanModelsError("--dropna and --prior-scale go with --formula (your own "
                                "data); the notes' model takes --prior-sd")
    prior_sd = PRIOR_SD if prior_sd is None else prior_sd
    if isinstance(prior_sd, bool) or not isinstance(prior_sd, (int, float)) \
            or not np.isfinite(prior_sd) or prior_sd <= 0:
        raise PystanModelsError(f"prior-sd must be a positive number (got {prior_sd!r})")
    plates = load(data)
    programs.compile_all(PROGRAMS, quiet=opts.quiet)   # at once, up to a core each
    seeds = expand(plates)
    fits = fit_all(seeds, opts, float(prior_sd))
    nuts, gibbs, logit = fits["probit NUTS"], fits["probit Gibbs"], fits["logit NUTS"]
    problems = {k: f.problems for k, f in fits.items()}

    agree = agreement(nuts, gibbs)
    eff = efficiency(fits)
    coef, fitted = link_comparison(nuts, logit)
    cells = observed_cells(seeds)
    fitted.insert(0, "observed", cells["observed proportion"])
    ml = {link: mle(seeds, link) for link in ("probit", "logit")}
    check, t_obs, ppp = plate_check(plates, nuts, opts.seed)
    text = answer(agree, eff, coef, fitted, ml["probit"], problems)
    if not opts.quiet:
        print_summary(agree, eff, coef)
    return Results(
        "probit", TITLE, opts, fits,
        tables={"agreement": agree, "efficiency": eff, "coefficients": coef,
                "fitted": fitted, "cells": cells,
                "mle": pd.concat([ml["probit"].add_prefix("probit "),
                                  ml["logit"].add_prefix("logit ")], axis=1),
                "plate_check": check},
        answer=text, problems=[f"{k}: {p}" for k, ps in problems.items() for p in ps],
        data={"plates": plates},
        extras={"prior_sd": float(prior_sd), "seeds": len(seeds),
                "germinated": int(seeds.germinated.sum()), "pearson_t": t_obs,
                "pearson_ppp": ppp,
                "predictor": lambda: _predictor(formula_design(plates,
                                                                 NOTES_FORMULA))})


# the notes' model as a formula: how --predict reads new plates (X = seed type, root
# extract and their product, as design() builds it)
NOTES_FORMULA = "p(germinated, total) ~ seed_type * root_extract"
# the fits that predict: the Gibbs sampler on the probit program (its draws carry
# that program's alpha and beta)
PREDICTING = ("probit NUTS", "probit Gibbs", "logit NUTS")


def predictor(data=None, *, formula: str | None = None, dropna: bool = False,
              **_) -> predict.Predictor:
    """How new rows are read (``--predict``; checked before any sampling)."""
    if formula is not None:
        d = user_design(data, formula, dropna)
        return _predictor(d, d.x_mean, np.where(d.x_sd > 0, d.x_sd, 1.0))
    return _predictor(formula_design(load(data), NOTES_FORMULA))


def formula_design(frame: pd.DataFrame, text: str) -> formula.Design:
    return formula.design(frame, text, family="binomial", check_rank=False,
                          source=frame.attrs.get("source", FRAME))


def _predictor(d: formula.Design, centre=None, scale=None) -> predict.Predictor:
    """Every fit predicts (the Gibbs sampler with the probit program); X_pred standardised
    as the fits' X was (the formula path), trials 1 for 0/1 rows."""
    def inputs(rows: formula.NewRows) -> dict:
        X = rows.X if centre is None else (rows.X - centre) / scale
        trials = rows.trials if rows.trials is not None else np.ones(len(X), int)
        return {"N_pred": len(X), "X_pred": X, "trials_pred": trials}
    return predict.Predictor(d, {name: inputs for name in PREDICTING}, "probability",
                             via={"probit Gibbs": "probit NUTS"})


# ---------------------------------------------------------------- a user's data (formula)

def user_design(data, text: str, dropna: bool, example: str = "probit") -> formula.Design:
    """The checked design of ``text`` on ``data`` (None: the bundled seeds file):
    0/1 rows or ``p(successes, trials)``, common terms with an intercept."""
    frame = read_table(DATA if data is None else data)
    d = formula.checked_structure(formula.design(
        frame, text, family="binomial", source=frame.attrs["source"], dropna=dropna),
        example=example)
    if not d.intercept or not d.common_names:
        raise formula.FormulaError(
            f"{example} fits an intercept and at least one common term; the formula "
            f"{text!r} has {'no intercept' if not d.intercept else 'no common term'}: "
            f"write it as y ~ x1 + x2 (without '0 +' or '- 1')")
    return d


def bernoulli_rows(d: formula.Design) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) with one 0/1 row per trial: a binomial row of y successes in n trials
    becomes y ones and n - y zeros with its covariates, as the seeds are expanded
    from their plates.  The Bernoulli and binomial likelihoods differ by a constant;
    the programs take 0/1 rows (one latent u_i each), so counts are not kept
    aggregated (the Gibbs sampler groups equal rows itself)."""
    n = d.trials if d.trials is not None else np.ones_like(d.y)
    if n.sum() > MAX_ROWS:
        raise DataError(f"{d.source}: {int(n.sum()):,} trials would be {int(n.sum()):,} "
                        f"Bernoulli rows, more than the {MAX_ROWS:,} this example takes")
    y, x = expanded(d.y, n, d.X)
    return x, y


def expanded(y, n, X) -> tuple[np.ndarray, np.ndarray]:
    """(0/1 outcomes, design) with row i of ``X`` repeated ``n[i]`` times, its first
    ``y[i]`` copies 1 and the rest 0."""
    n = np.asarray(n, np.int64)
    start = np.repeat(np.cumsum(n) - n, n)
    rank = np.arange(int(n.sum())) - start
    return (rank < np.repeat(y, n)).astype(np.int64), np.repeat(X, n, axis=0)


def patterns(x: np.ndarray, y: np.ndarray, names: list[str], limit: int = MAX_PATTERNS
             ) -> pd.DataFrame:
    """The data's distinct covariate patterns, most frequent first (ties: first
    seen), at most ``limit``: their values, rows and observed proportion of 1s."""
    values, first, inverse, count = np.unique(x, axis=0, return_index=True,
                                              return_inverse=True, return_counts=True)
    ones = np.bincount(inverse.ravel(), weights=y, minlength=len(values))
    order = np.lexsort((first, -count))[:limit]
    out = pd.DataFrame(values[order], columns=names,
                       index=[f"pattern {k + 1}" for k in range(len(order))])
    out["rows"] = count[order]
    out["observed proportion"] = ones[order] / count[order]
    out.attrs["total"] = len(values)
    return out


def term_scale(f: Fit, names: list[str], centre: np.ndarray, scale: np.ndarray,
               quick: bool = False, extra: dict[str, str] | None = None) -> Fit:
    """``f`` (fitted on standardised columns z = (x - centre) / scale) with its
    draws on the scale of the user's columns, one scalar per term named as the
    formula names it: beta = beta_z / scale, Intercept = alpha_z - centre' beta.
    ``extra`` maps more reported names to the program's variables, kept as they
    are (scalars join the diagnosed parameters)."""
    beta = f.idata.posterior["beta"].values / scale
    alpha = f.idata.posterior["alpha"].values - beta @ centre
    post = {"Intercept": alpha, **{n: beta[..., k] for k, n in enumerate(names)}}
    coords, dims = {}, {}
    for name, var in (extra or {}).items():
        values = f.idata.posterior[var]
        post[name] = values.values
        if values.ndim > 2:
            dims[name] = list(values.dims[2:])
            coords.update({d: list(values.coords[d].values) for d in dims[name]})
    if "p_new" in f.idata.posterior:
        post["p_new"] = f.idata.posterior["p_new"].values
        coords["cell"] = list(f.idata.posterior["p_new"].coords["cell"].values)
        dims["p_new"] = ["cell"]
    idata = f.idata.copy()      # keeps the sampler's statistics for the diagnostics
    idata["posterior"] = from_draws(post, coords, dims)["posterior"]
    scalars = [n for n in extra or {} if n not in dims]
    out = dataclasses.replace(f, idata=idata, main=["Intercept", *names, *scalars],
                              summaries={}, as_sampled=f.idata["posterior"].to_dataset()
                              if f.as_sampled is None else f.as_sampled)
    out.problems, out.notes = diagnostics(out, quick=quick)     # of the reported terms
    out.problems += f.cmdstan_errors
    return out


def priors_table(d: formula.Design, priors: dict, standardised: str, where: str
                 ) -> pd.DataFrame:
    """The report's priors table: parameter, prior, scale used, where it is set."""
    rows = [("Intercept", f"normal(0, {priors['intercept']['scale']:.3g}) on the "
             f"intercept with the columns centred", priors["intercept"]["scale"])]
    rows += [(n, f"normal(0, {s:.3g}), i.e. normal(0, {priors['intercept']['scale']:.3g})"
              f" on the {standardised}", s) for n, s in zip(d.common_names,
                                                            priors["beta"]["scale"])]
    return pd.DataFrame([{"parameter": p, "prior": t, "scale used": sc, "where it is set":
                          where} for p, t, sc in rows])


def analyse_formula(data, text: str, opts: RunOptions, *, dropna: bool = False,
                    prior_scale: float = 1.0) -> Results:
    """The example's three fits on a user's data and formula.

    The programs take one prior sd for every coefficient, so the columns are
    standardised (centred, divided by their sd) before they go in, and the prior
    N(0, (2.5 prior_scale)^2) on the standardised coefficients is rstanarm's default
    (normal(0, 2.5 / sd(x)) on each coefficient, normal(0, 2.5) on the intercept of
    the centred columns; formula.default_priors); the draws are returned to the
    scale of the user's columns (:func:`term_scale`)."""
    d = user_design(data, text, dropna)
    priors = formula.default_priors(d, prior_scale)
    prior_sd = float(priors["intercept"]["scale"])
    x, y = bernoulli_rows(d)
    names, params = d.common_names, ["Intercept", *d.common_names]
    centre, scale = d.x_mean, np.where(d.x_sd > 0, d.x_sd, 1.0)
    cells = patterns(x, y, names)
    programs.compile_all(PROGRAMS, quiet=opts.quiet)
    data_z = program_data((x - centre) / scale, y, prior_sd,
                          (cells[names].to_numpy(float) - centre) / scale)
    fits = {k: term_scale(f, names, centre, scale, opts.quick) for k, f in
            fit_programs(data_z, names, list(cells.index), opts).items()}
    nuts, gibbs, logit = fits["probit NUTS"], fits["probit Gibbs"], fits["logit NUTS"]
    problems = {k: f.problems for k, f in fits.items()}
    agree = agreement(nuts, gibbs, params)
    eff = efficiency(fits, params)
    coef, fitted = link_comparison(nuts, logit, params, cells.index)
    fitted.insert(0, "observed", cells["observed proportion"])
    ml = {link: ml_fit(x, y, link, params) for link in ("probit", "logit")}
    outcome = d.response_name
    text_answer = answer(agree, eff, coef, fitted, ml["probit"], problems,
                         no_mle=NO_MLE_FORMULA, outcome=outcome)
    if d.dropped_rows:
        text_answer += (f" {d.dropped_rows} row(s) with empty cells were dropped "
                        f"(--dropna) before fitting.")
    if not opts.quiet:
        print_summary(agree, eff, coef)
    where = f"--prior-scale (here {prior_scale:g}) multiplies every scale"
    return Results(
        "probit", TITLE, opts, fits,
        tables={"agreement": agree, "efficiency": eff, "coefficients": coef,
                "fitted": fitted, "cells": cells,
                "mle": pd.concat([ml["probit"].add_prefix("probit "),
                                  ml["logit"].add_prefix("logit ")], axis=1),
                "priors": priors_table(d, priors, "standardised columns (x - mean) / sd",
                                       where)},
        answer=text_answer,
        problems=[f"{k}: {p}" for k, ps in problems.items() for p in ps],
        extras={"formula": text, "design": d, "params": params, "prior_sd": prior_sd,
                "predictor": _predictor(d, centre, scale),
                "prior_text": f"N(0, {prior_sd:g}^2) (standardised)",
                "no_mle": NO_MLE_FORMULA, "outcome": outcome, "rows": len(y),
                "ones": int(y.sum()), "source": d.source})


def render_formula(r: Results, rep: report.Report) -> None:
    """The report for a user's data: data, priors, model, NUTS vs Gibbs,
    efficiency, logit vs probit (the seeds' plate check is left out)."""
    fits, opts, x, d = r.fits, r.options, r.extras, r.extras["design"]
    nuts, gibbs, logit = fits["probit NUTS"], fits["probit Gibbs"], fits["logit NUTS"]
    params, cells = x["params"], r.table("cells")
    shown_cells = (f"the {len(cells)} most frequent of its {cells.attrs['total']} distinct "
                   f"covariate patterns" if cells.attrs["total"] > len(cells) else
                   f"its {len(cells)} distinct covariate patterns")
    rep.section("Data", report.para(
        f"Source: {Path(x['source']).name or x['source']}; formula {x['formula']}. "
        f"{len(d.y)} data row(s) used"
        + (f" ({d.dropped_rows} row(s) with empty cells dropped, --dropna)"
           if d.dropped_rows else "")
        + (f", expanded to {x['rows']} Bernoulli rows (one per trial: the likelihoods "
           f"differ by a constant, and each row gets the latent u_i of the notes)"
           if d.trials is not None and x["rows"] != len(d.y) else "")
        + f"; {x['ones']} of {x['rows']} outcomes are 1. Fitted probabilities are shown "
          f"for {shown_cells}:"),
        report.table(cells, {"observed proportion": 3}))
    rep.section("Priors", report.para(
        "The notes' N(0, 10^2) prior is for their seeds; for your data the prior is "
        "rstanarm's default scaled to the data (Gabry and Goodrich, 'Prior Distributions "
        "for rstanarm Models'). The programs and the Gibbs sampler take one prior sd, so "
        "the columns go in standardised and the coefficients are reported on the scale "
        "of your columns:"), report.table(r.table("priors"), 3, index=False))
    rep.section("Model", report.para(
        "u_i ~ N(alpha + x_i'beta, 1) and y_i = 1 if u_i > 0, with x_i the formula's "
        "common terms, sampled two ways (Stan's NUTS with u integrated out, and the "
        "Albert-Chib Gibbs sampler, which keeps u), beside its logit counterpart. The "
        f"Gibbs sampler ran {opts.chains} chains x ({opts.iter_warmup} warmup + "
        f"{opts.iter_sampling} draws). The programs' own descriptions:"),
        report.models(fits.values()))
    rep.section("NUTS vs Gibbs: one posterior, two samplers", report.table(
        r.table("agreement"), 3), report.para(MCSE_NOTE, "note"),
        report.figure(density_figure(nuts, gibbs, params), "NUTS and Gibbs densities"),
        report.para(_mle_sentence(r)), report.table(r.table("mle"), 3))
    rep.section("Efficiency: effective draws per second", report.table(
        r.table("efficiency"), 2),
        report.figure(trace_figure(gibbs, "Trace plots: Albert-Chib Gibbs", params),
                      "Gibbs traces"),
        report.figure(trace_figure(nuts, "Trace plots: NUTS", params), "NUTS traces"))
    rep.section("Logit vs probit", report.para(
        "Posterior means of the coefficients under the two links. 'Clearly non-zero': "
        "|probit mean| > 3 posterior sd; for coefficients near zero the ratio is noise."),
        report.table(r.table("coefficients"), 3),
        report.para(f"Posterior mean fitted probability of {x['outcome']} per covariate "
                    "pattern:"), report.table(r.table("fitted"), 4),
        report.figure(fitted_figure(cells, nuts, logit, "covariate pattern (see Data)",
                                    x["outcome"]), "fitted probabilities"))


def print_summary(agree, eff, coef) -> None:
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(agree.round(3).to_string())
        print(eff.round(1).to_string())
        print(coef.round(3).to_string())


# ---------------------------------------------------------------- report

def render(r: Results, rep: report.Report) -> None:
    """The report's sections: data, model, NUTS vs Gibbs, efficiency, logit vs probit,
    the plate-level check (for a formula, :func:`render_formula`)."""
    if "formula" in r.extras:
        return render_formula(r, rep)
    plates, fits, opts = r.data["plates"], r.fits, r.options
    nuts, gibbs, logit = fits["probit NUTS"], fits["probit Gibbs"], fits["logit NUTS"]
    prior_sd, cells = r.extras["prior_sd"], r.table("cells")
    source = plates.attrs.get("source", "")
    bundled = Path(source).is_file() and Path(source).resolve() == DATA.resolve()
    expansion = (f"Each plate is expanded to one Bernoulli row per seed: {r.extras['seeds']} "
                 f"seeds, {r.extras['germinated']} germinated. For a GLM the expansion "
                 "loses nothing (the likelihoods differ by a constant); it gives each seed "
                 "the latent u_i of the notes.")
    rep.section("Data", report.para(
        f"Crowder (1978) seed germination (BUGS Examples Vol. 1, 'Seeds'): {len(plates)} "
        f"plates of Orobanche aegyptiaca seeds, variety 75 or 73 (seed_type 0/1), on bean "
        f"or cucumber root extract (root_extract 0/1). {expansion} Source: {DATA.name}; "
        f"see data/README.md." if bundled else
        f"Source: {Path(source).name or source}: {len(plates)} plates (seed_type 0/1, "
        f"root_extract 0/1). {expansion}"),
        report.table(plates, 0, index=False),
        report.table(cells, {"observed proportion": 3}))
    rep.section("Model", report.para(
        "One model, u_i ~ N(alpha + x_i'beta, 1) and y_i = 1 if u_i > 0, with x_i = "
        "(seed_type, root_extract, seed_type x root_extract) and the prior "
        f"N(0, {prior_sd:g}^2) on every coefficient, sampled two ways (Stan's NUTS with u "
        "integrated out, and the Gibbs sampler below), beside its logit counterpart. "
        "The programs' own descriptions:"), report.models(fits.values()),
        report.para(
            "The Albert-Chib Gibbs sampler (Albert and Chib 1993, compiled with numba) "
            "keeps u: it alternates u_i | b, y_i ~ N(w_i'b, 1) truncated to (0, inf) if "
            "y_i = 1 and (-inf, 0] if y_i = 0 (inverse-CDF draws; exponential rejection "
            "deep in a tail), and "
            f"b | u ~ N(V W'u, V) with V = (W'W + I/{prior_sd:g}^2)^-1, w_i = (1, x_i), "
            f"b = (alpha, beta). It ran {opts.chains} chains x ({opts.iter_warmup} warmup "
            f"+ {opts.iter_sampling} draws) from independent N(0, 1) starts, one random "
            f"stream per chain spawned from seed {opts.seed}."))
    agree = r.table("agreement")
    rep.section("NUTS vs Gibbs: one posterior, two samplers", report.table(
        agree, {"difference / combined MCSE": 2, "sd difference / combined MCSE": 2,
                "sd ratio": 3, "NUTS mean": 3, "Gibbs mean": 3, "NUTS sd": 3,
                "Gibbs sd": 3}),
        report.para(MCSE_NOTE + " The same for the posterior sds uses the Monte Carlo "
                    "standard errors of the sds. The answer calls |value| > "
                    f"{AGREE_MCSE:g} a disagreement (a false alarm about once in 16,000 "
                    "comparisons).", "note"),
        report.figure(density_figure(nuts, gibbs), "NUTS and Gibbs densities"),
        report.para(_mle_sentence(r)),
        report.table(r.table("mle"), 3))
    rep.section("Efficiency: effective draws per second", report.table(
        r.table("efficiency"), {"compile (s)": 1, "sampling (s)": 1, "min bulk ESS": 0,
                                "min bulk ESS / s": 0, "step size": 3,
                                "leapfrog steps per draw": 1, "ESS / s vs probit NUTS": 2,
                                "sum of chain times (s)": 1,
                                "min bulk ESS / chain-second": 0}),
        report.para(
            "Sampling time is wall time and includes warmup; compile time is blank when "
            "the executable came from the cache. The Stan programs were run without their "
            "optional per-seed log_lik and y_rep output (pointwise = 0), which the Gibbs "
            "sampler does not compute either. CmdStan runs the chains as separate "
            "processes, two at a time on this machine's cores; the Gibbs sampler runs its "
            "chains one after another in one Python process. 'Sum of chain times' removes "
            "that difference. Timings on a shared machine are rough.", "note"),
        report.figure(trace_figure(gibbs, "Trace plots: Albert-Chib Gibbs"), "Gibbs traces"),
        report.figure(trace_figure(nuts, "Trace plots: NUTS"), "NUTS traces"))
    fitted = r.table("fitted")
    saturated = bool((cells.seeds > 0).all())
    rep.section("Logit vs probit", report.para(
        "Posterior means of the coefficients under the two links. 'Clearly non-zero': "
        "|probit mean| > 3 posterior sd; for coefficients near zero the ratio is noise."),
        report.table(r.table("coefficients"), {"logit / probit": 2, "probit mean": 3,
                                               "probit sd": 3, "logit mean": 3,
                                               "logit sd": 3}),
        report.para(
            "The factor comes from the latent scale: the logistic distribution has sd "
            "pi/sqrt(3) = 1.81 against 1 for the normal, and near p = 0.5 the logit and "
            "probit curves match best for a factor of about 1.6. Posterior mean fitted "
            "probability of germination in each cell:"),
        report.table(fitted, 4),
        report.para(
            "With four cells and four coefficients the model is saturated, so both links "
            "must reproduce the four observed proportions (up to the small pull of the "
            "prior): here the agreement of the fitted probabilities is guaranteed, and "
            "the coefficients are the same four probabilities on two different scales."
            if saturated else
            "Not every cell has seeds, so the fitted probability of an empty cell comes "
            "from the model alone and the two links may differ there.", "note"),
        report.figure(fitted_figure(cells, nuts, logit), "fitted probabilities"))
    check, t_obs, ppp = r.table("plate_check"), r.extras["pearson_t"], r.extras["pearson_ppp"]
    outside = int(check.outside.sum())
    verdict = ("but the probit NUTS fit failed its diagnostics, so this check is not "
               "conclusive" if nuts.problems else
               "so the plates vary more than a binomial model allows (extra-binomial "
               "variation): the coefficient intervals above are somewhat too narrow, and "
               "the BUGS 'Seeds' example adds plate random effects for this reason"
               if ppp < 0.05 else
               "so these data show no clear extra-binomial variation between plates")
    rep.section("Plate-level check", report.para(
        f"The Bernoulli model has no plate effects. Replicating each plate's count from "
        f"the probit NUTS fit gives a predictive interval for its germinated count: "
        f"{outside} of {len(check)} plates fall outside their 95% interval, a weak check. "
        f"A sharper one is Pearson's statistic over the plates, T = sum_j (r_j - n_j "
        f"p_j)^2 / (n_j p_j (1 - p_j)): its posterior mean for the observed counts is "
        f"{t_obs:.1f} on {len(check)} plates, and replicated data reach it in "
        f"{100 * ppp:.1f}% of draws (posterior predictive p-value {ppp:.3f}), {verdict}. "
        f"The comparisons of samplers and links above do not depend on this."),
        report.figure(plate_figure(check), "plate check"),
        report.table(check.drop(columns="outside"), 0, index=False))


def _mle_sentence(r: Results) -> str:
    """Whether the posterior means sit next to the MLE, computed, for the fits whose
    diagnostics passed (under a nearly flat prior they should)."""
    ml, params = r.table("mle"), r.extras.get("params", PARAMS)
    if ml.isna().any().any():
        return ("Maximum likelihood (statsmodels Probit and Logit): no finite estimate "
                f"exists for these data {r.extras.get('no_mle', NO_MLE)}, so only the "
                "posterior, shaped by the prior there, is given.")
    gaps = {}
    for name, link in [("probit NUTS", "probit"), ("probit Gibbs", "probit"),
                       ("logit NUTS", "logit")]:
        if not r.fits[name].problems:
            gaps[name] = mle_gap(r.fits[name].table(params),
                                 ml[[f"{link} MLE"]].set_axis(["MLE"], axis=1))
    text = "Maximum likelihood (statsmodels Probit and Logit) for reference. "
    if not gaps:
        return text + ("No fit passed its diagnostics, so the posterior means are not "
                       "compared with it.")
    widest = max(float(r.fits[k].table(params)["sd"].max()) for k in gaps)
    flat = "formula" not in r.extras and r.extras["prior_sd"] >= 20 * widest
    prior = r.extras.get("prior_text", f"N(0, {r.extras['prior_sd']:g}^2)")
    name, (worst, param) = max(gaps.items(), key=lambda kv: kv[1][0])
    if worst <= NEAR_MLE_SD:
        text += (f"{'With a nearly flat prior the' if flat else 'The'} posterior means sit "
                 f"next to it: each is within {worst:.2f} posterior sd of the MLE "
                 f"({_listed(gaps)}).")
    else:
        text += (f"{param} ({name}) is {worst:.2f} posterior sd from the MLE"
                 + (", although with a nearly flat prior it should sit next to it."
                    if flat else f": the {prior} prior pulls it."))
    skipped = [k for k in r.fits if k not in gaps]
    if skipped:
        text += f" Not compared (failed diagnostics): {_listed(skipped)}."
    return text


def main(argv: list[str] | None = None) -> int:
    def extend(p):
        p.add_argument("--data", default=DATA, help="seeds CSV, or with --formula your "
                       "own data (default: %(default)s)")
        p.add_argument("--prior-sd", type=float, default=None,
                       help="sd of the normal prior on every coefficient, for the "
                            f"notes' data (default: {PRIOR_SD:g})")
        cli.add_formula_options(p)
    return cli.main(sys.modules[__name__], __doc__.splitlines()[0], argv, extend,
                    DEFAULTS)


if __name__ == "__main__":
    sys.exit(main())
