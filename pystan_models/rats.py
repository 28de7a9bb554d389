"""Varying intercepts and slopes, conjugate priors: NUTS vs Gibbs (rats growth).

Gelfand et al. (1990), section 6: 30 young rats weighed at 8, 15, 22, 29 and 36
days.  Each rat has its own growth line, weight = alpha_i + beta_i age, and the
lines come from a bivariate normal population with mean theta_0 and covariance
Sigma; the hyperpriors are conjugate and vague, as in the notes and BUGS
"Birats".  The same posterior is sampled by Stan's NUTS and by the notes' Gibbs
sampler written in numpy, from the same overdispersed starting points, and the
two are compared for agreement and for effective samples per second.
"""
from __future__ import annotations

import argparse
import sys

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import cli, gibbs_rats, report
from .data import Column, check_rows, data_file, load_csv
from .errors import DataError
from .fitting import Fit, RunOptions, diagnose, posterior_table, sample, say

DATA = data_file("rats.csv")
COLUMNS = [Column("rat", "int", positive=True), Column("age_days"),
           Column("weight", positive=True)]

# Vague conjugate hyperparameters of BUGS "Birats", which says they are equivalent
# to those of Gelfand et al. (1990):  tau_c ~ Gamma(0.001, 0.001) on the precision
# (so sigma^2 ~ IG(0.001, 0.001)), mu.beta ~ N(0, precision 1e-6 I) and the
# precision matrix ~ Wishart(Omega = diag(200, 0.2), 2), i.e. Sigma ~ Inv-Wishart
# with scale rho R = diag(200, 0.2) and rho = 2 degrees of freedom.
HYPER = gibbs_rats.Hyper(a=0.001, b=0.001, eta=(0.0, 0.0), C=((1e6, 0.0), (0.0, 1e6)),
                         rho=2.0, R=((100.0, 0.0), (0.0, 0.1)))
# BUGS Examples Vol. 2 "Birats" (MultiBUGS docs): 2 chains, 20,000 draws after 1,000.
BUGS = {"birth_weight": (106.6, 2.361), "daily_gain": (6.185, 0.1063),
        "sigma": (6.149, 0.4789)}
# Population parameters: what the ESS-per-second comparison is judged on.
MAIN = ["birth_weight", "daily_gain", "sigma", "sd_alpha", "sd_beta", "corr_theta"]
LABELS = {"birth_weight": "alpha_0: weight at birth (g)",
          "daily_gain": "beta_0: daily gain (g/day)",
          "sigma": "sigma: residual sd (g)",
          "sd_alpha": "sqrt(Sigma_11): between-rat sd of alpha_i (g)",
          "sd_beta": "sqrt(Sigma_22): between-rat sd of beta_i (g/day)",
          "corr_theta": "corr(alpha_i, beta_i) from Sigma"}
DEFAULTS = RunOptions(chains=3, iter_warmup=100, iter_sampling=400)


def load(path=DATA) -> pd.DataFrame:
    """Weighings sorted by rat and age; rats must be numbered 1..J with none missing."""
    frame = load_csv(path, COLUMNS)
    check_rows(path, frame, "age_days", frame.age_days < 0, "is a negative age")
    check_rows(path, frame, "age_days", frame.duplicated(["rat", "age_days"]),
               "repeats an age already given for this rat")
    missing = sorted(set(range(1, frame.rat.max() + 1)) - set(frame.rat))
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise DataError(f"{path}, column 'rat': rats are numbered 1..{frame.rat.max()} but "
                        f"rat(s) {shown} have no rows (a group with no data)")
    if frame.age_days.nunique() < 2:
        raise DataError(f"{path}, column 'age_days': every weighing is at the same age, "
                        "so no growth line can be fitted")
    return frame.sort_values(["rat", "age_days"], kind="stable").reset_index(drop=True)


def stan_data(frame: pd.DataFrame, hyper: gibbs_rats.Hyper = HYPER,
              pointwise: bool = False) -> dict:
    """Long format (one row per weighing), with the hyperparameters.  The report
    uses neither log_lik nor y_rep, so by default the programs do not write them."""
    return {"N": len(frame), "J": int(frame.rat.max()), "rat": frame.rat.tolist(),
            "x": frame.age_days.tolist(), "y": frame.weight.tolist(),
            "a": hyper.a, "b": hyper.b, "eta": list(hyper.eta),
            "C": [list(r) for r in hyper.C], "rho": hyper.rho,
            "R": [list(r) for r in hyper.R], "pointwise": int(pointwise)}


