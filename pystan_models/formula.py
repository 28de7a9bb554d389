"""A user's data frame and an lme4/brms/bambi-style formula, as validated design
matrices for the project's Stan programs.

The formula is parsed and evaluated by ``formulae`` (bambi's engine), never by hand:
``p(successes, trials)`` responses, ``C()`` and numpy transforms, interactions and
group terms ``(1 + x | g)``.  Columns and terms are named as formulae names them
(``C(sex)[M]``, ``treat:base``, ``1|school``, ``ses|school``).  Every data problem is
one :class:`~pystan_models.errors.DataError` naming the source, the column and the
1-based data row, raised before anything is compiled.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .data import FRAME, INT_MAX, check_rows, shown
from .errors import DataError, PystanModelsError

FAMILIES = ("gaussian", "binomial", "bernoulli", "poisson")

# Bare names formulae resolves itself, not as columns: its contrast encodings, as in
# C(g, Sum) (formulae.categorical.ENCODINGS, the same two in formulae 0.6.2 and 0.9.0).
ENCODINGS = ("Treatment", "Sum")


class FormulaError(PystanModelsError):
    """A formula that an example cannot fit."""


@dataclass(frozen=True)
class GroupTerm:
    """The varying coefficients of one grouping factor (one cluster, the notes' Z
    gamma).  formulae splits ``(1 + ses | school)`` into the terms ``1|school`` and
    ``ses|school`` (and cannot tell it from ``(1|school) + (ses|school)``); here they
    are one cluster per factor, named ``1 + ses|school``."""
    name: str
    factor: str
    levels: list[str]        # level labels, in formulae's (sorted) order
    index: np.ndarray        # 1-based level of each row
    Z: np.ndarray            # N x L: the row's values for the cluster's coefficients
    coef_names: list[str]    # formulae's names: ["1|school", "ses|school"]


@dataclass(frozen=True)
class Design:
    """What the Stan programs take: ``y``, ``X`` (common terms, no intercept
    column), group clusters, and the scales needed for default priors.  ``rows`` are
    the 0-based positions, in the user's frame, of the rows kept; after
    :func:`aggregate_bernoulli`, ``row_map[i]`` is the aggregated row of original
    row ``i`` (0-based)."""
    formula: str
    family: str
    source: str
    response_name: str
    y: np.ndarray
    trials: np.ndarray | None
    log_exposure: np.ndarray | None
    X: np.ndarray
    intercept: bool
    common_names: list[str]
    groups: list[GroupTerm]
    dropped_rows: int
    rows: np.ndarray
    x_mean: np.ndarray
    x_sd: np.ndarray
    y_sd: float              # sd(y); for binomial, of y / trials
    row_map: np.ndarray | None = None
    # what new rows need (:func:`new_rows`): the columns the terms read, the
    # trials (a column, a constant, or None: one per row) and exposure columns,
    # and formulae's design matrices, which evaluate new rows with the fitted
    # encodings
    inputs: tuple[str, ...] = ()
    trials_from: str | int | None = None
    exposure: str | None = None
    matrices: object = field(default=None, repr=False, compare=False)

    @property
    def needs(self) -> list[str]:
        """The columns a new row must have: the terms' inputs, the trials and
        exposure columns."""
        return list(self.inputs) + [c for c in (self.trials_from, self.exposure)
                                    if isinstance(c, str) and c not in self.inputs]


def design(frame: pd.DataFrame, formula: str, *, family: str, source: str = FRAME,
           exposure: str | None = None, trials: str | None = None,
           dropna: bool = False, check_rank: bool = True) -> Design:
    """Validate ``frame`` against ``formula`` and build the :class:`Design`.

    family: "gaussian"; "binomial" (``p(successes, trials) ~ ...``, a count response
    with ``trials=`` a column, or a 0/1 response); "bernoulli" (0/1); "poisson"
    (counts, with ``exposure=`` a column of positive values).  ``dropna`` drops the
    rows with an empty cell in a used column instead of failing; ``check_rank=False``
    skips the full-rank check (the notes' models as formulas, which read new rows
    for predictions: the notes' data have their own checks)."""
    if family not in FAMILIES:
        raise PystanModelsError(f"family must be one of {', '.join(FAMILIES)}, "
                                f"not {family!r}")
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, not {type(frame).__name__}")
    frame = frame.rename(columns=str).reset_index(drop=True)
    if frame.empty:
        raise DataError(f"{source}: no data rows (columns: "
                        f"{', '.join(frame.columns) or 'none'})")
    from formulae import model_description   # here: slow to import; a rebuild needs none
    try:
        desc = model_description(formula)
    except Exception as exc:     # formulae's ScanError, ParseError, TypeError
        raise DataError(f"{source}: formula {formula!r} cannot be parsed: "
                        f"{_one_line(exc)}") from None
    if desc.response is None:
        raise DataError(f"{source}: formula {formula!r} has no response (y ~ ...)")
    if _bare_bar(formula):     # formulae drops "| g" from "y ~ x | g" without a word
        raise DataError(f"{source}: formula {formula!r} has a '|' outside "
                        f"parentheses; write a group term in parentheses, as in "
                        f"y ~ x + (1 | g)")
    options = [c for c in (exposure, trials) if c is not None]
    used = sorted(v for v in desc.var_names       # I(x * 2) adds a name ''
                  if v and (v in frame.columns or v not in ENCODINGS))
    used += [c for c in options if c not in used]
    missing = [c for c in used if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: no column(s) {', '.join(map(repr, missing))} "
                        f"(named in the formula or an option); the columns are "
                        f"{', '.join(map(repr, frame.columns))}")
    fail = _Failer(frame, source)
    blank = pd.DataFrame({c: frame[c].isna() | (frame[c].astype(str).str.strip() == "")
                          for c in used})
    if not dropna:
        for col in sorted(used, key=lambda c: blank[c].to_numpy().argmax()
                          if blank[c].any() else len(frame)):   # first bad row first
            fail(col, blank[col], "is empty (NaN or blank): fill it in, or drop "
                 "such rows (dropna)")
    rows = np.flatnonzero(~blank.any(axis=1).to_numpy())
    if len(rows) == 0:
        raise DataError(f"{source}: no rows left after dropping the rows with "
                        f"empty cells in {', '.join(used)}")
    fail.rows = rows
    data = frame.loc[rows, used].reset_index(drop=True)
    call = desc.response.term.components[0]
    lazy = getattr(call, "call", None)
    binomial_call = lazy is not None and getattr(lazy, "callee", None) == "p"
    args = _proportion_args(lazy, call.name, source) if binomial_call else []
    outcome = ([name for name, value in args if value is None] if binomial_call
               else sorted(desc.response.var_names))
    factors = {v for t in desc.terms if type(t).__name__ == "GroupSpecificTerm"
               for v in t.factor.var_names}
    for col in used:
        data[col] = _numeric(data[col], col, fail, must=col in outcome + options,
                             keep_text=col in factors)
    if binomial_call and family != "binomial":
        fit = [e for e, f in EXAMPLES.items() if "binomial" in f.families]
        raise DataError(f"{source}: {call.name} is a binomial response "
                        f"(successes, trials), not a {family} one; "
                        f"{', '.join(fit)} fit binomial responses")
    if binomial_call:         # checked here: formulae's own check names no row
        resp = np.column_stack([data[name].to_numpy(float) if value is None else
                                np.full(len(data), value, dtype=float)
                                for name, value in args])
        y, n = _response(resp, family, [name for name, _ in args], data, trials, fail)
    from formulae import design_matrices
    try:
        with np.errstate(all="ignore"):          # np.log(0): named below, by row
            dm = design_matrices(formula, data, na_action="error")
    except Exception as exc:
        raise DataError(f"{source}: formula {formula!r} cannot be evaluated: "
                        f"{_one_line(exc)}") from None
    if not binomial_call:
        y, n = _response(np.asarray(dm.response.design_matrix), family,
                         outcome if [dm.response.name] == outcome else
                         [dm.response.name],
                         data, trials, fail)
    log_exposure = None
    if exposure is not None:
        if family != "poisson":
            raise PystanModelsError(f"exposure= is for Poisson counts, not {family}")
        fail(exposure, data[exposure] <= 0, "exposure must be positive")
        log_exposure = np.log(data[exposure].to_numpy(float))
    if dm.common is None:   # no common terms at all, e.g. "y ~ 0 + (1 | g)"
        full, names = np.empty((len(data), 0)), []
    else:
        full = np.asarray(dm.common.design_matrix, dtype=float)
        names = [lab for t in dm.common.terms.values() for lab in t.labels]
    for j, name in enumerate(names):
        fail(name, ~np.isfinite(full[:, j]), "is not a finite number", full[:, j])
    if check_rank:     # off for a design that only reads new rows (predictions)
        _check_rank(full, names, source)
    intercept = dm.common is not None and "Intercept" in dm.common.terms
    X = full[:, 1:] if intercept else full
    def sd(a, axis=None):
        return np.std(a, ddof=1, axis=axis) if len(a) > 1 else np.zeros_like(
            np.mean(a, axis=axis))
    trials_from = (args[1][0] if args[1][1] is None else args[1][1]) if binomial_call \
        else trials
    return Design(formula, family, source, dm.response.name, y, n, log_exposure, X,
                  intercept, names[1:] if intercept else names, _groups(dm, source),
                  len(frame) - len(rows), rows, X.mean(axis=0), sd(X, axis=0),
                  float(sd(y / n if n is not None else y)),
                  inputs=tuple(c for c in used if c not in outcome + options),
                  trials_from=trials_from, exposure=exposure, matrices=dm)


def _bare_bar(formula: str) -> bool:
    """Whether ``formula`` has a ``|`` outside parentheses (and outside quotes)."""
    depth, quote = 0, None
    for ch in formula:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
    return False


def _proportion_args(lazy, name: str, source: str) -> list[tuple[str, int | None]]:
    """The (successes, trials) of ``p(successes, trials)``: (column, None) for a
    column, (``name``, n) for a constant number of trials, as in
    ``p(dead, 6)``.  formulae's parsed arguments are LazyVariable (``.name``) and
    LazyValue (``.value``) in both formulae 0.6.2 and 0.9.0."""
    args = list(getattr(lazy, "args", []))
    if len(args) != 2 or not hasattr(args[0], "name"):
        raise DataError(f"{source}: the response {name} must be p(successes, "
                        f"trials), successes a column and trials a column or a "
                        f"whole number")
    out: list[tuple[str, int | None]] = [(args[0].name, None)]
    if hasattr(args[1], "name"):
        return out + [(args[1].name, None)]
    value = getattr(args[1], "value", None)
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not 1 <= value <= INT_MAX or value != int(value)):
        raise DataError(f"{source}: the trials in {name} must be a column or a "
                        f"whole number from 1 to {INT_MAX:,}, not "
                        f"{'an expression' if value is None else repr(value)}")
    return out + [(name, int(value))]


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"unknown name {text.strip(chr(39))!r}" if isinstance(exc, KeyError) else text


