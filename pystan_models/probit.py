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

import argparse
import sys
import time
from dataclasses import dataclass, field

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import log_ndtr, ndtr, ndtri_exp

from . import cli, report
from .data import Column, check_rows, data_file, load_csv
from .errors import DataError
from .fitting import (Fit, RunOptions, diagnose, min_ess_per_second, posterior_table,
                      sample, say)

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
PRIOR_SD = 10.0


# ---------------------------------------------------------------- data

def load(path=DATA) -> pd.DataFrame:
    """The 21 plates, validated."""
    frame = load_csv(path, COLUMNS)
    check_rows(path, frame, "germinated", frame.germinated > frame.total,
               "more seeds germinated than were on the plate (column 'total')")
    check_rows(path, frame, "plate", frame.plate.duplicated(), "plate listed twice")
    return frame


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


def stan_data(seeds: pd.DataFrame, prior_sd: float = PRIOR_SD, pointwise: bool = False
              ) -> dict:
    """``pointwise``: also write log_lik and y_rep per seed (2 x 831 values per draw,
    which would dominate the sampling time the efficiency comparison measures)."""
    x = design(seeds)
    return {"N": len(seeds), "K": x.shape[1], "x": x.tolist(),
            "y": seeds.germinated.astype(int).tolist(), "prior_sd": float(prior_sd),
            "G": len(CELLS), "x_new": design(CELLS).tolist(), "pointwise": int(pointwise)}


# ---------------------------------------------------------------- Gibbs sampler

@dataclass
class GibbsFit:
    """Albert-Chib Gibbs draws; ``seconds`` is wall time for all chains in turn."""
    idata: az.InferenceData
    seconds: float
    chain_seconds: list[float] = field(default_factory=list)
    program: str = "probit_gibbs"   # Albert-Chib, numpy
    main: list[str] = field(default_factory=lambda: list(PARAMS))