def design(frame: pd.DataFrame) -> gibbs_rats.Design:
    return gibbs_rats.Design.of(frame.rat.to_numpy() - 1, frame.age_days, frame.weight,
                                int(frame.rat.max()))


def initial_values(frame: pd.DataFrame, chains: int, seed: int) -> list[dict]:
    """Overdispersed starting points, one per chain, for both samplers.

    Centred on the pooled least-squares line: theta_0 within about 10 standard
    errors of it (far wider than the posterior), Sigma diagonal and sigma^2 with
    variances from e^-3 to e^1 times the pooled scales, theta_i drawn around
    theta_0 from that Sigma.
    """
    rng = np.random.default_rng([seed, 0])
    X = np.column_stack([np.ones(len(frame)), frame.age_days])
    coef, ssr, *_ = np.linalg.lstsq(X, frame.weight.to_numpy(), rcond=None)
    s2 = float(ssr[0]) / (len(frame) - 2) if len(ssr) else float(frame.weight.var())
    se = np.sqrt(s2 * np.diag(np.linalg.inv(X.T @ X)))
    spread = np.array([s2, s2 / frame.age_days.var()])
    J = int(frame.rat.max())
    inits = []
    for _ in range(chains):
        theta_0 = coef + 10 * se * rng.standard_normal(2)
        Sigma = np.diag(spread * np.exp(rng.uniform(-3, 1, 2)))
        theta = theta_0 + rng.standard_normal((J, 2)) * np.sqrt(np.diag(Sigma))
        inits.append({"theta": theta.tolist(), "theta_0": theta_0.tolist(),
                      "Sigma": Sigma.tolist(),
                      "sigma_sq": float(s2 * np.exp(rng.uniform(-3, 1)))})
    return inits


def centred_inits(inits: list[dict], x_bar: float) -> list[dict]:
    """The same starting points in rats_marginal's coordinates: theta_0c = A^-1 theta_0
    and Sigma_c = A^-1 Sigma A^-T, with A = [1, -x_bar; 0, 1] (its theta_i are not
    parameters, so their starting values are dropped)."""
    A_inv = np.array([[1.0, x_bar], [0.0, 1.0]])
    return [{"theta_0c": (A_inv @ np.asarray(i["theta_0"])).tolist(),
             "Sigma_c": (A_inv @ np.asarray(i["Sigma"]) @ A_inv.T).tolist(),
             "sigma_sq": i["sigma_sq"]} for i in inits]


def coords_dims(frame: pd.DataFrame) -> tuple[dict, dict]:
    coords = {"rat": np.arange(1, frame.rat.max() + 1), "coef": ["alpha", "beta"],
              "coef_": ["alpha", "beta"], "weighing": np.arange(len(frame))}
    dims = {"theta": ["rat", "coef"], "theta_0": ["coef"], "Sigma": ["coef", "coef_"],
            "y": ["weighing"]}
    return coords, dims


def fit_nuts(frame: pd.DataFrame, opts: RunOptions, inits: list[dict],
             program: str = "rats_conjugate") -> Fit:
    """``rats_conjugate`` samples everything; ``rats_marginal`` integrates the theta_i
    out, draws them afterwards, and moves in centred coordinates.  Its 6 parameters
    are correlated a posteriori, so NUTS adapts a dense metric for it: cheap at this
    size, and measured at 4 x 1000 x 1000 it gives about 40% more ESS per second of
    chain time for the worst parameter than the diagonal metric."""
    coords, dims = coords_dims(frame)
    marginal = program == "rats_marginal"
    if marginal:
        inits = centred_inits(inits, frame.age_days.mean())
    return sample(program, stan_data(frame), opts, main=MAIN, inits=inits,
                  observed={"y": frame.weight}, coords=coords, dims=dims,
                  metric="dense_e" if marginal else "diag_e")