class _Failer:
    """Raise a DataError naming the first bad row in the user's frame (rows are
    the 0-based positions, in the frame, of the rows kept), via data.check_rows."""

    def __init__(self, frame: pd.DataFrame, source: str):
        self.frame, self.source, self.rows = frame, source, np.arange(len(frame))

    def __call__(self, column: str, bad, what: str, values=None) -> None:
        bad = np.asarray(bad, dtype=bool)
        if not bad.any():
            return
        mask = np.zeros(len(self.frame), dtype=bool)
        mask[self.rows] = bad
        if values is None and column in self.frame:
            shown_values = self.frame[column]
        else:
            shown_values = pd.Series([np.nan] * len(self.frame), dtype=object)
            shown_values.iloc[self.rows] = list(np.asarray(values))
        check_rows(self.source, pd.DataFrame({column: shown_values.to_numpy()}),
                   column, mask, what)


def _numeric(col: pd.Series, name: str, fail: _Failer, must: bool,
             keep_text: bool) -> pd.Series:
    """A text column of numbers as numbers (as a CSV reader would); text left as
    labels (categorical), unless a number is needed (``must``) or the column mixes
    numbers and text (a typo in a numeric column is likelier than such labels)."""
    if pd.api.types.is_bool_dtype(col):
        return col.astype(np.int64) if must else col
    if (pd.api.types.is_numeric_dtype(col) or keep_text
            or isinstance(col.dtype, pd.CategoricalDtype)):
        return col
    values = pd.to_numeric(col.astype(str).str.strip(), errors="coerce")
    text = values.isna().to_numpy()
    if must or not text.all():
        fail(name, text, "is not a number" + ("" if must else
             " (the column's other values are numbers; if it is categorical, "
             "give all its values as labels)"))
    return col if text.all() else values


