"""What an analysis returns: its fits, named tables and answer, apart from the report.

Every example's ``analyse(...)`` computes and returns a :class:`Results`; the
example's ``render(results, rep)`` adds its sections (tables and figures, drawn
then) to a report, and :meth:`Results.report` wraps them with what every report
has: the answer, the diagnostics box and the provenance.  The command line, a
notebook, ``python -m pystan_models all`` and the benchmark all go this way::

    from pystan_models import beetles
    r = beetles.analyse()                  # the notes' data, default options
    r.fits["logit"].idata                  # xarray.DataTree (ArviZ 1.x)
    r.table("coefficients")                # pandas DataFrames, by name
    r.answer                               # the answer paragraph
    r.write_report("beetles.html")         # the report the command line writes

A run saved with ``--save DIR`` comes back, without sampling, as the same
Results: ``pystan_models.load_run(DIR)`` (see :mod:`pystan_models.runs`).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import PystanModelsError
from .fitting import Fit, RunOptions


@dataclass
class Results:
    """One analysis of one data set.

    ``problems`` are the failed diagnostics of the fits the answer rests on;
    ``expected`` those of fits that fail on purpose (shown, not counted);
    ``data`` the validated frames (their ``attrs["source"]`` says where each came
    from); ``extras`` anything else the example's render needs (grids, reference
    values), computed in ``analyse`` so rendering does no inference.
    """
    example: str
    title: str
    options: RunOptions
    fits: dict[str, Fit]
    tables: dict[str, pd.DataFrame]
    answer: str
    problems: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    data: dict[str, pd.DataFrame] = field(default_factory=dict)
    extras: dict = field(default_factory=dict)
    saved_run: str | None = None    # the saved run this was rebuilt from (load_run)
    prior_fits: dict[str, Fit] = field(default_factory=dict)  # prior_only = 1 fits
    # the report before its predictions and provenance, once rendered (body())
    rendered: dict | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        """Every analysis states its fits' priors and checks the proper ones: the
        same programs run again with prior_only = 1 (through fitting.sample, so a
        saved run keeps them), the outcome's prior predictive distribution against
        the data, and a sentence in the answer when it allows absurd outcomes."""
        from . import priors, report
        fits = {k: f for k, f in self.fits.items() if f.spec is not None}
        if not fits or "program priors" in self.tables:
            return
        self.tables["program priors"] = priors.priors_table(fits)
        self.prior_fits = priors.prior_predictive(fits, self.options)
        outcome = getattr(importlib.import_module(f"pystan_models.{self.example}"),
                          "OUTCOME", "continuous")
        table, summaries, clauses = priors.check(fits, self.prior_fits, outcome,
                                                 report.outcome_kind)
        self.tables["prior predictive"] = table
        self.extras["prior summaries"] = summaries
        self.extras["prior clauses"] = clauses
        sentence = priors.absurd_sentence(clauses)
        if sentence:
            self.answer = f"{self.answer} {sentence}".strip()

    @property
    def notes(self) -> list[str]:
        """Diagnostics noted but not counted (short chains under ``quick``)."""
        return [f"{name}: {n}" for name, f in self.fits.items() for n in f.notes]

    @property
    def passed(self) -> bool:
        return not self.problems

    def table(self, name: str) -> pd.DataFrame:
        try:
            return self.tables[name]
        except KeyError:
            raise PystanModelsError(f"{self.example} has no table {name!r}; its tables "
                                    f"are {', '.join(map(repr, self.tables))}") from None

    def predict(self, frame, fit: str | None = None, *, seed: int | None = None):
        """Predictions for the rows of ``frame`` (a DataFrame or a CSV path) from the
        fit ``fit`` (default: the example's first predicting fit): an
        ``xarray.DataTree`` with ArviZ's ``predictions`` group (the outcome's
        posterior predictive draws under its name, and ``mu``, its expected value)
        and ``predictions_constant_data`` (the rows' inputs and ``new_group``).
        Made by the fit's own program on its draws (cmdstanpy's
        ``generate_quantities``), see :mod:`pystan_models.predict`."""
        from . import predict
        from .errors import DataError
        p, frame, source = self._predictor(frame)
        name = self._predicting_fit(p, fit)
        rows = p.rows(frame, source)
        if name not in p.predicting(rows):
            raise DataError(
                f"{source}, row {int(np.argmax(rows.new_group)) + 1}: a group not in "
                f"the data; {name} has fixed group effects, none for a new group, so it "
                f"predicts rows of the data's groups only: predict this file with one "
                f"of {', '.join(p.predicting(rows))}")
        return predict.predict(self.fits[name], p, name, rows,
                               self.options.seed if seed is None else seed,
                               self.fits[p.via.get(name, name)])

    def add_predictions(self, frame, *, seed: int | None = None) -> pd.DataFrame:
        """Predict the rows of ``frame`` from every predicting fit and keep the
        summary as the table ``predictions`` (shown in the report): the row, the
        fit, ``new group``, the inputs, then the outcome's mean, sd and 5/50/95%
        quantiles and the same of its expected value."""
        from . import predict
        from .fitting import remembered
        p, frame, source = self._predictor(frame)
        rows = p.rows(frame, source)
        seed = self.options.seed if seed is None else seed

        def one(name: str) -> pd.DataFrame:   # a saved run keeps it (--save --predict)
            return remembered(f"{name} predictions", {"rows": frame, "seed": seed},
                              lambda: predict.table(predict.predict(
                                  self.fits[name], p, name, rows, seed,
                                  self.fits[p.via.get(name, name)]), name, rows, p),
                              predict.table_to_json, predict.table_from_json)
        self.tables["predictions"] = pd.concat([one(name) for name in p.predicting(rows)],
                                               ignore_index=True)
        self.extras["predictions source"] = source
        self.extras["not predicting"] = [f for f in p.fits if f not in p.predicting(rows)]
        return self.tables["predictions"]

    def _predictor(self, frame):
        from . import predict
        from .data import read_table
        p = self.extras.get("predictor")
        if callable(p):    # the notes' analyses build theirs when first asked
            p = self.extras["predictor"] = p()
        if p is None:
            raise PystanModelsError(f"{self.example} has no covariates or groups to "
                                    f"predict from")
        frame = read_table(frame)
        source = frame.attrs["source"]
        return predict.choose(p, frame, source), frame, source

    def _predicting_fit(self, p, fit: str | None) -> str:
        if fit is None:
            return p.fits[0]
        if fit not in p.fits:
            raise PystanModelsError(f"{self.example} has no fit {fit!r} that predicts; "
                                    f"its fits that do are {', '.join(map(repr, p.fits))}")
        return fit

    def report(self):
        """The HTML report (a :class:`pystan_models.report.Report`, not yet written)."""
        from . import report
        rep = report.Report(self.title)
        rep.fits = list(self.fits.values())
        for key, value in self.body().items():
            setattr(rep, key, list(map(tuple, value)) if key == "sections" else value)
        if "predictions" in self.tables:
            report.add_predictions(rep, self.tables["predictions"],
                                   self.extras["predictions source"],
                                   self.extras.get("not predicting", []))
        rebuilt = (report.para(f"Rebuilt without sampling from the saved run "
                               f"{self.saved_run}; the times are the saved run's.",
                               "note") if self.saved_run else "")
        rep.section("Provenance", report.provenance(self) + rebuilt)
        return rep

    # what body() keeps of a Report: text only (figures are embedded PNGs)
    BODY = ("answer", "problems", "expected", "notes", "problems_title", "passed",
            "sections")

    def body(self) -> dict:
        """The report before its predictions and provenance (the answer, the
        diagnostics box, every section), rendered once: the figures, most of a
        report's time, are drawn here.  A saved run keeps it for a rebuild by the
        same code and libraries (pystan_models.runs.render_key)."""
        if self.rendered is None:
            self.rendered = self.render_body()
        return self.rendered

    def render_body(self) -> dict:
        from . import report
        module = importlib.import_module(f"pystan_models.{self.example}")
        rep = report.Report(self.title)
        rep.answer, rep.fits = self.answer, list(self.fits.values())
        rep.problems, rep.expected, rep.notes = (list(self.problems),
                                                 list(self.expected), list(self.notes))
        module.render(self, rep)
        if "program priors" in self.tables:
            report.add_priors(rep, self.tables["program priors"],
                              self.tables["prior predictive"],
                              self.extras["prior summaries"])
        shown = getattr(module, "PPC_FITS", self.fits)    # an example may pick fits
        checks = report.predictive_checks({k: f for k, f in self.fits.items() if k in shown},
                                          getattr(module, "OUTCOME", "continuous"))
        if checks:
            rep.section("Predictive checks", report.para(
                "Replicated data drawn from each fit's posterior predictive distribution "
                "against the data (ArviZ), and the leave-one-out probability integral "
                "transform (LOO-PIT) where the fit has a pointwise log-likelihood."),
                *checks)
        return {key: getattr(rep, key) for key in self.BODY}

    def prior_only_report(self):
        """The short report of ``--prior-only``: the priors and the prior
        predictive checks, the prior-only fits' provenance."""
        import dataclasses
        from . import priors, report
        rep = report.Report(f"{self.title}: priors and prior predictive checks")
        checks = self.tables["prior predictive"]
        rep.answer = priors.prior_only_answer(self.tables["program priors"], checks,
                                              self.extras["prior clauses"])
        shown: dict[str, Fit] = {}      # each prior-only fit once (fits may share one)
        for label, f in self.prior_fits.items():
            if all(f is not g for g in shown.values()):
                shown[label] = f
        # no posterior: the prior-only fits' short chains are noted, not counted
        rep.fits, rep.notes = list(shown.values()), [
            f"{k}: {n}" for k, f in shown.items() for n in f.problems + f.notes]
        rep.passed = ("No posterior was sampled, so no sampler diagnostics bear on a "
                      "conclusion; the prior-only fits' short chains are listed below "
                      "where they fell short." if rep.notes else
                      "No posterior was sampled; the prior-only fits' short chains "
                      "passed every sampler diagnostic.")
        report.add_priors(rep, self.tables["program priors"], checks,
                          self.extras["prior summaries"])
        rep.section("Provenance", report.provenance(dataclasses.replace(
            self, fits=shown)))
        return rep

    def write_report(self, path: Path | str) -> Path:
        """Write the report to ``path`` atomically (a reader never sees half a file)."""
        return self.report().write(path)