def fit_gibbs(frame: pd.DataFrame, opts: RunOptions, inits: list[dict]) -> gibbs_rats.GibbsRun:
    say(opts, f"sampling with the numpy Gibbs sampler: {len(inits)} chains x "
              f"({opts.iter_warmup} dropped + {opts.iter_sampling} kept)")
    coords, _ = coords_dims(frame)
    return gibbs_rats.sample(design(frame), HYPER, inits, opts.iter_warmup,
                             opts.iter_sampling, opts.seed, coords=coords)


def side_by_side(runs: dict) -> pd.DataFrame:
    """Posterior mean, sd, 95% interval, bulk ESS and MCSE per sampler, by parameter."""
    parts = [posterior_table(run.idata, MAIN)[["mean", "sd", "2.5%", "97.5%", "ess_bulk",
                                                 "mcse_mean"]].add_prefix(f"{name} ")
             for name, run in runs.items()]
    out = pd.concat(parts, axis=1)
    out["BUGS mean"] = [BUGS.get(p, (np.nan, np.nan))[0] for p in MAIN]
    out["BUGS sd"] = [BUGS.get(p, (np.nan, np.nan))[1] for p in MAIN]
    return out


def shown(table: pd.DataFrame, samplers: list[str]) -> pd.DataFrame:
    """The side-by-side table as text: 'mean (sd)' to the sd's precision, and ESS."""
    rows = {}
    for p, r in table.iterrows():
        d = max(0, 2 - int(np.floor(np.log10(r[f"{samplers[0]} sd"]))))
        row = {f"{k} mean (sd)": f"{r[f'{k} mean']:.{d}f} ({r[f'{k} sd']:.{d}f})"
               for k in samplers}
        row["BUGS mean (sd)"] = ("" if np.isnan(r["BUGS mean"]) else
                                 f"{r['BUGS mean']:g} ({r['BUGS sd']:g})")
        row.update({f"{k} bulk ESS": f"{r[f'{k} ess_bulk']:.0f}" for k in samplers})
        rows[LABELS[p]] = row
    return pd.DataFrame(rows).T


def efficiency(runs: dict) -> pd.DataFrame:
    """Wall time, worst bulk ESS over the population parameters, and ESS per second;
    the last column relative to the first sampler."""
    rows = {}
    for name, run in runs.items():
        ess = az.ess(run.idata, var_names=MAIN)
        worst = min(MAIN, key=lambda v: float(ess[v]))
        rows[name] = {"wall time (s)": run.seconds,
                      "min bulk ESS": float(ess[worst]), "worst parameter": worst,
                      "min bulk ESS / s": float(ess[worst]) / run.seconds,
                      "bulk ESS / s, alpha_0": float(ess["birth_weight"]) / run.seconds,
                      "bulk ESS / s, beta_0": float(ess["daily_gain"]) / run.seconds}
        if isinstance(run, Fit):
            mv = run.fit.method_variables()
            rows[name]["NUTS step size"] = float(mv["stepsize__"][0].mean())
            rows[name]["leapfrog steps per draw"] = float(mv["n_leapfrog__"].mean())
    out = pd.DataFrame(rows).T
    numeric = out.columns.drop("worst parameter")
    out[numeric] = out[numeric].astype(float)
    out[f"min bulk ESS / s vs {out.index[0]}"] = (out["min bulk ESS / s"]
                                                  / out["min bulk ESS / s"].iloc[0])
    return out


def agreement(runs: dict, a: str, b: str, var_names: list[str] = MAIN) -> pd.Series:
    """|difference in posterior means| in units of its Monte Carlo standard error."""
    sa, sb = (posterior_table(runs[k].idata, var_names) for k in (a, b))
    return (sa["mean"] - sb["mean"]).abs() / np.hypot(sa["mcse_mean"], sb["mcse_mean"])


# --- figures ----------------------------------------------------------------------