def _response(resp: np.ndarray, family: str, outcome: list[str], data: pd.DataFrame,
              trials: str | None, fail: _Failer):
    """y (and trials for binomial) as Stan takes them, after the family's checks."""
    if resp.ndim == 2 and resp.shape[1] == 2:
        y, n = resp[:, 0], resp[:, 1]
        names = outcome
    else:
        y, n = resp.reshape(-1), None
        names = [outcome[0], trials]
        if trials is not None:
            if family != "binomial":
                raise PystanModelsError(f"trials= is for binomial data, not {family}")
            n = data[trials].to_numpy(float)
    fail(names[0], ~np.isfinite(y.astype(float)), "is not a finite number", y)
    if family == "gaussian":
        return y.astype(float), None
    for name, v in zip(names, (y, n)):
        if v is None:
            continue
        v = v.astype(float)
        fail(name, v != np.round(v), "is not a whole number", v)
        fail(name, np.abs(v) > INT_MAX, f"is too large for Stan, whose integers "
             f"must lie within ±{INT_MAX:,} (2^31 - 1)", v)
        fail(name, v < 0, "is a negative count", v)
    y = y.astype(np.int64)
    if family == "bernoulli" or (family == "binomial" and n is None):
        fail(names[0], ~np.isin(y, [0, 1]), f"is not 0 or 1 (a {family} outcome; "
             "for counts of successes give trials, or write p(successes, trials))", y)
        return y, (np.ones_like(y) if family == "binomial" else None)
    if family == "poisson":
        return y, None
    n = n.astype(np.int64)
    fail(names[1], n < 1, "trials must be at least 1", n)
    where = f"column '{names[1]}'" if names[1] in data else names[1]
    fail(names[0], y > n, f"successes exceed the trials in {where}", y)
    return y, n


