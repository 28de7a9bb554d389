"""Priors as the programs state them, and prior predictive checks.

Every Stan program of the package writes its priors out in its ``model`` block
(the notes' flat ones as "nothing is added"), switched by data fields.  This
module reads them from the ``.stan`` file itself, with the data a fit was given:
one row per prior statement that applies (its file and line, the data fields it
reads, and its arguments with those fields' values filled in, rstanarm's
``prior_summary`` "adjusted scale"), and one row per parameter no statement
gives a prior (flat, improper).  A fit whose priors are all proper is run again
with ``prior_only = 1`` (:func:`prior_predictive`), through
:func:`fitting.sample`, so saved runs keep and replay those fits too.
"""
from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pandas as pd

from . import programs
from .fitting import Fit, RunOptions, draws, sample, say

PRIOR_DRAWS = 250             # draws per chain of a prior-only fit
PRIOR_WARMUP = 250
PLACEHOLDER_DRAWS = 20        # per chain, of a --prior-only placeholder (no sampling)
IMPROPER_NO_CHECK = "no prior predictive check: the prior is improper"
# a prior "allows absurd outcomes" when, in its typical replicated data set ...
ABSURD_RANGE_RATIO = 10.0     # ... the 99% range is 10 times as wide as the data's
ABSURD_MAX_RATIO = 100.0      # ... the largest count is 100 times the observed one
ABSURD_RATE_SHARE = 0.25      # ... (a quarter of them) the event rate is < 1% or > 99%

_IDENT = re.compile(r"[A-Za-z_]\w*")
_DENSITY = re.compile(r"(\w+?)_(lpdf|lpmf|lupdf|lupmf)\s*\(")
_CONTROL = re.compile(r"(if|for|while|profile)\b\s*\(")
_SAFE = {"sqrt": np.sqrt, "square": np.square, "exp": np.exp, "log": np.log,
         "inv": lambda v: 1 / np.asarray(v), "rep_vector": lambda v, n: np.full(n, v)}


@dataclasses.dataclass
class Statement:
    """One statement of a program's model block, with the conditions (``if``
    tests, each True for the branch taken, False for an ``else``) around it."""
    text: str
    line: int
    conditions: list[tuple[str, bool]]


# --- reading a program -----------------------------------------------------------

def _without_comments(text: str) -> str:
    """The program with its comments blanked out, line numbers kept."""
    blank = lambda m: re.sub(r"[^\n]", " ", m.group(0))
    return re.sub(r"/\*.*?\*/|//[^\n]*", blank, text, flags=re.S)


def _block(src: str, name: str) -> tuple[int, int] | None:
    """(start, end) of the body of block ``name`` (e.g. "model", "parameters")."""
    m = re.search(rf"(?<!transformed )\b{name}\s*\{{", src)
    if not m:
        return None
    depth, i = 1, m.end()
    while depth:
        depth += {"{": 1, "}": -1}.get(src[i], 0)
        i += 1
    return m.end(), i - 1


def _close(src: str, i: int, pair="()") -> int:
    """The index after the bracket that closes the one at ``i``."""
    depth = 0
    while True:
        depth += (src[i] == pair[0]) - (src[i] == pair[1])
        i += 1
        if depth == 0:
            return i


def _skip(src: str, i: int) -> int:
    while i < len(src) and src[i].isspace():
        i += 1
    return i


def _statement(src: str, i: int, conds, out: list[Statement]) -> int:
    """Parse one statement (or block, or if/else chain) at ``i``; return the end."""
    i = _skip(src, i)
    if src[i] == "{":
        i += 1
        while src[_skip(src, i)] != "}":
            i = _statement(src, i, conds, out)
        return _skip(src, i) + 1
    m = _CONTROL.match(src, i)
    if m:
        end = _close(src, m.end() - 1)
        head = src[m.end():end - 1].strip()
        if m.group(1) != "if":
            return _statement(src, end, conds, out)
        after = _statement(src, end, conds + [(head, True)], out)
        k = _skip(src, after)
        if re.match(r"else\b", src[k:k + 5]):
            return _statement(src, k + 4, conds + [(head, False)], out)
        return after
    end = src.index(";", i)
    out.append(Statement(" ".join(src[i:end].split()), src.count("\n", 0, i) + 1,
                         list(conds)))
    return end + 1


def model_statements(src: str) -> list[Statement]:
    start, end = _block(src, "model")
    out: list[Statement] = []
    i = start
    while _skip(src, i) < end:
        i = _statement(src, i, [], out)
    return out


