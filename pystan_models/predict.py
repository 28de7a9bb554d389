"""Predictions for new rows: the outcome's posterior predictive distribution and
its expected value (a probability, a rate, a mean) for each row of a new table.

Made the way brms's ``posterior_predict`` / ``posterior_epred`` and bambi's
``predict`` make them, on the fitted draws, without refitting: every predicting
program takes ``N_pred`` rows to predict (``X_pred``, and ``trials_pred``,
``log_exposure_pred``, ``group_pred`` where its model has them; ``N_pred = 0``
while sampling) and writes ``mu_pred`` (the expected value) and ``y_pred`` (a draw
of the outcome) in generated quantities, which cmdstanpy's ``generate_quantities``
runs on the fit's draws with the same data plus the new rows.  So the new rows go
through the same transformed data (the fitted data's centring and scaling).

New rows are read with the fitted formula (:func:`pystan_models.formula.new_rows`):
checked like the fitted data, categorical terms with the fitted encodings (a level
never seen is an error naming it), and a group level not in the fitted data is a
new group, whose effect is drawn from the population distribution (a new county, a
new rat, a new patient), as brms's ``sample_new_levels = "gaussian"`` does.

An example makes a :class:`Predictor` in ``analyse`` (``Results.extras["predictor"]``);
:meth:`pystan_models.results.Results.predict` returns an ``xarray.DataTree`` with
ArviZ's ``predictions`` and ``predictions_constant_data`` groups.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import xarray as xr

from . import formula
from .errors import DataError
from .fitting import Fit
from .generated import generated

QUANTILES = (0.05, 0.5, 0.95)


def standard_inputs(rows: formula.NewRows, x_scale=None) -> dict:
    """The ``*_pred`` data of the contract from new rows: ``X_pred`` (divided by
    ``x_scale`` when the fit's X was), ``trials_pred``, ``log_exposure_pred``,
    and ``group_pred`` from the first group term (0: a new group)."""
    X = rows.X if x_scale is None else rows.X / np.asarray(x_scale, float)
    out = {"N_pred": len(rows.X), "X_pred": X}
    if rows.trials is not None:
        out["trials_pred"] = rows.trials
    if rows.log_exposure is not None:
        out["log_exposure_pred"] = rows.log_exposure
    if rows.groups:
        out["group_pred"] = rows.groups[0][0]
    return out


@dataclass(frozen=True)
class Predictor:
    """What an example's fits predict from: the fitted :class:`~formula.Design`
    (its formula reads the new rows), the fits that predict (name: how new rows
    become that fit's ``*_pred`` data), and what the expected value is called."""
    design: formula.Design = field(repr=False)
    inputs: dict[str, Callable[[formula.NewRows], dict]]
    expected: str = "mu"            # "probability", "rate", "mu" (the mean)
    outcome: str | None = None      # the outcome's name (default: the response's)
    label: str = ""                 # which data set, where an example fits several
    # added to a fit's draws: a fit to y - shift (icc's and radon's formula paths)
    shifts: dict[str, float] = field(default_factory=dict)
    # a fit with no program of its own (a Gibbs sampler's): the fit whose program
    # and data run on its draws
    via: dict[str, str] = field(default_factory=dict)
    # fits whose group effects are fixed effects (no pooling): they predict rows
    # of the fitted groups only
    known_groups_only: tuple[str, ...] = ()

    @property
    def fits(self) -> list[str]:
        return list(self.inputs)

    @property
    def needs(self) -> list[str]:
        """The columns a row to predict must have."""
        return self.design.needs

    def rows(self, frame: pd.DataFrame, source: str) -> formula.NewRows:
        return formula.new_rows(self.design, frame, source)

    def predicting(self, rows: formula.NewRows) -> list[str]:
        """The fits that predict ``rows``: every one, but those of known groups only
        where a row has a new group."""
        new = rows.new_group.any()
        return [f for f in self.fits if not (new and f in self.known_groups_only)]


def choose(predictors: "Predictor | list[Predictor]", frame: pd.DataFrame,
           source: str) -> Predictor:
    """The predictor whose columns ``frame`` has, where an example fits several
    data sets (counts: the roaches or the epilepsy data); one error naming each
    one's columns when it has none's."""
    if isinstance(predictors, Predictor):
        return predictors
    for p in predictors:
        if set(p.needs) <= set(map(str, frame.columns)):
            return p
    raise DataError(f"{source}: rows to predict need the columns of one of the data "
                    f"sets fitted: " + "; ".join(f"{p.label}: {', '.join(p.needs)}"
                                                 for p in predictors)
                    + f" (the file has {', '.join(map(str, frame.columns))})")


def predict(f: Fit, predictor: Predictor, name: str, rows: formula.NewRows,
            seed: int, model: Fit | None = None) -> xr.DataTree:
    """The fit ``f`` (named ``name``)'s predictions for ``rows``: ``predictions``
    holds the outcome's draws (under its name) and ``mu``, its expected value,
    chain x draw x row; ``predictions_constant_data`` the rows' inputs and
    ``new_group``.  ``model`` is the fit whose program and Stan data make them
    (default ``f``; a Gibbs sampler has no program and uses its NUTS twin's, whose
    parameters its draws carry)."""
    model = model or f
    data = {**model.spec["data"], **{k: _stan(v) for k, v in
                                     predictor.inputs[name](rows).items()}}
    out = generated(f, data, seed, ["y_pred", "mu_pred"],
                    ("row", np.arange(1, len(rows.X) + 1)), program=model.program)

    def draws(var: str) -> xr.DataArray:
        return out[var] + predictor.shifts.get(name, 0.0)

    outcome = predictor.outcome or _outcome(predictor.design)
    inputs = {c: ("row", rows.frame[c].to_numpy()) for c in predictor.design.inputs
              if c in rows.frame}
    return xr.DataTree.from_dict({
        "predictions": xr.Dataset({outcome: draws("y_pred"), "mu": draws("mu_pred")}),
        "predictions_constant_data": xr.Dataset(
            {**inputs, "new_group": ("row", rows.new_group)},
            coords={"row": out["y_pred"]["row"].values}),
    })


def _outcome(design: formula.Design) -> str:
    """The outcome's name: the successes of ``p(successes, trials)``, else the
    response as formulae names it."""
    m = re.match(r"p\(\s*(\w+)\s*,", design.response_name)
    return m.group(1) if m else design.response_name


def _stan(v):
    """numpy values as cmdstanpy writes them to JSON."""
    return v.tolist() if isinstance(v, np.ndarray) else v


def table(tree: xr.DataTree, fit: str, rows: formula.NewRows, predictor: Predictor
          ) -> pd.DataFrame:
    """One row per new row: its row number, the fit, whether its group is new, the
    inputs, then the outcome's posterior predictive mean, sd and 5/50/95%
    quantiles, and the same of its expected value (``<expected> mean`` ...)."""
    pred = tree["predictions"]
    outcome = [v for v in pred.data_vars if v != "mu"][0]
    out = pd.DataFrame({"row": pred["row"].values, "fit": fit,
                        "new group": rows.new_group})
    for c in predictor.design.inputs:
        out[c] = rows.frame[c].to_numpy()
    for label, var in ((outcome, outcome), (predictor.expected, "mu")):
        v = pred[var].stack(sample=("chain", "draw")).transpose("row", "sample").values
        out[f"{label} mean"] = v.mean(axis=1)
        out[f"{label} sd"] = v.std(axis=1, ddof=1)
        for q, col in zip(QUANTILES, np.quantile(v, QUANTILES, axis=1)):
            out[f"{label} q{round(100 * q)}"] = col
    return out


def table_to_json(t: pd.DataFrame) -> dict:
    """The predictions table as JSON, every float as Python writes it (exactly)."""
    return {"columns": list(t.columns),
            "data": [[v.item() if isinstance(v, np.generic) else v for v in row]
                     for row in t.itertuples(index=False)]}


def table_from_json(saved: dict) -> pd.DataFrame:
    t = pd.DataFrame(saved["data"], columns=saved["columns"])
    return t.astype({"new group": bool})