def _check_rank(full: np.ndarray, names: list[str], source: str) -> None:
    """Fail naming each common column that is a linear combination of earlier ones
    (a QR decomposition of the scaled columns: a tiny |R[k, k]| marks one)."""
    norms = np.linalg.norm(full, axis=0)
    scaled = full / np.where(norms > 0, norms, 1)
    r = np.abs(np.diag(np.linalg.qr(scaled, mode="r"))) if full.size else []
    tol = max(full.shape) * np.finfo(float).eps * 1e3
    bad, kept = [], []
    for k, rkk in enumerate(r):
        if rkk > tol and norms[k] > 0:
            kept.append(k)
            continue
        coef = (np.linalg.lstsq(full[:, kept], full[:, k], rcond=None)[0]
                if kept else np.zeros(0))
        parts = [f"{c:.3g} * {names[j]}" for c, j in zip(coef, kept)
                 if abs(c) > 1e-8 * max(1, np.abs(coef).max())]
        bad.append(f"{names[k]} = {' + '.join(parts) or '0'}")
    if bad:
        raise DataError(f"{source}: the common design is not of full rank; "
                        f"{'; '.join(bad)}: drop or recode the collinear term(s)")


def _groups(dm, source: str) -> list[GroupTerm]:
    """formulae's group terms, one cluster per grouping factor."""
    if dm.group is None:
        return []
    clusters: dict[str, list] = {}
    for term in dm.group.terms.values():
        clusters.setdefault(term.factor.name, []).append(term)
    out = []
    for factor, terms in clusters.items():
        levels = [str(g) for g in terms[0].groups]
        if len(levels) < 2:
            raise DataError(f"{source}, column '{factor}': the group term "
                            f"{terms[0].name} has {len(levels)} group "
                            f"({', '.join(map(shown, levels))}); it needs at least 2")
        coefs, names, N = [], [], len(terms[0].factor.data)
        for t in terms:
            coefs.append(np.asarray(t.expr.data, dtype=float).reshape(N, -1))
            names += [f"{'1' if lab == 'Intercept' else lab}|{factor}"
                      for lab in t.expr.labels]
        index = np.asarray(terms[0].factor.data).argmax(axis=1) + 1
        exprs = ["1" if t.expr.name == "Intercept" else t.expr.name for t in terms]
        out.append(GroupTerm(f"{' + '.join(exprs)}|{factor}", factor, levels,
                             index.astype(np.int64), np.hstack(coefs), names))
    return out


