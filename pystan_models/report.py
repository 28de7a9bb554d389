"""Self-contained HTML reports: tables, embedded figures, written atomically."""
from __future__ import annotations

import base64
import datetime
import html
import io
import os
import tempfile
import warnings
from pathlib import Path

import hashlib
import importlib.metadata
import numpy as np
import pandas as pd

# Reports go to ./reports under the working directory unless --output says otherwise.
REPORTS_DIR = Path("reports")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child,td.text{text-align:left}
.answer{background:#eef5ff;border-left:4px solid #3a7bd5;padding:.8em 1em}
.problems{background:#fff0f0;border:2px solid #c00;padding:.6em 1em;margin:1em 0}
.problems h2{color:#c00;border:none;margin-top:0}
.expected{background:#fff8e6;border-left:4px solid #e0a000;padding:.5em 1em;margin:1em 0}
.ok{background:#effaf0;border-left:4px solid #2a2;padding:.5em 1em}
.note{color:#555;font-size:.92em}
img{max-width:100%;height:auto}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}
"""


def esc(text: str) -> str:
    return html.escape(str(text))


def para(text: str, cls: str | None = None) -> str:
    return f'<p{f" class={cls!r}" if cls else ""}>{esc(text)}</p>'


def figure(fig, alt: str) -> str:
    """Embed a matplotlib figure as a base64 PNG and close it."""
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def _arviz_figure(plot, data, title: str, figsize, **kw):
    """An arviz-plots figure (matplotlib backend) of ``data``, titled."""
    import arviz as az
    pc = getattr(az, plot)(data, backend="matplotlib",
                           figure_kwargs={"figsize": figsize}, **kw)
    fig = pc.viz["figure"].item()
    fig.suptitle(title)
    return pc, fig


def _posteriors(fits: dict, var_names: list[str]) -> dict:
    """Each fit's posterior of ``var_names`` alone, in that order (arviz-plots lays
    the panels out in the data's order, not the order asked for)."""
    import xarray as xr
    return {k: xr.DataTree.from_dict({"posterior": f.idata["posterior"].to_dataset()[
        var_names]}) for k, f in fits.items()}


def trace_figure(idata, var_names: list[str], title: str, figsize=None,
                 compact: bool = True):
    """ArviZ trace plots (density left, draws right; one line per chain)."""
    _, fig = _arviz_figure("plot_trace_dist", idata, title,
                           figsize or (10, 1.6 + 1.5 * len(var_names)),
                           var_names=var_names, compact=compact,
                           visuals={"trace": {"alpha": 0.6, "width": 0.6}})
    axes = fig.axes   # (density, draws) for each row
    for density, trace in zip(axes[::2], axes[1::2]):
        name = trace.get_ylabel() or density.get_xlabel()
        density.set(title=name, xlabel="")
        trace.set(title=name, ylabel="")
        if trace.get_xlabel():
            trace.set_xlabel("draw (after warmup; one line per chain)")
    fig.tight_layout()
    return fig


def density_figure(fits: dict, var_names: list[str], title: str, figsize=(10, 3.5),
                   ci_prob: float = 0.95):
    """ArviZ posterior densities of ``var_names``, one colour per fit, each with its
    median and central ``ci_prob`` interval below the curve."""
    pc, fig = _arviz_figure("plot_dist", _posteriors(fits, var_names), title,
                            figsize, ci_kind="eti", ci_prob=ci_prob,
                            point_estimate="median", kind="kde",
                            visuals={"point_estimate_text": False})
    pc.add_legend("model", loc="upper center", bbox_to_anchor=(0.5, 0.0),
                  ncol=len(fits), frameon=False)
    fig.suptitle(title, y=1.06)   # above the panels' own titles
    return fig


def forest_figure(fits: dict, var_names: list[str], title: str, figsize=(9, 8),
                  ci_probs=(0.5, 0.95), coords: dict | None = None):
    """ArviZ forest plot: per parameter and fit, the median, the central 50% and
    95% intervals (``coords``: the coordinates shown, e.g. some groups)."""
    pc, fig = _arviz_figure("plot_forest", _posteriors(fits, var_names), title,
                            figsize, combined=True, ci_kind="eti", coords=coords,
                            ci_probs=list(ci_probs), point_estimate="median")
    pc.add_legend("model")
    return fig


def kde_line(ax, values, label: str | None = None, fill: float = 0.0, **style):
    """ArviZ's kernel density of ``values`` drawn on ``ax`` (for figures that mark
    reference values on the density)."""
    import arviz as az
    grid, density, _ = az.kde(np.asarray(values, dtype=float).ravel())
    line, = ax.plot(grid, density, label=label, **style)
    if fill:
        ax.fill_between(grid, density, color=line.get_color(), alpha=fill)
    return line


def table(frame: pd.DataFrame, digits: int | dict = 2, index: bool = True,
          escape: bool = True) -> str:
    """A DataFrame as an HTML table, numbers rounded to ``digits`` decimals and
    right-aligned, text left-aligned."""
    shown = frame.copy()
    text = [not pd.api.types.is_numeric_dtype(shown[c]) for c in shown.columns]
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            d = digits.get(col, 2) if isinstance(digits, dict) else digits
            shown[col] = shown[col].map(lambda v, d=d: "" if pd.isna(v) else f"{v:,.{d}f}")
    html_text = shown.to_html(index=index, escape=escape, border=0)
    rows = html_text.split("<tr")
    for r, row in enumerate(rows):
        cells = row.split("<td>")
        rows[r] = cells[0] + "".join(
            ('<td class="text">' if i < len(text) and text[i] else "<td>") + cell
            for i, cell in enumerate(cells[1:]))
    return "<tr".join(rows)


def code(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"


class Report:
    """A report built section by section; nothing touches disk until :meth:`write`."""

    def __init__(self, title: str):
        self.title = title
        self.answer = ""
        self.problems: list[str] = []   # failed diagnostics the conclusions rest on
        self.expected: list[str] = []   # diagnostics that fail on purpose (improper cases)
        self.notes: list[str] = []      # diagnostics noted, not counted (--quick)
        self.problems_title = "Sampler diagnostics failed"
        self.passed = "All sampler diagnostics passed for the fits the conclusions rest on."
        self.sections: list[tuple[str, str]] = []
        self.fits: list = []  # the fits shown, for provenance and the collection index

    def section(self, title: str, *parts: str) -> None:
        self.sections.append((title, "\n".join(parts)))

    def render(self) -> str:
        problems = ""
        if self.problems:
            items = "".join(f"<li>{esc(p)}</li>" for p in self.problems)
            problems = (f'<div class="problems" id="diagnostics-failed">'
                        f"<h2>{esc(self.problems_title)}</h2><ul>{items}</ul></div>")
        else:
            problems = f'<p class="ok">{esc(self.passed)}</p>'
        if self.expected:
            items = "".join(f"<li>{esc(p)}</li>" for p in self.expected)
            problems += ('<div class="expected"><b>Failing on purpose</b> (the fits that '
                         f"show what goes wrong; see their sections):<ul>{items}</ul></div>")
        if self.notes:
            items = "".join(f"<li>{esc(p)}</li>" for p in self.notes)
            problems += ('<div class="expected"><b>Short chains</b> (a quick or '
                         "prior-only run): bulk ESS above all is expected to fall "
                         "below the thresholds, so these shortfalls are noted, not "
                         f"counted:<ul>{items}</ul></div>")
        toc = "".join(f'<li><a href="#s{i}">{esc(t)}</a></li>'
                      for i, (t, _) in enumerate(self.sections))
        body = "\n".join(f'<h2 id="s{i}">{esc(t)}</h2>\n{h}'
                         for i, (t, h) in enumerate(self.sections))
        answer = f'<div class="answer">{esc(self.answer)}</div>' if self.answer else ""
        stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
                f"<title>{esc(self.title)}</title><style>{_CSS}</style></head><body>"
                f"<h1>{esc(self.title)}</h1>{answer}{problems}<ul>{toc}</ul>{body}"
                f'<p class="note">Written by pystan_models on {esc(stamp)}.</p>'
                "</body></html>\n")

    def write(self, path: Path | str) -> Path:
        """Write the whole report atomically: a reader never sees half a file."""
        return write_atomic(path, self.render())


def write_atomic(path: Path | str, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a
    rename: a reader (or a concurrent run) sees the whole old file or the whole new
    one, never half of either."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def file_hash(path: Path | str) -> str:
    """sha256 of a file, 16 hex digits."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def frame_hash(frame: pd.DataFrame) -> str:
    """sha256 of a frame's values and column names, 16 hex digits."""
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def models(fits) -> str:
    """Each distinct program's own description (its header comment), so the report
    describes the program that ran, priors included; numpy samplers are named."""
    from . import programs
    parts, seen = [], set()
    for f in fits:
        key = f.stan_path or f.program
        if key in seen:
            continue
        seen.add(key)
        if f.stan_path:   # the first open, the others folded (they are alike)
            name = Path(f.stan_path).name
            parts.append(f"<details{' open' if not parts else ''}><summary><b>{esc(name)}"
                         f"</b></summary>{code(programs.header(Path(f.stan_path).stem))}"
                         "</details>")
        else:
            parts.append(f"<h3>{esc(f.program)}</h3>{para(f.sampler + ' (see below)')}")
    return "\n".join(parts)


def provenance(results) -> str:
    """Exactly how the report was made: options, CmdStan and library versions, the
    data (with hashes) and every fit's program (with its hash and source)."""
    from . import cmdstan, programs
    opts = results.options
    try:
        home = cmdstan.find_cmdstan()
        version = cmdstan.version_of(home) if home else "none found"
    except Exception:   # provenance never fails a report
        version = "unknown"
    libs = ", ".join(f"{lib} {importlib.metadata.version(lib)}"
                     for lib in ("cmdstanpy", "arviz", "numpy", "pandas"))
    data_rows = []
    for name, frame in results.data.items():
        source = frame.attrs.get("source", "data frame")
        digest = (file_hash(source) if Path(source).is_file() else frame_hash(frame))
        data_rows.append({"data": name, "source": source, "rows": len(frame),
                          "sha256 (16)": digest})
    fit_rows = [{"fit": label, "program or sampler": f.program, "sampler": f.sampler,
                 "file": Path(f.stan_path).name if f.stan_path else "",
                 "program sha256 (16)": (programs.source_hash(Path(f.stan_path).stem)
                                         if f.stan_path else ""),
                 "sampling time (s)": f.seconds}
                for label, f in results.fits.items()]
    sources = "".join(
        f"<details><summary>{esc(Path(p).name)}</summary>{code(Path(p).read_text())}"
        "</details>" for p in dict.fromkeys(f.stan_path for f in results.fits.values()
                                            if f.stan_path))
    return (f"<p>CmdStan {esc(version)}; {esc(libs)}; seed {opts.seed}; {opts.chains} "
            f"chains x ({opts.iter_warmup} warmup + {opts.iter_sampling} draws); run on "
            f"{datetime.date.today().isoformat()}.</p>"
            + (table(pd.DataFrame(data_rows), index=False) if data_rows else "")
            + table(pd.DataFrame(fit_rows), 1, index=False) + sources)


# ---------------------------------------------------------------- predictive checks

# ArviZ's figure for each kind of outcome: a density overlay for continuous
# outcomes, a hanging rootogram for counts (Kleiber and Zeileis 2016), observed
# counts against their replicated intervals for binomial rows, and the PAV-adjusted
# calibration curve (Dimitriadis et al. 2021) for 0/1 rows.
PPC_PLOTS = {"continuous": "plot_ppc_dist", "counts": "plot_ppc_rootogram",
             "binomial": "plot_ppc_interval", "binary": "plot_ppc_pava"}
PPC_DRAWS = 400
PPC_WHAT = {
    "continuous": "the observed outcomes' distribution (black) should look like one "
                  "more of the replicated data sets' (blue)",
    "counts": "the observed frequency of each count (black) should lie inside its "
              "replicated interval (blue), on a square-root scale (ArviZ draws this "
              "rootogram standing, with intervals, rather than hanging)",
    "binomial": "each observed count (black) should sit inside its replicated interval",
    "binary": "the calibration curve (observed event rate against predicted "
              "probability) should follow the diagonal within its band",
}


def _kind(idata, name: str, outcome: str) -> str:
    if outcome == "binomial" and np.isin(idata["observed_data"][name].values, (0, 1)).all():
        return "binary"
    return outcome


def outcome_kind(idata, name: str, outcome: str) -> str:
    """The kind of outcome ``name`` is ("continuous", "counts", "binomial", or
    "binary" for 0/1 rows of a binomial outcome)."""
    return _kind(idata, name, outcome)


def _observed_name(idata) -> str | None:
    if idata is None or not {"posterior_predictive", "observed_data"} <= set(idata.children):
        return None
    names = set(idata["observed_data"].data_vars) & set(idata["posterior_predictive"].data_vars)
    return next(iter(sorted(names)), None)


def ppc_statistics(idata, name: str, kind: str) -> str:
    """One sentence of numbers a reader can check against the figure."""
    y = np.asarray(idata["observed_data"][name].values, float).ravel()
    rep = idata["posterior_predictive"][name].values
    rep = rep.reshape(-1, y.size).astype(float)
    if kind == "binomial":
        lo, hi = np.quantile(rep, [0.05, 0.95], axis=0)
        inside = np.mean((y >= lo) & (y <= hi))
        return (f"{inside:.0%} of the {y.size} observed counts lie inside their central "
                "90% replicated interval (about 90% expected if the model fits).")
    if kind == "counts":
        zeros, rep_zeros = np.mean(y == 0), np.mean(rep == 0, axis=1)
        lo, hi = np.quantile(rep_zeros, [0.025, 0.975])
        verdict = "inside" if lo <= zeros <= hi else "outside"
        return (f"Share of zeros: observed {zeros:.1%}, replicated 95% interval "
                f"{lo:.1%} to {hi:.1%} ({verdict}).")
    stats = {"mean": (y.mean(), rep.mean(axis=1))}
    if kind == "continuous":
        stats["sd"] = (y.std(ddof=1), rep.std(axis=1, ddof=1))
    p = {k: float(np.mean(r >= v)) for k, (v, r) in stats.items()}
    bad = [k for k, v in p.items() if not 0.025 <= v <= 0.975]
    return ("Posterior predictive p-values, P(T(y_rep) >= T(y)): "
            + ", ".join(f"{k} {v:.2f}" for k, v in p.items())
            + (f"; {' and '.join(bad)} outside 0.025 to 0.975: the model misses it."
               if bad else " (both inside 0.025 to 0.975)." if len(p) > 1 else
               " (inside 0.025 to 0.975)."))


def loo_pit_sentence(idata, name: str) -> str:
    """The LOO-PIT figure's sentence, with the test the figure shows (ArviZ's
    pointwise-order uniformity test, valid for LOO-PIT values, which are not
    independent) and the share of values in the outer 10%."""
    import arviz as az
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lpv = az.loo_pit(idata, var_names=[name], pareto_pit=True)
        p_values, _, _ = lpv.azstats.uniformity_test(dim=list(lpv.dims), method="pot_c")
    p = float(p_values[name])
    pit = np.asarray(lpv[name].values, float).ravel()
    tails = np.mean((pit < 0.05) | (pit > 0.95))
    return (f"LOO-PIT values should be uniform (the curve near zero): ArviZ's uniformity "
            f"test, the p in the figure, gives p = {p:.2f}"
            + (" - below 0.01: the model's predictive distributions are off where "
               "the points are marked" if p < 0.01 else "")
            + f"; {tails:.0%} of the values lie in the outer 10% (10% expected).")


def predictive_checks(fits: dict, outcome: str) -> list[str]:
    """Per fit with replicated data: ArviZ's predictive check figure for the kind of
    ``outcome`` ("continuous", "counts" or "binomial": 0/1 rows are drawn as
    "binary") and, with a pointwise log-likelihood, its LOO-PIT, each with a
    sentence."""
    import warnings
    parts = []
    for label, f in fits.items():
        name = _observed_name(f.idata)
        if name is None:
            continue
        kind = _kind(f.idata, name, outcome)
        extra = {"data_type": "binary"} if kind == "binary" else {}
        # the figure from at most PPC_DRAWS draws (the sentence uses them all); CmdStan
        # writes integer draws as floats; a rootogram's counts beyond the observed
        # range pooled in one bin off the axis (ArviZ counts every value one by one)
        data = f.idata.copy()
        pp = data["posterior_predictive"].to_dataset()
        pp = pp.isel(draw=slice(None, None, max(1, pp.sizes["draw"] * pp.sizes["chain"]
                                                // PPC_DRAWS)))
        top = float(np.max(f.idata["observed_data"][name].values))
        if kind == "counts":
            pp[name] = pp[name].clip(max=np.ceil(1.1 * top) + 1)
        if kind != "continuous":
            pp[name] = pp[name].astype(np.int64)
        data["posterior_predictive"] = pp
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, fig = _arviz_figure(PPC_PLOTS[kind], data, f"{label}: posterior "
                                   "predictive check", (7, 2.8), var_names=[name], **extra)
        fig.suptitle(f"{label}: posterior predictive check", y=1.06)
        if kind == "counts":        # the observed range, not the replicated tail
            for ax in fig.axes:
                ax.set_xlim(-0.5, np.ceil(1.1 * top) + 0.5)
        parts += [f"<h3>{esc(label)}</h3>", figure(fig, f"{label} predictive check"),
                  para(f"What to look for: {PPC_WHAT[kind]}. "
                       + ppc_statistics(f.idata, name, kind))]
        if "log_likelihood" in f.idata.children:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                _, fig = _arviz_figure("plot_loo_pit", f.idata, f"{label}: LOO-PIT",
                                       (7, 2.6), var_names=[name])
                fig.suptitle(f"{label}: LOO-PIT", y=1.06)
                parts += [figure(fig, f"{label} LOO-PIT"),
                          para(loo_pit_sentence(f.idata, name))]
    return parts


# ------------------------------------------------------------------------- priors

PRIOR_NOTE = ("Each row is a prior statement of the program's model block that applies "
              "with the data the fit was given (file and line; the data fields it reads "
              "and their values; 'as used' fills them in, as rstanarm's prior_summary "
              "gives the adjusted scales), or a parameter no statement gives a prior: "
              "flat, improper, so there is no prior predictive check for that fit.")


def prior_figure(summaries: dict):
    """ArviZ densities of the prior predictive distribution of each fit's summary
    statistic (log10 for an sd), the observed value marked (black line)."""
    import xarray as xr
    variables, observed, statistics = {}, {}, set()
    for label, s in summaries.items():
        values = np.asarray(s["_draws"], float)
        obs = s["observed"]
        name = label
        if s["statistic"].startswith("sd"):
            values, obs = np.log10(values), np.log10(obs)
        statistics.add("log10 sd of y" if s["statistic"].startswith("sd")
                       else s["statistic"])
        values = values[np.isfinite(values)]
        if values.size < 2 or np.ptp(values) == 0:
            continue
        variables[name] = values
        observed[name] = obs
    if not variables:
        return None
    n = min(v.size for v in variables.values())   # one draw dimension for all
    variables = {k: (("chain", "draw"), v[None, :n]) for k, v in variables.items()}
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset(variables)})
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, fig = _arviz_figure("plot_dist", tree, "Prior predictive distributions",
                               (10, 1.2 + 2.2 * ((len(variables) + 2) // 3)),
                               kind="kde", point_estimate="median",
                               visuals={"point_estimate_text": False})
    for ax in fig.axes:
        title = ax.get_title()
        if title in observed:
            ax.axvline(observed[title], color="black", lw=1.5)
        ax.title.set_fontsize(8)
    fig.suptitle(f"Prior predictive distribution of the {' / '.join(sorted(statistics))}"
                 " of replicated data sets (black line: observed)", y=1.04)
    return fig


def add_priors(rep: "Report", priors: pd.DataFrame, checks: pd.DataFrame,
               summaries: dict) -> None:
    """The Priors section (after the example's own, if it wrote one, else after
    its Model section): the program's priors, then the prior predictive checks."""
    parts = ["<h3>As the programs state them</h3>",
             table(priors, 3, index=False) if len(priors)
             else para("No Stan program fitted.", "note"),
             para(PRIOR_NOTE, "note")]
    if len(checks):
        shown = checks.drop(columns=["largest"], errors="ignore")
        parts += ["<h3>Prior predictive checks</h3>", para(
            "Each fit with a proper prior run again with prior_only = 1 (the likelihood "
            "left out, short chains): replicated outcomes drawn from the prior alone, "
            "summarised against the observed data."), table(shown, 3, index=False)]
        fig = prior_figure(summaries)
        if fig is not None:
            parts.append(figure(fig, "prior predictive distributions"))
    elif len(priors):
        proper = priors.get("proper", pd.Series(dtype=str)).astype(str).eq("yes").any()
        parts.append(para("No prior predictive check: " + (
            "the fits with proper priors write no replicated data (pointwise output "
            "off, as for large data)." if proper else "no fit has a proper prior."),
            "note"))
    titles = [t for t, _ in rep.sections]
    if "Priors" in titles:
        i = titles.index("Priors")
        rep.sections[i] = ("Priors", rep.sections[i][1] + "\n" + "\n".join(parts))
    else:
        i = titles.index("Model") + 1 if "Model" in titles else len(titles)
        rep.sections.insert(i, ("Priors", "\n".join(parts)))



PREDICTIONS_SHOWN = 50      # rows of the predictions table in the report (all in the CSV)


def add_predictions(rep: "Report", predictions: pd.DataFrame, source: str,
                    not_predicting=()) -> None:
    """The Predictions section: what was predicted from what, a sentence on the new
    groups (their intervals should be wider: the group effect is drawn from the
    population) and on fits that cannot predict them, and the table (the first
    rows; every row in the CSV)."""
    fits = list(dict.fromkeys(predictions["fit"]))
    n = int((predictions["fit"] == fits[0]).sum())
    outcome = [c[:-5] for c in predictions.columns if c.endswith(" mean")][0]
    expected = [c[:-5] for c in predictions.columns if c.endswith(" mean")][1]
    text = (f"{n} row(s) of {source} predicted by {', '.join(fits)}: for each row the "
            f"posterior predictive distribution of {outcome} (a draw of the outcome "
            f"per posterior draw) and of its expected value ({expected}), made by each "
            f"fit's own program on its draws (cmdstanpy's generate_quantities, no "
            f"refit); q5 and q95 bound the 90% interval.")
    new = predictions["new group"].to_numpy(bool)
    if new.any():
        width = predictions[f"{outcome} q95"] - predictions[f"{outcome} q5"]
        first = predictions["fit"] == fits[0]
        known = (f" against {width[first & ~new].median():.3g} for rows of known "
                 f"groups" if (~new[first]).any() else "")
        text += (f" {int(new[first].sum())} row(s) have a group the data did not "
                 f"(new group): their group effect is drawn from the population "
                 f"distribution, which widens their intervals (median 90% width "
                 f"{width[first & new].median():.3g}{known}, {fits[0]}).")
    if not_predicting:
        text += (f" {' and '.join(map(repr, not_predicting))} cannot predict these rows: "
                 f"its group effects are fixed effects, with none for a new group.")
    shown = predictions.head(PREDICTIONS_SHOWN * len(fits)) if len(fits) == 1 else \
        predictions.groupby("fit", sort=False).head(PREDICTIONS_SHOWN)
    more = (f" The table shows the first {PREDICTIONS_SHOWN} rows per fit; the CSV "
            f"has all {len(predictions)}." if len(shown) < len(predictions) else "")
    rep.section("Predictions", para(text + more),
                table(shown.assign(**{"new group": np.where(
                    shown["new group"], "new group", "")}), 3, index=False))