def declared_parameters(src: str) -> dict[str, str]:
    """Each parameter's name -> its declaration (type, bounds, sizes)."""
    where = _block(src, "parameters")
    if where is None:
        return {}
    body = src[where[0]:where[1]]
    out = {}
    for decl in body.split(";"):
        decl = " ".join(decl.split())
        if decl:
            out[_IDENT.findall(decl)[-1]] = decl
    return out


# --- evaluating against the data ---------------------------------------------------

def _python(expr: str) -> str:
    expr = expr.replace("&&", " and ").replace("||", " or ")
    return re.sub(r"!(?!=)", " not ", expr)


def _value(expr: str, data: dict):
    """``expr`` evaluated with the data's values, or None when it needs more
    (parameters, transformed data, functions this reader does not know)."""
    names = {k: np.asarray(v) if isinstance(v, list) else v for k, v in data.items()}
    try:
        with np.errstate(all="ignore"):
            return eval(_python(expr), {"__builtins__": {}, **_SAFE}, names)
    except Exception:
        return None


def _shown(value) -> str:
    a = np.asarray(value, float)
    if a.ndim == 0:
        return f"{float(a):.3g}"
    if a.size and np.all(a == a.flat[0]):
        return f"{a.flat[0]:.3g}" + (f" (each of {a.size})" if a.size > 1 else "")
    return "[" + ", ".join(f"{v:.3g}" for v in a.flat[:6]) + (", ..." if a.size > 6
                                                               else "") + "]"


def _split_args(text: str) -> list[str]:
    args, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch in "([{") - (ch in ")]}")
        if ch in ",|" and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return args + ([cur.strip()] if cur.strip() else [])


def _active(conds, data) -> bool | None:
    """Whether the conditions hold for ``data`` (None: cannot tell)."""
    known = True
    for head, taken in conds:
        v = _value(head, data)
        if v is None:
            known = False
        elif bool(v) != taken:
            return False
    return True if known else None


def _parts(text: str):
    """(left-hand side, distribution, its arguments, a named density?) of a
    sampling statement or ``target +=``; None for any other statement."""
    if "~" in text:
        lhs, rhs = text.split("~", 1)
        m = re.match(r"\s*(\w+)\s*\(", rhs)
        if not m:
            return None
        return lhs.strip(), m.group(1), _split_args(rhs[m.end():_close(rhs, m.end() - 1)
                                                        - 1]), True
    m = re.match(r"target\s*\+=\s*(.*)", text)
    if not m:
        return None
    d = _DENSITY.search(m.group(1))
    if d is None:
        return m.group(1), None, [], False
    inner = m.group(1)[d.end():_close(m.group(1), d.end() - 1) - 1]
    args = _split_args(inner)
    return args[0], d.group(1), args[1:], True


def _size_zero(decl: str, data: dict) -> bool:
    sizes = re.findall(r"\[([^\[\]]+)\]", decl)
    return any(_value(s, data) == 0 for dims in sizes for s in _split_args(dims))


def _fields(text: str, data: dict) -> list[str]:
    return [n for n in dict.fromkeys(_IDENT.findall(text))
            if n in data and np.ndim(data[n]) == 0 and n not in ("N", "K", "J")]