def aggregate_bernoulli(design: Design) -> Design:
    """Rows sharing a covariate pattern (X, every group's index and Z) summed to
    binomial counts: y = successes, trials = rows (or summed trials).  The binomial
    likelihood of the result equals the row-by-row one up to the constant
    sum(log C(trials, y)).  Patterns keep the order of their first row;
    ``row_map[i]`` is the aggregated row of row ``i``, ``rows`` the first row of
    each pattern; x_mean, x_sd and y_sd stay those of the rows.  Gaussian and Poisson
    designs (no sufficient counts of this kind) are refused."""
    if design.family not in ("bernoulli", "binomial"):
        raise PystanModelsError(f"only Bernoulli or binomial rows aggregate, not "
                                f"{design.family}")
    key = np.column_stack([design.X] + [np.column_stack([g.index, g.Z])
                                        for g in design.groups])
    _, first, inverse = np.unique(key, axis=0, return_index=True,
                                  return_inverse=True)
    order = np.argsort(first)                  # patterns by their first row
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    row_map = rank[inverse.reshape(-1)]
    keep = first[order]
    n = design.trials if design.trials is not None else np.ones_like(design.y)
    J = len(keep)
    groups = [replace(g, index=g.index[keep], Z=g.Z[keep]) for g in design.groups]
    return replace(design, family="binomial", y=np.bincount(row_map, design.y, J)
                   .astype(np.int64), trials=np.bincount(row_map, n, J).astype(np.int64),
                   X=design.X[keep], groups=groups, row_map=row_map,
                   rows=design.rows[keep])


@dataclass(frozen=True)
class NewRows:
    """New rows evaluated with a fitted :class:`Design`: ``X`` (the common terms, no
    intercept column, with the fitted encodings), ``trials`` and ``log_exposure``
    where the family has them, and for each group term the 1-based fitted level
    of each row (``index``, 0: a level not in the fitted data, a new group) and
    its coefficients' values (``Z``).  ``frame`` is the user's rows."""
    frame: pd.DataFrame
    X: np.ndarray
    trials: np.ndarray | None
    log_exposure: np.ndarray | None
    groups: list[tuple[np.ndarray, np.ndarray]]

    @property
    def new_group(self) -> np.ndarray:
        """Whether each row has a level of some group term not in the fitted data."""
        new = np.zeros(len(self.X), dtype=bool)
        for index, _ in self.groups:
            new |= index == 0
        return new