def growth_figure(frame: pd.DataFrame, run):
    fig, ax = plt.subplots(figsize=(8, 5))
    for _, g in frame.groupby("rat"):
        ax.plot(g.age_days, g.weight, color="0.6", lw=0.8, marker=".")
    age = np.linspace(0, frame.age_days.max(), 50)
    post = az.extract(run.idata, var_names=["birth_weight", "daily_gain"])
    lines = post["birth_weight"].values[:, None] + post["daily_gain"].values[:, None] * age
    lo, mid, hi = np.quantile(lines, [0.025, 0.5, 0.975], axis=0)
    ax.fill_between(age, lo, hi, color="C0", alpha=0.3)
    ax.plot(age, mid, color="C0", lw=2, label="average rat, alpha_0 + beta_0 age "
                                               "(median, 95% band)")
    ax.plot([], [], color="0.6", marker=".", label="each rat's weighings")
    ax.set(xlabel="age (days)", ylabel="weight (g)", xlim=(0, None),
           title="Rats' growth and the population line, extrapolated to birth")
    ax.legend(loc="upper left")
    return fig


def density_figure(runs: dict):
    axes = az.plot_density([r.idata for r in runs.values()], var_names=["theta_0"],
                           data_labels=list(runs), shade=0.1, hdi_prob=0.99,
                           figsize=(10, 3.8))
    axes = np.ravel(axes)
    for ax, what in zip(axes, ["alpha_0: weight at birth (g)", "beta_0: daily gain (g/day)"]):
        ax.set_title(f"theta_0: {what}")
        ax.set_xlabel(what)
        ax.set_ylabel("posterior density")
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].get_legend().remove()
    fig = axes[0].figure
    fig.legend(handles, labels, loc="lower center", ncol=len(labels),
               bbox_to_anchor=(0.5, -0.12), frameon=False)
    fig.suptitle("Kernel density estimates of the population intercept and slope", y=1.05)
    return fig


def trace_figure(name: str, run):
    return report.trace_figure(run.idata, ["theta_0", "sigma", "corr_theta"],
                               f"Trace plots: {name}", figsize=(10, 6.5), compact=False)


# --- the report -------------------------------------------------------------------