def program_priors(program: str, data: dict) -> tuple[pd.DataFrame, bool]:
    """The priors of ``program`` given ``data``: a table (parameter, prior as the
    program states it, as used with the data's values, where it is set) and
    whether every parameter has a proper prior."""
    path = programs.stan_file(program)
    src = _without_comments(path.read_text())
    params = {k: d for k, d in declared_parameters(src).items() if not _size_zero(d, data)}
    where = f"stan/{path.name}"
    rows, covered, improper = [], set(), set()
    off: dict[str, tuple[list[str], dict]] = {}   # statements switched off
    for st in model_statements(src):
        parts = _parts(st.text)
        if parts is None or any("prior_only" in h for h, _ in st.conditions):
            continue
        lhs, dist, args, density = parts
        names = [n for n in dict.fromkeys(_IDENT.findall(lhs)) if n in params]
        if not names:
            continue        # a likelihood: the data on the left
        active = _active(st.conditions, data)
        test = " and ".join(h if t else f"not ({h})" for h, t in st.conditions)
        fields = _fields(" ".join([test, *args]), data)
        values = ", ".join(f"{n} = {_shown(data[n])}" for n in fields)
        if active is False:
            for n in names:
                lines, said = off.setdefault(n, ([], {}))
                lines.append(str(st.line))
                said.update((k, _shown(data[k])) for k in _fields(test, data))
            continue
        used = [_shown(v) if (v := _value(a, data)) is not None
                and np.asarray(v).dtype.kind in "biuf" else a for a in args]
        (covered if density else improper).update(names)
        rows.append({"parameter": ", ".join(names), "prior (as the program states it)":
                     st.text, "as used": f"{dist}({', '.join(used)})" if dist else
                     "improper (a log density written out, not a distribution)",
                     "set in": f"{where}:{st.line}" + (f" if {test}" if test else "")
                     + (f"; data: {values}" if values else "")})
    for n, decl in params.items():
        if n in covered or n in improper:
            continue
        bounds = dict(re.findall(r"(lower|upper)\s*=\s*([^,>]+)", decl))
        if {"lower", "upper"} <= set(bounds):
            what = f"uniform({bounds['lower']}, {bounds['upper']}), from its bounds"
        else:
            what = "flat (improper)" + (f" on ({bounds['lower']}, inf)"
                                        if "lower" in bounds else "")
            improper.add(n)
        lines, said = off.get(n, ([], {}))
        rows.append({"parameter": n, "prior (as the program states it)":
                     "none: nothing is added to target", "as used": what,
                     "set in": f"{where}: {decl}" + (
                         f"; line{'s' * (len(lines) > 1)} {', '.join(lines)} off with "
                         + ", ".join(f"{k} = {v}" for k, v in said.items())
                         if lines else "")})
    return pd.DataFrame(rows), not improper


# --- every fit of a run --------------------------------------------------------------

def priors_table(fits: dict[str, Fit]) -> pd.DataFrame:
    """The Priors table of a report: each fit's program priors, fits with the same
    rows shown once (``fits`` lists them), with a column saying whether a prior
    predictive check was run."""
    groups: dict[str, tuple[list[str], pd.DataFrame, bool]] = {}
    for label, f in fits.items():
        if f.spec is None:
            continue
        table, proper = program_priors(f.spec["program"], f.spec["data"])
        key = table.to_json()
        groups.setdefault(key, ([], table, proper))[0].append(label)
    parts = [t.assign(fits=", ".join(labels), proper=["yes" if proper else
                      f"no: {IMPROPER_NO_CHECK}"] + [""] * (len(t) - 1))
             for labels, t, proper in groups.values()]
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    return out[["fits", *[c for c in out.columns if c not in ("fits",)]]]


def prior_only_data(data: dict) -> dict:
    """``data`` with the likelihood off and the replicates on."""
    return {**data, "prior_only": 1, "pointwise": 1,
            **({"log_lik_only": 0} if "log_lik_only" in data else {})}


def short_options(opts: RunOptions) -> RunOptions:
    """The short chains of a prior-only fit (their ESS shortfalls are notes)."""
    return dataclasses.replace(opts, iter_sampling=PRIOR_DRAWS, quick=True,
                               iter_warmup=min(opts.iter_warmup, PRIOR_WARMUP) or 1)


def _key(program: str, data: dict) -> tuple:
    return program, repr(sorted((k, repr(v)) for k, v in data.items()))


def observed(spec: dict) -> dict | None:
    """The observed outcome a fit's replicates pair with: as the example gave it,
    else the data contract's ``y`` (an example that samples without replicates)."""
    if spec["observed"]:
        return spec["observed"]
    return {"y": spec["data"]["y"]} if "y" in spec["data"] else None


def _prior_only_fit(f: Fit, opts: RunOptions) -> Fit:
    spec = f.spec
    data, short = prior_only_data(spec["data"]), short_options(opts)
    dims = {k: list(v) for k, v in spec["dims"].items()} if spec["dims"] else None
    # one line of progress, the sampler's own quiet: a prior-only fit of a heavy-tailed
    # prior hits tree depths that are no warning about the posterior
    say(opts, f"prior predictive check: {spec['program']} with prior_only = 1 "
              f"({short.chains} chains x {short.iter_sampling} draws)")
    return sample(spec["program"], data, dataclasses.replace(short, quiet=True),
                  main=spec["main"],
                  observed=observed(spec), coords=spec["coords"], dims=dims,
                  y_rep=spec["y_rep"], log_lik=spec["log_lik"],
                  cpp_options=spec["cpp_options"])