def new_rows(design: Design, frame: pd.DataFrame, source: str = FRAME) -> NewRows:
    """``frame``'s rows as ``design``'s model sees them, checked as the fitted rows
    were (every column the terms read, present, filled in and numeric where the
    fit's was; the trials and exposure when the fit had them): one DataError naming
    the column and row otherwise, and for a level of a categorical term the fitted
    data never had.  A group level the fit never saw is a new group (index 0); the
    response is not needed."""
    if design.matrices is None:
        raise PystanModelsError("this design keeps no formula to evaluate new rows")
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, not {type(frame).__name__}")
    frame = frame.rename(columns=str).reset_index(drop=True)
    if frame.empty:
        raise DataError(f"{source}: no rows to predict")
    counts = [c for c in (design.trials_from, design.exposure) if isinstance(c, str)]
    need = design.needs
    missing = [c for c in need if c not in frame.columns]
    if missing:
        what = {design.trials_from: "the trials", design.exposure: "the exposure"}
        named = [f"{c!r}" + (f" ({what[c]})" if c in what else "") for c in missing]
        raise DataError(f"{source}: no column(s) {', '.join(named)}, which the fitted "
                        f"model {design.formula!r} needs to predict; the columns are "
                        f"{', '.join(map(repr, frame.columns))}")
    fail = _Failer(frame, source)
    for col in need:
        fail(col, frame[col].isna() | (frame[col].astype(str).str.strip() == ""),
             "is empty (NaN or blank): every row to predict needs it")
    dm = design.matrices
    fitted = dm.common.data if dm.common is not None else None
    data = frame[need].copy()
    factors = {g.factor for g in design.groups}
    for col in need:
        numeric = fitted is not None and col in fitted and \
            pd.api.types.is_numeric_dtype(fitted[col])
        data[col] = _numeric(data[col], col, fail, must=numeric or col in counts,
                             keep_text=col in factors and not numeric)
        if fitted is not None and col in fitted and not numeric and col not in factors:
            known = pd.unique(fitted[col].astype(str))
            fail(col, ~data[col].astype(str).isin(known), "is a level the fitted data "
                 f"never had, so no coefficient predicts it (its levels: "
                 f"{', '.join(map(shown, sorted(known)[:12]))}"
                 f"{', ...' if len(known) > 12 else ''})")
    try:
        with np.errstate(all="ignore"):
            full = (np.asarray(dm.common.evaluate_new_data(data)).astype(float)
                    if dm.common is not None else np.empty((len(data), 0)))
    except ValueError as exc:      # formulae: "The levels (e) in 'C(c)' are not present"
        raise DataError(f"{source}: {_one_line(exc)} (the fitted data's levels are the "
                        f"only ones a categorical term can predict)") from None
    X = full[:, 1:] if design.intercept else full
    for j, name in enumerate(design.common_names):
        fail(name, ~np.isfinite(X[:, j]), "is not a finite number", X[:, j])
    trials = None
    if design.trials is not None:
        trials = (np.full(len(data), design.trials_from, dtype=float)
                  if isinstance(design.trials_from, int) else
                  data[design.trials_from].to_numpy(float) if design.trials_from
                  else np.ones(len(data)))
        name = design.trials_from if isinstance(design.trials_from, str) else "trials"
        fail(name, (trials != np.round(trials)) | (trials < 1) | (trials > INT_MAX),
             "trials must be a whole number of at least 1", trials)
        trials = trials.astype(np.int64)
    log_exposure = None
    if design.exposure is not None:
        fail(design.exposure, data[design.exposure] <= 0, "exposure must be positive")
        log_exposure = np.log(data[design.exposure].to_numpy(float))
    groups = []
    terms = dm.group.terms if dm.group is not None else {}
    for g in design.groups:
        labels = data[g.factor].astype(str).to_numpy() if g.factor in data else None
        lookup = {level: k + 1 for k, level in enumerate(g.levels)}
        index = np.array([lookup.get(v, 0) for v in labels], dtype=np.int64)
        Z = np.hstack([np.asarray(t.expr.eval_new_data(data)).astype(float)
                       .reshape(len(data), -1) for t in terms.values()
                       if t.factor.name == g.factor])
        for j, name in enumerate(g.coef_names):
            fail(name, ~np.isfinite(Z[:, j]), "is not a finite number", Z[:, j])
        groups.append((index, Z))
    return NewRows(frame, X, trials, log_exposure, groups)


def default_priors(design: Design, scale: float = 1.0) -> dict:
    """Weakly informative default priors scaled to the data, as rstanarm does
    (Gabry and Goodrich, "Prior Distributions for rstanarm Models", rstanarm
    vignette, section "Default priors and scale adjustments"):

    - coefficients: normal(0, 2.5 sd(y) / sd(x)) for gaussian, normal(0, 2.5 / sd(x))
      for the GLMs (logit, probit and log links); a constant column keeps 2.5 (sd(y));
    - intercept (with the predictors centred): normal(mean(y), 2.5 sd(y)) for
      gaussian, normal(0, 2.5) for the GLMs;
    - residual sd (gaussian): exponential(1 / sd(y));
    - group-level sds: exponential(1 / sd(y)) for gaussian, exponential(1) for the
      GLMs (rstanarm's decov prior in the one-coefficient case has this scale; for
      correlated coefficients the programs add lkj_corr_cholesky(1)).

    ``scale`` multiplies every scale (and divides every rate): the ``--prior-scale``
    option.  Returns {"intercept": {...}, "beta": {...}, "sigma": {...}, "sd": {...}}
    with "dist" and its parameters; "beta" holds arrays aligned with X."""
    if scale <= 0:
        raise PystanModelsError(f"the prior scale must be positive, not {scale}")
    gaussian = design.family == "gaussian"
    sy = design.y_sd if gaussian and design.y_sd > 0 else 1.0
    sx = np.where(design.x_sd > 0, design.x_sd, 1.0)
    priors = {"beta": {"dist": "normal", "location": np.zeros(design.X.shape[1]),
                       "scale": scale * 2.5 * sy / sx, "names": design.common_names}}
    if design.intercept:
        priors["intercept"] = {"dist": "normal", "location": float(np.mean(design.y))
                               if gaussian else 0.0, "scale": scale * 2.5 * sy}
    if gaussian:
        priors["sigma"] = {"dist": "exponential", "rate": 1 / (scale * sy)}
    if design.groups:
        priors["sd"] = {"dist": "exponential", "rate": 1 / (scale * sy),
                        "names": [c for g in design.groups for c in g.coef_names]}
    return priors


