"""Load a CSV data file into a validated frame, or say exactly what is wrong.

Every error names the file, the column and the data row (1-based, not counting
the header; the file line is given too), so a user knows where to look.  Checks happen here, before anything is
compiled or sampled.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class Column:
    """A column's name and what its values must be.

    kind: ``real`` (finite number), ``int`` (whole number), ``count`` (whole, >= 0),
    ``binary`` (0 or 1), ``text`` (anything non-empty).  ``positive``: strictly > 0.
    """
    name: str
    kind: str = "real"
    positive: bool = False


def data_file(name: str) -> Path:
    return DATA_DIR / name


def load_csv(path: Path | str, columns: list[Column]) -> pd.DataFrame:
    """Read ``path`` and check that it has exactly ``columns``, each value valid."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such data file")
    _check_row_lengths(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False,
                            skipinitialspace=True, index_col=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty (expected a header row with columns "
                        f"{', '.join(c.name for c in columns)})") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: not a readable CSV file: {exc}") from None
    wanted = [c.name for c in columns]
    missing = [c for c in wanted if c not in frame.columns]
    extra = [c for c in frame.columns if c not in wanted]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} "
                        f"(expected {', '.join(wanted)})")
    if extra:
        raise DataError(f"{path}: unexpected column(s) {', '.join(map(str, extra))} "
                        f"(expected {', '.join(wanted)})")
    if frame.empty:
        raise DataError(f"{path}: the file has a header but no data rows")
    out = pd.DataFrame(index=frame.index)
    for col in columns:
        out[col.name] = _convert(path, frame[col.name], col)
    return out.reset_index(drop=True)


def _check_row_lengths(path: Path) -> None:
    """Every row has as many fields as the header (pandas would shift the columns)."""
    with open(path, newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, None)
        for i, row in enumerate(rows):
            if header is not None and row and len(row) != len(header):
                raise DataError(f"{path}, row {i + 1} (line {i + 2}): {len(row)} fields, "
                                f"but the header has {len(header)} ({', '.join(header)})")


def _convert(path: Path, raw: pd.Series, col: Column) -> pd.Series:
    text = raw.str.strip()
    if col.kind == "text":
        _fail_where(path, col.name, text == "", "is empty", raw)
        return text
    values = pd.to_numeric(text, errors="coerce")
    _fail_where(path, col.name, values.isna() | ~np.isfinite(values),
                "is not a finite number", raw)
    if col.kind in ("int", "count", "binary"):
        _fail_where(path, col.name, values != np.round(values), "is not a whole number", raw)
    if col.kind == "count":
        _fail_where(path, col.name, values < 0, "is a negative count", raw)
    if col.kind == "binary":
        _fail_where(path, col.name, ~values.isin([0, 1]), "is not 0 or 1", raw)
    if col.positive:
        _fail_where(path, col.name, values <= 0, "must be positive", raw)
    return values.astype(int) if col.kind in ("int", "count", "binary") else values.astype(float)


def _fail_where(path: Path, column: str, bad: pd.Series, what: str,
                shown: pd.Series | None = None) -> None:
    """Raise a DataError naming the first row where ``bad`` holds."""
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        rows = np.flatnonzero(bad)
        i = int(rows[0])
        value = "" if shown is None else f" (value {shown.iloc[i]!r})"
        more = f"; {len(rows) - 1} more row(s) like it" if len(rows) > 1 else ""
        raise DataError(f"{path}, row {i + 1} (line {i + 2}), column '{column}'{value}: "
                        f"{what}{more}")


def check_rows(path: Path | str, frame: pd.DataFrame, column: str, bad, what: str) -> None:
    """A cross-column check: fail naming the first row where ``bad`` holds."""
    _fail_where(Path(path), column, bad, what, frame[column])