def truncated_latent(mu: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """u_i ~ N(mu_i, 1) truncated to u_i > 0 if y_i = 1 and to u_i <= 0 if y_i = 0.

    Inverse-CDF draw in log space, stable far into the tails: with s = 2y - 1,
    s (u - mu) is a standard normal truncated above at s mu, so
    u = mu - s Phi^-1(U Phi(s mu)), U ~ Uniform(0, 1].
    """
    s = 2.0 * y - 1.0
    log_u = np.log1p(-rng.random(mu.shape))  # log of a Uniform(0, 1] draw
    return mu - s * ndtri_exp(log_u + log_ndtr(s * mu))


def gibbs_probit(x, y, prior_sd: float = PRIOR_SD, opts: RunOptions = RunOptions(),
                 x_new=None) -> GibbsFit:
    """Albert & Chib (1993) data augmentation for probit regression.

    Model: u_i ~ N(w_i' b, 1), y_i = 1{u_i > 0}, w_i = (1, x_i), b = (alpha, beta),
    prior b ~ N(0, prior_sd^2 I).  Each sweep draws
      u | b, y  from truncated normals (vectorized), then
      b | u     ~ N(V W'u, V),  V = (W'W + I / prior_sd^2)^-1
    (the prior mean is 0, so the B0^-1 b0 term vanishes).  Chains start from
    independent N(0, 1) draws; the first ``opts.iter_warmup`` sweeps are discarded.
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
    proj = cov @ w.T                            # b | u has mean proj @ u
    draws = np.empty((opts.chains, opts.iter_sampling, k))
    chain_seconds = []
    for c, rng in enumerate(np.random.default_rng(opts.seed).spawn(opts.chains)):
        start = time.monotonic()
        b = rng.normal(size=k)
        for it in range(opts.iter_warmup + opts.iter_sampling):
            u = truncated_latent(w @ b, y, rng)
            b = proj @ u + chol @ rng.normal(size=k)
            if it >= opts.iter_warmup:
                draws[c, it - opts.iter_warmup] = b
        chain_seconds.append(time.monotonic() - start)
    posterior = {"alpha": draws[..., 0], "beta": draws[..., 1:]}
    coords, dims = {"predictor": PREDICTORS[:k - 1]}, {"beta": ["predictor"]}
    if x_new is not None:
        w_new = np.column_stack([np.ones(len(x_new)), np.asarray(x_new, dtype=float)])
        posterior["p_new"] = ndtr(draws @ w_new.T)
        coords["cell"], dims["p_new"] = list(CELLS.index[:len(w_new)]), ["cell"]
    idata = az.from_dict(posterior=posterior, coords=coords, dims=dims)
    return GibbsFit(idata, sum(chain_seconds), chain_seconds)


# ---------------------------------------------------------------- fits

def fit_all(seeds: pd.DataFrame, opts: RunOptions) -> dict:
    """NUTS probit, Gibbs probit and NUTS logit on the same data and prior."""
    data = stan_data(seeds)
    coords = {"predictor": PREDICTORS, "cell": list(CELLS.index),
              "seed": np.arange(len(seeds))}
    dims = {"beta": ["predictor"], "p_new": ["cell"], "y": ["seed"]}
    fits = {}
    for name, program in [("probit NUTS", "probit_regression"),
                          ("logit NUTS", "logistic_regression")]:
        fits[name] = sample(program, data, opts, main=PARAMS, observed={"y": data["y"]},
                            coords=coords, dims=dict(dims))
    say(opts, f"Gibbs sampling: {opts.chains} chains x ({opts.iter_warmup} warmup + "
              f"{opts.iter_sampling} draws)")
    fits["probit Gibbs"] = gibbs_probit(data["x"], data["y"], data["prior_sd"], opts,
                                        x_new=data["x_new"])
    return fits


def mle(seeds: pd.DataFrame, link: str = "probit") -> pd.DataFrame:
    """Maximum-likelihood estimates and standard errors (statsmodels Probit/Logit)."""
    model = {"probit": sm.Probit, "logit": sm.Logit}[link]
    res = model(seeds.germinated.to_numpy(), sm.add_constant(design(seeds))).fit(disp=0)
    return pd.DataFrame({"MLE": res.params, "MLE se": res.bse}, index=row_names())


def row_names() -> list[str]:
    return ["alpha"] + [f"beta[{p}]" for p in PREDICTORS]


def agreement(nuts, gibbs) -> pd.DataFrame:
    """Posterior summaries from both samplers and their difference in MCSE units."""
    a, b = posterior_table(nuts.idata, PARAMS), posterior_table(gibbs.idata, PARAMS)
    out = pd.DataFrame({"NUTS mean": a["mean"], "Gibbs mean": b["mean"],
                        "NUTS sd": a["sd"], "Gibbs sd": b["sd"],
                        "NUTS 95% interval": _interval(a), "Gibbs 95% interval": _interval(b)})
    out["difference / combined MCSE"] = (a["mean"] - b["mean"]) / np.hypot(
        a["mcse_mean"], b["mcse_mean"])
    out["sd ratio"] = a["sd"] / b["sd"]
    return out


def _interval(t: pd.DataFrame) -> list[str]:
    return [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(t["2.5%"], t["97.5%"])]


def efficiency(fits: dict) -> pd.DataFrame:
    """Time and minimum bulk ESS per second for each sampler."""
    rows = {}
    for name, f in fits.items():
        if isinstance(f, GibbsFit):
            chain_total = sum(f.chain_seconds)
        else:
            chain_total = sum(t["total"] for t in f.fit.time)
        ess = az.ess(f.idata, var_names=PARAMS)
        min_ess = float(min(ess[v].min() for v in PARAMS))
        rows[name] = {"wall time (s)": f.seconds, "sum of chain times (s)": chain_total,
                      "min bulk ESS": min_ess,
                      "min bulk ESS / s (wall)": min_ess_per_second(f, PARAMS),
                      "min bulk ESS / chain-second": min_ess / chain_total}
    return pd.DataFrame(rows).T


def link_comparison(probit: Fit, logit: Fit) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Coefficients and fitted cell probabilities under the two links."""
    p, q = posterior_table(probit.idata, PARAMS), posterior_table(logit.idata, PARAMS)
    coef = pd.DataFrame({"probit mean": p["mean"], "probit sd": p["sd"],
                         "logit mean": q["mean"], "logit sd": q["sd"]})
    coef["logit / probit"] = coef["logit mean"] / coef["probit mean"]
    coef["clearly non-zero"] = (p["mean"].abs() > 3 * p["sd"]).map({True: "yes", False: "no"})
    pp = probit.idata.posterior["p_new"].mean(("chain", "draw")).to_series()
    pl = logit.idata.posterior["p_new"].mean(("chain", "draw")).to_series()
    fitted = pd.DataFrame({"probit": pp.to_numpy(), "logit": pl.to_numpy()}, index=CELLS.index)
    fitted["|difference|"] = (fitted.probit - fitted.logit).abs()
    return coef, fitted


def observed_cells(seeds: pd.DataFrame) -> pd.DataFrame:
    g = seeds.groupby(["seed_type", "root_extract"]).germinated
    cells = pd.DataFrame({"seeds": g.size(), "germinated": g.sum()})
    cells["observed proportion"] = cells.germinated / cells.seeds
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
    p = az.extract(fit.idata, var_names="p_new").sel(cell=cell).values   # plates x draws
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


# ---------------------------------------------------------------- figures

def density_figure(nuts: Fit, gibbs: GibbsFit):
    names = row_names()
    fig, axes = plt.subplots(1, len(names), figsize=(13, 3.4))
    for (label, f, colour) in [("NUTS (Stan)", nuts, "C0"), ("Albert-Chib Gibbs", gibbs, "C1")]:
        draws = np.column_stack([az.extract(f.idata, var_names="alpha").values,
                                 az.extract(f.idata, var_names="beta").values.T])
        for ax, d in zip(axes, draws.T):
            grid, density = az.kde(d)
            ax.plot(grid, density, color=colour, label=label)
    for ax, name in zip(axes, names):
        ax.set(title=name, xlabel="coefficient (probit scale)", ylabel="posterior density")
    axes[0].legend(loc="upper left", fontsize="small")
    fig.suptitle("Probit posteriors: NUTS and Gibbs overlaid")
    fig.tight_layout()
    return fig


def fitted_figure(cells: pd.DataFrame, probit: Fit, logit: Fit):
    fig, ax = plt.subplots(figsize=(8, 4))
    pos = np.arange(len(CELLS))
    for shift, (name, f, colour) in zip([-0.12, 0.12], [("probit", probit, "C0"),
                                                        ("logit", logit, "C1")]):
        p = az.extract(f.idata, var_names="p_new").values
        lo, mid, hi = np.quantile(p, [0.025, 0.5, 0.975], axis=1)
        ax.errorbar(pos + shift, mid, yerr=[mid - lo, hi - mid], fmt="o", color=colour,
                    capsize=4, label=f"{name}: median, 95% interval")
    ax.scatter(pos, cells["observed proportion"], marker="x", color="k", s=60, zorder=3,
               label="observed proportion")
    ax.set_xticks(pos, CELLS.index, rotation=10)
    ax.set(xlabel="seed type, root extract", ylabel="probability of germination",
           title="Fitted germination probabilities: probit vs logit")
    ax.legend()
    return fig


def trace_figure(fit, title: str):
    fig = report.trace_figure(fit.idata, PARAMS, title, figsize=(10, 8), compact=False)
    for ax in fig.axes[::2]:
        ax.set_xlabel("coefficient (probit scale)")
    return fig


def plate_figure(check: pd.DataFrame):
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


# ---------------------------------------------------------------- report

def analyse(args: argparse.Namespace, opts: RunOptions) -> report.Report:
    plates = load(args.data)
    seeds = expand(plates)
    fits = fit_all(seeds, opts)
    nuts, gibbs, logit = fits["probit NUTS"], fits["probit Gibbs"], fits["logit NUTS"]
    rep = report.Report("Probit as a latent variable model: NUTS, Gibbs and the logit")
    rep.fits = [nuts, logit, gibbs]
    rep.problems = [f"{k}: {p}" for k, f in fits.items() if isinstance(f, Fit)
                    for p in f.problems]
    gibbs_problems = diagnose(None, gibbs.idata, PARAMS)
    rep.problems += [f"probit Gibbs: {p}" for p in gibbs_problems]

    agree = agreement(nuts, gibbs)
    eff = efficiency(fits)
    coef, fitted = link_comparison(nuts, logit)
    cells = observed_cells(seeds)
    fitted.insert(0, "observed", cells["observed proportion"])
    ml = pd.concat([mle(seeds, "probit").add_prefix("probit "),
                    mle(seeds, "logit").add_prefix("logit ")], axis=1)
    check, t_obs, ppp = plate_check(plates, nuts, opts.seed)
    clear = coef[coef["clearly non-zero"] == "yes"]
    worst = agree["difference / combined MCSE"].abs()
    rep.answer = (
        f"NUTS and the Albert-Chib Gibbs sampler agree: across the {len(agree)} probit "
        f"coefficients the posterior means differ by at most {worst.max():.1f} combined "
        f"Monte Carlo standard errors ({worst.idxmax()}) and the posterior sds by at most "
        f"{100 * (agree['sd ratio'] - 1).abs().max():.0f}%. Per second of wall time NUTS "
        f"gave {eff.loc['probit NUTS', 'min bulk ESS / s (wall)']:.0f} and Gibbs "
        f"{eff.loc['probit Gibbs', 'min bulk ESS / s (wall)']:.0f} effective draws "
        f"(minimum bulk ESS over the coefficients). The logit coefficients are "
        + ", ".join(f"{r:.2f}" for r in clear["logit / probit"])
        + f" times the probit ones for the clearly non-zero coefficients "
        f"({', '.join(clear.index)}), the usual factor of about 1.6-1.8, while the fitted "
        f"germination probabilities of the two links differ by at most "
        f"{fitted['|difference|'].max():.4f}.")
    print_summary(agree, eff, coef, opts)

    rep.section("Data", report.para(
        f"Crowder (1978) seed germination (BUGS Examples Vol. 1, 'Seeds'): {len(plates)} "
        f"plates of Orobanche aegyptiaca seeds, variety 75 or 73 (seed_type 0/1), on bean "
        f"or cucumber root extract (root_extract 0/1). Each plate is expanded to one "
        f"Bernoulli row per seed: {len(seeds)} seeds, {seeds.germinated.sum()} germinated. "
        f"For a GLM the expansion loses nothing (the likelihoods differ by a constant); "
        f"it gives each seed the latent u_i of the notes. Source: {DATA.name}; see "
        f"data/README.md."), report.table(plates, 0, index=False),
        report.table(cells, {"observed proportion": 3}))
    rep.section("Model", report.para(
        "Latent variable form (the notes): u_i ~ N(alpha + x_i'beta, 1), y_i = 1 if "
        "u_i > 0, so Pr(y_i = 1) = Phi(alpha + x_i'beta), with x_i = (seed_type, "
        "root_extract, seed_type x root_extract). Prior: alpha, beta_k ~ N(0, 10^2) "
        "independently, nearly flat on the probit scale and conjugate for the Gibbs "
        "sampler."), report.para(
        "Stan (probit_regression.stan) integrates u out and samples (alpha, beta) with "
        "NUTS. The Gibbs sampler (Albert and Chib 1993, numpy) alternates u_i | b, y_i ~ "
        "N(w_i'b, 1) truncated to (0, inf) if y_i = 1 and (-inf, 0] if y_i = 0 "
        "(vectorized inverse-CDF draws), and b | u ~ N(V W'u, V) with V = (W'W + I/10^2)^-1, "
        "w_i = (1, x_i), b = (alpha, beta). The logit fit (logistic_regression.stan, "
        "bernoulli_logit_glm) uses the same predictors and prior."))
    rep.section("NUTS vs Gibbs: the same posterior", report.table(
        agree, {"difference / combined MCSE": 2, "sd ratio": 3, "NUTS mean": 3,
                "Gibbs mean": 3, "NUTS sd": 3, "Gibbs sd": 3}),
        report.para("difference / combined MCSE: (NUTS mean - Gibbs mean) / sqrt(mcse_NUTS^2 "
                    "+ mcse_Gibbs^2). Two correct samplers of one posterior give values like "
                    "draws from N(0, 1); |value| > 3 would point to a bug.", "note"),
        report.figure(density_figure(nuts, gibbs), "NUTS and Gibbs densities"),
        report.para("Maximum likelihood (statsmodels Probit and Logit) for reference; with "
                    "a nearly flat prior the posterior means sit next to it:"),
        report.table(ml, 3))
    rep.section("Efficiency: effective draws per second", report.table(
        eff, {"wall time (s)": 1, "sum of chain times (s)": 1, "min bulk ESS": 0,
              "min bulk ESS / s (wall)": 0, "min bulk ESS / chain-second": 0}),
        report.para(
            "Wall time includes warmup. The Stan programs were run without their optional "
            "per-seed log_lik and y_rep output (pointwise = 0), which the Gibbs sampler "
            "does not compute either. CmdStan runs the chains as separate processes, "
            "two at a time on this machine's cores; the Gibbs sampler runs its chains one "
            "after another in one Python process. 'Sum of chain times' removes that "
            "difference. NUTS times exclude compilation; timings on a shared machine are "
            "rough.", "note"),
        report.figure(trace_figure(gibbs, "Trace plots: Albert-Chib Gibbs"), "Gibbs traces"),
        report.figure(trace_figure(nuts, "Trace plots: NUTS"), "NUTS traces"))
    rep.section("Logit vs probit", report.para(
        "Posterior means of the coefficients under the two links. 'Clearly non-zero': "
        "|probit mean| > 3 posterior sd; for coefficients near zero the ratio is noise."),
        report.table(coef, {"logit / probit": 2, "probit mean": 3, "probit sd": 3,
                            "logit mean": 3, "logit sd": 3}),
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
            "the coefficients are the same four probabilities on two different scales.",
            "note"),
        report.figure(fitted_figure(cells, nuts, logit), "fitted probabilities"))
    outside = int(check.outside.sum())
    verdict = ("so the plates vary more than a binomial model allows (extra-binomial "
               "variation): the coefficient intervals above are somewhat too narrow, and the "
               "BUGS 'Seeds' example adds plate random effects for this reason"
               if ppp < 0.05 else
               "so these data show no clear extra-binomial variation between plates")
    rep.section("Plate-level check", report.para(
        f"The Bernoulli model has no plate effects. Replicating each plate's count from "
        f"the probit NUTS fit gives a predictive interval for its germinated count: {outside} "
        f"of {len(check)} plates fall outside their 95% interval, a weak check. A sharper "
        f"one is Pearson's statistic over the 21 plates, T = sum_j (r_j - n_j p_j)^2 / "
        f"(n_j p_j (1 - p_j)): its posterior mean for the observed counts is {t_obs:.1f} "
        f"on 21 plates, and replicated data reach it in only {100 * ppp:.1f}% of draws "
        f"(posterior predictive p-value {ppp:.3f}), {verdict}. The comparisons of "
        f"samplers and links above do not depend on this."),
        report.figure(plate_figure(check), "plate check"),
        report.table(check.drop(columns="outside"), 0, index=False))
    rep.section("Provenance", cli.provenance(
        rep.fits, opts, f"Gibbs sampler: numpy, {opts.chains} chains x ({opts.iter_warmup} "
                        f"warmup + {opts.iter_sampling} draws), seed {opts.seed}."))
    return rep


def print_summary(agree, eff, coef, opts: RunOptions) -> None:
    if opts.quiet:
        return
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(agree.round(3).to_string())
        print(eff.round(1).to_string())
        print(coef.round(3).to_string())


def main(argv: list[str] | None = None) -> int:
    def extend(p):
        p.add_argument("--data", default=DATA, help="seeds CSV (default: %(default)s)")
    return cli.run("probit", __doc__.splitlines()[0], analyse, argv, extend)


if __name__ == "__main__":
    sys.exit(main())