def analyse(args: argparse.Namespace, opts: RunOptions) -> report.Report:
    frame = load(args.data)
    inits = initial_values(frame, opts.chains, opts.seed)
    nuts = fit_nuts(frame, opts, inits)
    marginal = fit_nuts(frame, opts, inits, program="rats_marginal")
    gibbs = fit_gibbs(frame, opts, inits)
    runs = {"NUTS": nuts, "NUTS marginal": marginal, "Gibbs": gibbs}
    rep = report.Report("Rats growth: varying intercepts and slopes, NUTS vs Gibbs")
    gibbs.main = MAIN
    rep.fits = [nuts, marginal, gibbs]
    rep.problems = ([f"NUTS: {p}" for p in nuts.problems]
                    + [f"NUTS marginal: {p}" for p in marginal.problems]
                    + [f"Gibbs: {p}" for p in diagnose(None, gibbs.idata, MAIN)])

    table = side_by_side(runs)
    eff = efficiency(runs)
    z = {k: agreement(runs, "NUTS", k) for k in ("Gibbs", "NUTS marginal")}
    n = posterior_table(nuts.idata, MAIN)
    g = posterior_table(gibbs.idata, MAIN)
    speed = eff[eff.columns[-1]]
    rep.answer = (
        f"The average rat weighs about {n.loc['birth_weight', 'mean']:.0f} g at birth "
        f"(posterior mean {n.loc['birth_weight', 'mean']:.1f} g, 95% interval "
        f"{n.loc['birth_weight', '2.5%']:.1f} to {n.loc['birth_weight', '97.5%']:.1f}) and "
        f"gains about {n.loc['daily_gain', 'mean']:.1f} g per day "
        f"({n.loc['daily_gain', 'mean']:.2f}, {n.loc['daily_gain', '2.5%']:.2f} to "
        f"{n.loc['daily_gain', '97.5%']:.2f}), by NUTS; the numpy Gibbs sampler gives "
        f"{g.loc['birth_weight', 'mean']:.1f} g and {g.loc['daily_gain', 'mean']:.2f} g/day "
        f"(BUGS Birats: 106.6 g and 6.185 g/day). Rats differ: the between-rat sd is "
        f"{n.loc['sd_alpha', 'mean']:.1f} g in weight at birth and "
        f"{n.loc['sd_beta', 'mean']:.2f} g/day in gain, around a residual sd of "
        f"{n.loc['sigma', 'mean']:.1f} g. The samplers agree: Gibbs's posterior means "
        f"differ from NUTS's by at most {z['Gibbs'].max():.1f} Monte Carlo standard "
        f"errors (the marginal program's by {z['NUTS marginal'].max():.1f}). In effective "
        f"draws per second of the worst-mixing population parameter, Gibbs is "
        f"{speed['Gibbs']:.1f} times and the program with the rats' lines integrated out "
        f"{speed['NUTS marginal']:.1f} times as fast as plain NUTS "
        f"({eff.loc['NUTS', 'min bulk ESS / s']:.0f} per second).")
    say(opts, shown(table, list(runs)).iloc[:, :4].to_string())

    wide = frame.pivot(index="rat", columns="age_days", values="weight")
    wide.columns = [f"day {c:g}" for c in wide.columns]
    rep.section("Data", report.para(
        f"Gelfand et al. (1990), BUGS Examples Vol. 1 'Rats': {frame.rat.nunique()} rats, "
        f"{len(frame)} weighings (grams) at ages "
        f"{', '.join(f'{a:g}' for a in sorted(frame.age_days.unique()))} days. "
        f"Source: {DATA.name}; see data/README.md."),
        report.figure(growth_figure(frame, nuts), "growth curves"),
        "<details><summary>All weighings (g)</summary>" + report.table(wide, 0) + "</details>")
    rep.section("Model and hyperparameters", report.para(
        "Y_ij ~ N(alpha_i + beta_i x_ij, sigma^2) with x_ij the age in days, uncentred, so "
        "alpha_i is rat i's weight at birth and beta_i its daily gain; "
        "theta_i = (alpha_i, beta_i) ~ N(theta_0, Sigma); sigma^2 ~ IG(a, b); "
        "theta_0 ~ N(eta, C); Sigma ~ Inv-Wishart(rho R, rho), i.e. Sigma^-1 ~ "
        "Wishart((rho R)^-1, rho)."), report.table(hyper_table(), 3, index=False),
        report.para(
        "These are the values of BUGS Examples Vol. 2 'Birats', which states that they "
        "are equivalent to Gelfand et al.'s: tau_c ~ Gamma(0.001, 0.001) on the precision "
        "1/sigma^2 (so sigma^2 ~ IG(0.001, 0.001)); N(0, precision 10^-6) on each "
        "component of theta_0; and dwish(Omega, 2) with Omega = diag(200, 0.2) on the "
        "precision matrix Sigma^-1. BUGS parameterises the Wishart by the inverse of the "
        "usual scale, so this is Sigma ~ Inv-Wishart(Omega, 2): rho = 2, as small as "
        "BUGS allows (the rank of Sigma; the vaguest choice), and rho R = Omega, R = "
        "diag(100, 0.1), a prior guess at the order of magnitude of Sigma (intercepts "
        "varying by about 10 g between rats, slopes by about 0.3 g/day). The inverse "
        "gamma(0.001, 0.001) prior is kept only because this example replicates the "
        "notes and BUGS; elsewhere the project uses weakly informative priors on scales. "
        "With rho = 2 the inverse Wishart prior has no finite mean: it is very diffuse, "
        "and the 30 rats dominate it.", "note"))
    rep.section("Starting values", report.para(
        f"{opts.chains} chains for each sampler, started from the same overdispersed "
        f"points: theta_0 drawn 10 standard errors either side of the pooled "
        f"least-squares line, Sigma and sigma^2 scaled by factors between e^-3 and e^1, "
        f"each theta_i drawn from N(theta_0, Sigma). {opts.iter_warmup} iterations are "
        f"dropped and {opts.iter_sampling} kept per chain (the notes: 500 iterations, "
        f"the first 100 dropped)."), report.table(inits_table(inits), 2))
    both = shown(table, list(runs))
    for k, v in z.items():
        both[f"|NUTS - {k}| / MCSE"] = v.map(lambda e: f"{e:.2f}").values
    rep.section("Posterior summaries: NUTS vs Gibbs", report.table(both),
        report.para("Posterior mean (sd). BUGS: MultiBUGS "
                    "Birats results (2 chains x 20,000 draws after 1,000). Last columns: "
                    "the difference between two samplers' posterior means divided by its "
                    "Monte Carlo standard error, sqrt(MCSE_1^2 + MCSE_2^2); values beyond "
                    "about 3 would mean a real disagreement.", "note"))
    rep.section("Posterior densities of the population intercept and slope",
                report.figure(density_figure(runs), "kernel densities of theta_0"),
                report.para("Each curve is drawn over that sampler's 99% highest-density "
                            "interval; the dots mark the posterior means.", "note"))
    rep.section("Trace plots", *[report.figure(trace_figure(k, r), f"{k} trace")
                                 for k, r in runs.items()])
    rep.section("Effective samples per second", report.para(
        "NUTS: rats_conjugate.stan, every theta_i a parameter (66 in all), as the notes "
        "write the model. NUTS marginal: rats_marginal.stan, the same posterior with "
        "each theta_i integrated out, y_i ~ N(X_i theta_0, X_i Sigma X_i' + sigma^2 I), "
        "so NUTS moves in 6 dimensions (centred age, dense metric), and rats weighed at "
        "the same ages share one set of 2 x 2 algebra in each gradient; theta_i is then "
        "drawn exactly from its full "
        "conditional N(D_i d_i, D_i) in generated quantities. Gibbs: the notes' sampler, "
        "all chains advanced together in numpy."), report.table(
        eff, {"wall time (s)": 2, "min bulk ESS": 0, "min bulk ESS / s": 1,
              "bulk ESS / s, alpha_0": 1, "bulk ESS / s, beta_0": 1,
              "NUTS step size": 3, "leapfrog steps per draw": 1, eff.columns[-1]: 1}),
        report.para("Wall time includes warmup (and, for Stan, starting the processes and "
                    "reading their output). Stan runs its chains as parallel processes; "
                    "the Gibbs chains share one Python process. Worst parameter: the "
                    "population parameter with the smallest bulk ESS. Timings depend on "
                    "the machine and its load; the ratios are the point. NUTS adapts its step "
                    "size and metric during warmup: with only 100 warmup iterations (the "
                    "notes' run) adaptation is cut short, the step size stays small and "
                    "each draw costs many leapfrog steps; for a fair speed comparison run "
                    "with --chains 4 --iter-warmup 1000 --iter-sampling 1000.", "note"))
    rep.section("Provenance", cli.provenance(
        rep.fits, opts, f"Gibbs sampler: pystan_models/gibbs_rats.py, numpy "
                                f"{np.__version__}, seed {opts.seed}, "
                                f"{gibbs.seconds:.2f} s."))
    return rep