@dataclass(frozen=True)
class Fits:
    """What an example fits: its families, how many grouping factors (clusters) it
    takes, what each cluster's coefficients may be ("intercept": only ``1|g``;
    "intercept+slope": ``1|g`` and one slope; None: any), whether common terms
    beyond the intercept are allowed and whether an exposure is."""
    what: str
    families: tuple[str, ...]
    min_groups: int = 0
    max_groups: int | None = 0
    cluster: str | None = None
    common: bool = True
    exposure: bool = False


EXAMPLES = {
    "beetles": Fits("a binomial response p(successes, trials) on common terms, no "
                    "group terms", ("binomial",)),
    "counts": Fits("Poisson counts on common terms, at most one group intercept "
                   "(1 | g), optionally an exposure", ("poisson",), 0, 1, "intercept",
                   exposure=True),
    "probit": Fits("a binary or binomial response on common terms, no group terms",
                   ("bernoulli", "binomial")),
    "separation": Fits("a binary or binomial response on common terms, at most one "
                       "group intercept (1 | g)", ("bernoulli", "binomial"), 0, 1,
                       "intercept"),
    "icc": Fits("a gaussian response on a group intercept only, y ~ 1 + (1 | g)",
                ("gaussian",), 1, 1, "intercept", common=False),
    "radon": Fits("a gaussian response on common terms and any number of group "
                  "terms", ("gaussian",), 0, None),
    "rats": Fits("a gaussian response with exactly one group term holding an "
                 "intercept and one slope, y ~ x + (x | g)", ("gaussian",), 1, 1,
                 "intercept+slope"),
}


def _misfit(design: Design, fits: Fits) -> str | None:
    """Why ``fits`` cannot take ``design`` (None if it can)."""
    n = len(design.groups)
    if design.family not in fits.families:
        return f"it has a {design.family} response"
    if n < fits.min_groups or (fits.max_groups is not None and n > fits.max_groups):
        return f"it has {n} group term(s)" + (
            f" ({', '.join(g.name for g in design.groups)})" if n else "")
    for g in design.groups:
        intercept = g.coef_names[0].startswith("1|")
        if fits.cluster == "intercept" and g.coef_names != [f"1|{g.factor}"]:
            return f"its group term {g.name} varies more than the intercept"
        if fits.cluster == "intercept+slope" and not (intercept
                                                      and len(g.coef_names) == 2):
            return f"its group term {g.name} is not an intercept and one slope"
    if not fits.common and design.X.shape[1]:
        return f"it has common terms ({', '.join(design.common_names)})"
    if design.log_exposure is not None and not fits.exposure:
        return "it has an exposure"
    return None


def checked_structure(design: Design, *, example: str,
                      fits: Fits | None = None) -> Design:
    """``design`` if ``example`` (its :class:`Fits`, by default from EXAMPLES) can
    fit it; otherwise one FormulaError saying what the example fits and which
    examples can fit the formula (schools takes estimates and standard errors,
    not formulas)."""
    fits = fits or EXAMPLES[example]
    why = _misfit(design, fits)
    if why is None:
        return design
    others = [name for name, f in EXAMPLES.items()
              if name != example and _misfit(design, f) is None]
    hint = (f"{' or '.join(others)} can fit it" if others else
            "no example fits it")
    raise FormulaError(f"{example} fits {fits.what}; the formula {design.formula!r} "
                       f"does not fit, as {why}: {hint}")