def prior_predictive(fits: dict[str, Fit], opts: RunOptions) -> dict[str, Fit]:
    """The prior-only fit of each fit with a proper prior and replicated data
    (fits of the same program and data share one)."""
    out, made = {}, {}
    for label, f in fits.items():
        spec = f.spec
        if spec is None or not observed(spec) or "prior_only" not in spec["data"]:
            continue
        if not program_priors(spec["program"], spec["data"])[1]:
            continue
        key = _key(spec["program"], spec["data"])
        if key not in made:
            made[key] = _prior_only_fit(f, opts)
        if "posterior_predictive" in made[key].idata.children:
            out[label] = made[key]
    return out


def _trials(f: Fit, n: int):
    t = f.spec["data"].get("trials") if f.spec else None
    return np.asarray(t, float) if t is not None and np.size(t) == n else None


def statistic(kind: str) -> str:
    return {"continuous": "sd of y", "counts": "share of zeros",
            "binomial": "event rate", "binary": "event rate"}[kind]


def summary(f: Fit, prior: Fit, kind: str) -> dict:
    with np.errstate(all="ignore"):     # a vague prior's draws overflow in squares
        return _summary(f, prior, kind)


def _summary(f: Fit, prior: Fit, kind: str) -> dict:
    """The prior predictive distribution of the outcome against the observed:
    the statistic of :func:`statistic` per replicated data set, and the range."""
    name, y = next(iter(observed(f.spec).items()))
    y = np.asarray(y, float).ravel()
    rep = draws(prior.idata, name, "posterior_predictive").reshape(-1, y.size)
    rep = rep.astype(float)
    finite = rep[np.isfinite(rep).all(axis=1)]
    trials = _trials(f, y.size)
    if kind == "continuous":
        obs, per_draw = y.std(ddof=1), finite.std(axis=1, ddof=1)
    elif kind == "counts":
        obs, per_draw = np.mean(y == 0), np.mean(finite == 0, axis=1)
    elif trials is not None:
        obs, per_draw = y.sum() / trials.sum(), finite.sum(axis=1) / trials.sum()
    else:
        obs, per_draw = y.mean(), finite.mean(axis=1)
    lo, hi = np.quantile(finite, [0.005, 0.995]) if finite.size else (np.nan, np.nan)
    q = np.quantile(per_draw, [0.05, 0.5, 0.95]) if per_draw.size else [np.nan] * 3
    return {"statistic": statistic(kind), "observed": float(obs),
            "prior 5%": q[0], "prior median": q[1], "prior 95%": q[2],
            "observed range": f"{y.min():.4g} to {y.max():.4g}",
            "prior predictive 99% range": f"{lo:.4g} to {hi:.4g}",
            "largest": float(np.max(np.abs(finite))) if finite.size else np.nan,
            "non-finite draws": int(len(rep) - len(finite)),
            "_draws": per_draw, "_y": y, "_rep": finite, "_trials": trials}


def absurd(label: str, s: dict, kind: str) -> str | None:
    """A clause naming what the prior of fit ``label`` allows that is absurd, from
    the numbers, or None."""
    y, rep = s["_y"], s["_rep"]
    if not rep.size:
        return None
    if kind == "continuous":
        lo, hi = np.quantile(rep, [0.005, 0.995])
        ratio = (hi - lo) / np.ptp(y) if np.ptp(y) > 0 else np.inf
        if ratio >= ABSURD_RANGE_RATIO:
            return (f"under {label} 1% of replicated outcomes lie outside {lo:.4g} to "
                    f"{hi:.4g}, a range {ratio:.3g} times as wide as the observed "
                    f"{s['observed range']}")
    elif kind == "counts":
        top, observed = np.median(rep.max(axis=1)), max(y.max(), 1)
        if top >= ABSURD_MAX_RATIO * observed:
            return (f"under {label} the largest count of a typical replicated data "
                    f"set is {top:.3g}, {top / observed:.3g} times the observed "
                    f"largest ({y.max():.0f})")
    else:
        rates = s["_draws"]
        share = np.mean((rates < 0.01) | (rates > 0.99))
        if share >= ABSURD_RATE_SHARE:
            return (f"under {label} {share:.0%} of replicated data sets have an event "
                    f"rate below 1% or above 99% (observed {s['observed']:.1%})")
    return None


def absurd_sentence(clauses: list[str]) -> str | None:
    """The answer's one sentence on priors that allow absurd outcomes."""
    if not clauses:
        return None
    return ("Prior predictive checks: the prior allows absurd outcomes - "
            + "; ".join(clauses) + ".")


