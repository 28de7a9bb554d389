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
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

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

    def report(self):
        """The HTML report (a :class:`pystan_models.report.Report`, not yet written)."""
        from . import report
        module = importlib.import_module(f"pystan_models.{self.example}")
        rep = report.Report(self.title)
        rep.answer, rep.fits = self.answer, list(self.fits.values())
        rep.problems, rep.expected, rep.notes = self.problems, self.expected, self.notes
        module.render(self, rep)
        rep.section("Provenance", report.provenance(self))
        return rep

    def write_report(self, path: Path | str) -> Path:
        """Write the report to ``path`` atomically (a reader never sees half a file)."""
        return self.report().write(path)