def hyper_table() -> pd.DataFrame:
    h = HYPER
    return pd.DataFrame({
        "hyperparameter": ["a", "b", "eta", "C", "rho", "R", "rho R"],
        "value": [f"{h.a:g}", f"{h.b:g}", str(list(h.eta)), _mat(h.C), f"{h.rho:g}",
                  _mat(h.R), _mat(h.rho * np.asarray(h.R))],
        "role": ["sigma^2 ~ IG(a, b): shape", "scale", "prior mean of theta_0",
                 "prior covariance of theta_0 (sd 1000)", "Inv-Wishart degrees of freedom",
                 "prior guess at Sigma's scale", "Inv-Wishart scale matrix (BUGS Omega)"]})


def _mat(m) -> str:
    m = np.asarray(m, dtype=float)
    if np.count_nonzero(m - np.diag(np.diag(m))):
        return str(m.tolist())
    return "diag(" + ", ".join(f"{v:g}" for v in np.diag(m)) + ")"


def inits_table(inits: list[dict]) -> pd.DataFrame:
    return pd.DataFrame({
        "alpha_0": [i["theta_0"][0] for i in inits], "beta_0": [i["theta_0"][1] for i in inits],
        "sqrt(Sigma_11)": [np.sqrt(i["Sigma"][0][0]) for i in inits],
        "sqrt(Sigma_22)": [np.sqrt(i["Sigma"][1][1]) for i in inits],
        "sigma": [np.sqrt(i["sigma_sq"]) for i in inits]},
        index=[f"chain {c + 1}" for c in range(len(inits))])


def main(argv: list[str] | None = None) -> int:
    def extend(p):
        p.add_argument("--data", default=DATA, help="rats CSV (default: %(default)s)")
    return cli.run("rats", __doc__.splitlines()[0], analyse, argv, extend, defaults=DEFAULTS)


if __name__ == "__main__":
    sys.exit(main())