def check(fits: dict[str, Fit], priors: dict[str, Fit], outcome: str, kind_of
          ) -> tuple[pd.DataFrame, dict[str, dict], list[str]]:
    """(table, each fit's summary, clauses on absurd outcomes) of the prior
    predictive checks; ``kind_of(idata, name, outcome)`` says the outcome's kind."""
    rows, summaries, sentences = [], {}, []
    for label, prior in priors.items():
        f = fits[label]
        kind = kind_of(prior.idata, next(iter(observed(f.spec))), outcome)
        s = summary(f, prior, kind)
        summaries[label] = s
        rows.append({"fit": label, **{k: v for k, v in s.items()
                                      if not k.startswith("_")}})
        with np.errstate(all="ignore"):
            clause = absurd(label, s, kind)
        if clause:
            sentences.append(clause)
    return pd.DataFrame(rows), summaries, sentences


# --- --prior-only: the prior predictive check alone -----------------------------------

class PriorOnly:
    """A session (:func:`fitting.session`) in which no posterior is sampled: each
    Stan program's fit is its prior-only fit (short chains, prior_only = 1) when
    its prior is proper, else a placeholder that samples nothing (CmdStan's
    fixed_param run at the initial values, only so the example's analysis runs
    on); a Gibbs sampler's is a placeholder of its own (a few draws of one short
    chain, not a posterior sample); the prior-only fits the analysis then asks for
    are the same ones."""
    reruns = True

    def __init__(self, opts: RunOptions):
        self.opts, self.made, self.placeholders = opts, {}, 0
        self.calls: list[Fit] = []     # each Stan program's fit, as the analysis got it

    def remembered(self, name, inputs, compute, encode, decode):
        return compute()

    def call(self, name, inputs, run, constant_data=None, rerun=None) -> Fit:
        if rerun is None:            # replicates: as they are
            return run()
        if constant_data is None:    # a Gibbs sampler: a placeholder's few draws
            return rerun(None, self.placeholder_options())
        data = prior_only_data(constant_data)
        key = _key(name, data)
        if key in self.made:
            f = self.made[key]
            f = dataclasses.replace(f, idata=f.idata.copy(), summaries={},
                                    problems=list(f.problems), notes=list(f.notes))
        elif program_priors(name, constant_data)[1]:
            f = self.made[key] = rerun(data, short_options(self.opts))
        else:
            self.placeholders += 1
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")    # constant draws: no R-hat
                f = rerun(data, self.placeholder_options(), fixed_param=True,
                          adapt_delta=None)
        if constant_data.get("prior_only") != 1:    # the analysis' own fit
            self.calls.append(f)
        return f

    def placeholder_options(self) -> RunOptions:
        return dataclasses.replace(self.opts, iter_warmup=1, quick=True, quiet=True,
                                   iter_sampling=PLACEHOLDER_DRAWS)

    def results(self, module, analysed=None):
        """The Results of the prior predictive check: the analysis' fits (by the
        labels it gave them, if it got through on the placeholders' draws; else by
        program), their priors and prior-only fits.  Call inside the session."""
        from .results import Results
        labels = {id(f): k for k, f in (analysed.fits.items() if analysed else ())}
        fits: dict[str, Fit] = {}
        for f in self.calls:
            label, n = labels.get(id(f), f.program), 2
            while label in fits:
                label, n = f"{labels.get(id(f), f.program)} ({n})", n + 1
            fits[label] = f
        # run as `python -m pystan_models.counts`, the module's __name__ is __main__
        name = (module.__spec__.name if module.__spec__ else module.__name__
                ).rsplit(".", 1)[-1]
        return Results(name, module.TITLE, self.opts, fits, tables={}, answer="")


def prior_only_answer(table: pd.DataFrame, checks: pd.DataFrame,
                      clauses: list[str]) -> str:
    """The answer of a --prior-only report: which fits have proper priors, how the
    outcome's prior predictive distribution compares with the data."""
    fits = [f for labels in table["fits"].drop_duplicates() for f in labels.split(", ")] \
        if len(table) else []
    text = (f"Prior predictive check only (--prior-only): no posterior was sampled. "
            f"{len(checks)} of {len(fits)} fits have a proper prior and were run with "
            "prior_only = 1" + ("; the others' priors are improper (flat), so they "
                                "have none" if len(checks) < len(fits) else "") + ".")
    for _, row in checks.iterrows():
        text += (f" {row['fit']}: {row['statistic']} observed {row['observed']:.3g}, "
                 f"prior predictive median {row['prior median']:.3g} (90% interval "
                 f"{row['prior 5%']:.3g} to {row['prior 95%']:.3g}).")
    sentence = absurd_sentence(clauses)
    return f"{text} {sentence}" if sentence else text
