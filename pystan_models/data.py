"""Data into a validated frame, or one clear message saying exactly what is wrong.

The same checks run on a CSV file (:func:`load_csv`) and on a DataFrame already in
memory (:func:`validate`); :func:`prepare` picks the one that fits what a user
passed.  Every error names the source (the file, or "data frame"), the column and
the data row (1-based, not counting the header; for a file its line is given
too), so a user knows where to look.  Checks happen here, before anything is
compiled or sampled, and before any conversion that could change a value: Stan's
``int`` is 32-bit, so a count of 4294967356 would reach it as 60 without a word.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .errors import DataError
from .resources import DATA_DIR

FRAME = "data frame"         # how an in-memory DataFrame is named in messages
INT_MAX = 2**31 - 1          # Stan's int is a signed 32-bit integer
REAL_MAX = 2.0**53           # beyond it a double cannot even hold whole numbers exactly


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
    """A data set shipped with the package (``data/`` in the repository)."""
    return DATA_DIR / name


def prepare(data, default: Path, columns: list[Column],
            check: Callable[[pd.DataFrame, str], None] | None = None) -> pd.DataFrame:
    """The validated frame for ``data``: ``None`` (the bundled ``default`` file), a
    path to a CSV file, or a DataFrame.  ``check(frame, source)`` adds the example's
    cross-column checks (call :func:`check_rows` in it).  The frame's
    ``attrs["source"]`` names where it came from (a file path or "data frame")."""
    if data is None:
        data = default
    if isinstance(data, pd.DataFrame):
        frame, source = validate(data, columns), FRAME
    elif isinstance(data, (str, Path)):
        frame, source = load_csv(data, columns), str(data)
    else:
        raise DataError(f"data must be a CSV file path or a pandas DataFrame, "
                        f"not {type(data).__name__}")
    if check:
        check(frame, source)
    frame.attrs["source"] = source
    return frame


def read_text(path: Path | str) -> str:
    """A text file's contents (UTF-8, with or without a byte-order mark), or a
    DataError saying why it cannot be read."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a data file")
    if not path.exists():
        raise DataError(f"{path}: no such data file")
    try:
        raw = path.read_bytes()
    except PermissionError:
        raise DataError(f"{path}: cannot be read (permission denied)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path}: not UTF-8 text (line {line}, byte {exc.start} is "
                        f"{raw[exc.start:exc.start + 1]!r}); save it as UTF-8 CSV"
                        ) from None


def load_csv(path: Path | str, columns: list[Column]) -> pd.DataFrame:
    """Read ``path`` and check that it has exactly ``columns``, each value valid."""
    path = Path(path)
    text = read_text(path)
    _check_row_lengths(path, text)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            skipinitialspace=True, index_col=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty (expected a header row with columns "
                        f"{', '.join(c.name for c in columns)})") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: not a readable CSV file: {exc}") from None
    return _validated(frame, columns, str(path), lines=True)


def read_table(data) -> pd.DataFrame:
    """A user's own data set for the formula path: a CSV file (read as text, every
    row as long as the header) or a DataFrame (copied), with ``attrs["source"]``
    naming it.  Which columns it needs and what they must hold is the formula's
    business (:func:`pystan_models.formula.design` checks them)."""
    if isinstance(data, pd.DataFrame):
        frame, source = data.rename(columns=str).reset_index(drop=True), FRAME
        _check_header(source, frame.columns)
    elif isinstance(data, (str, Path)):
        path, source = Path(data), str(data)
        text = read_text(path)
        _check_row_lengths(path, text)
        try:
            frame = pd.read_csv(io.StringIO(text), skipinitialspace=True, index_col=False)
        except pd.errors.EmptyDataError:
            raise DataError(f"{path}: the file is empty (expected a header row)") from None
        except pd.errors.ParserError as exc:
            raise DataError(f"{path}: not a readable CSV file: {exc}") from None
    else:
        raise DataError(f"data must be a CSV file path or a pandas DataFrame, "
                        f"not {type(data).__name__}")
    if frame.empty:
        raise DataError(f"{source}: no data rows")
    frame.attrs["source"] = source
    return frame


def validate(frame: pd.DataFrame, columns: list[Column]) -> pd.DataFrame:
    """The checks :func:`load_csv` makes, on a DataFrame already in memory (its
    values may be numbers or text).  Returns a new frame; the input is untouched."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, not {type(frame).__name__}")
    frame = frame.rename(columns=str).reset_index(drop=True)
    return _validated(frame, columns, FRAME, lines=False)


def _validated(frame: pd.DataFrame, columns: list[Column], source: str,
               lines: bool) -> pd.DataFrame:
    wanted = [c.name for c in columns]
    missing = [c for c in wanted if c not in frame.columns]
    extra = [c for c in frame.columns if c not in wanted]
    if missing:
        padded = [c for c in frame.columns if c.strip() in missing]
        hint = (f"; the header has {', '.join(repr(c) for c in padded)}, with spaces "
                "around the name: remove them") if padded else ""
        seps = [sep for sep in (";", "\t", "|") if len(frame.columns) == 1
                and sep in frame.columns[0]]
        if seps:
            hint = (f"; the header is one field, {frame.columns[0]!r}: the file looks "
                    f"separated by {seps[0]!r}, not commas (save it as comma-separated "
                    "CSV)")
        raise DataError(f"{source}: missing column(s) {', '.join(missing)} "
                        f"(expected {', '.join(wanted)}){hint}")
    if extra:
        raise DataError(f"{source}: unexpected column(s) {', '.join(map(str, extra))} "
                        f"(expected {', '.join(wanted)})")
    if frame.empty:
        raise DataError(f"{source}: the {'file has a header but' if lines else 'frame has'}"
                        " no data rows")
    out = pd.DataFrame(index=frame.index)
    for col in columns:
        out[col.name] = _convert(source, frame[col.name], col)
    return out.reset_index(drop=True)


def _check_header(source, names) -> None:
    """No column name twice (pandas would rename the second copy and the formula
    would silently read the first)."""
    names = [str(n).strip() for n in names]
    twice = list(dict.fromkeys(n for n in names if names.count(n) > 1))
    if twice:
        where = "; ".join(f"{n!r} in columns "
                          + " and ".join(str(i + 1) for i, m in enumerate(names) if m == n)
                          for n in twice)
        raise DataError(f"{source}: the header names a column more than once ({where}); "
                        "rename or remove the copies")


def _check_row_lengths(path: Path, text: str) -> None:
    """A header without repeated names, and every row as many fields as the header
    (pandas would shift the columns)."""
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if header is not None:
        _check_header(path, header)
    for i, row in enumerate(rows):
        if header is not None and row and len(row) != len(header):
            raise DataError(f"{path}, row {i + 1} (line {i + 2}): {len(row)} fields, "
                            f"but the header has {len(header)} ({', '.join(header)})")


def _convert(source: str, raw: pd.Series, col: Column) -> pd.Series:
    if col.kind == "text":
        text = raw.astype("string").fillna("").str.strip().astype(str)
        _fail_where(source, col.name, text == "", "is empty", raw)
        return text
    numeric = pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw)
    values = pd.to_numeric(raw if numeric else raw.astype(str).str.strip(),
                           errors="coerce").astype(float)
    _fail_where(source, col.name, values.isna() | ~np.isfinite(values),
                "is not a finite number", raw)
    _fail_where(source, col.name, values.abs() > REAL_MAX,
                f"is larger in magnitude than 2^53 = {REAL_MAX:.2g}, beyond which a "
                "double cannot hold whole numbers exactly: rescale the column", raw)
    if col.kind in ("int", "count", "binary"):
        _fail_where(source, col.name, values != np.round(values),
                    "is not a whole number", raw)
        _fail_where(source, col.name, values.abs() > INT_MAX,
                    f"is too large for Stan, whose integers must lie within "
                    f"±{INT_MAX:,} (2^31 - 1)", raw)
    if col.kind == "count":
        _fail_where(source, col.name, values < 0, "is a negative count", raw)
    if col.kind == "binary":
        _fail_where(source, col.name, ~values.isin([0, 1]), "is not 0 or 1", raw)
    if col.positive:
        _fail_where(source, col.name, values <= 0, "must be positive", raw)
    return values.astype(np.int64) if col.kind in ("int", "count", "binary") else values


def shown(value) -> str:
    """A value as a user wrote it: 61, 'six' (never np.int64(61))."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def _fail_where(source, column: str, bad, what: str, values: pd.Series | None = None
                ) -> None:
    """Raise a DataError naming the first row where ``bad`` holds."""
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        rows = np.flatnonzero(bad)
        i = int(rows[0])
        value = "" if values is None else f" (value {shown(values.iloc[i])})"
        more = f"; {len(rows) - 1} more row(s) like it" if len(rows) > 1 else ""
        where = f"row {i + 1}" if str(source) == FRAME else f"row {i + 1} (line {i + 2})"
        raise DataError(f"{source}, {where}, column '{column}'{value}: {what}{more}")


def check_rows(source: Path | str, frame: pd.DataFrame, column: str, bad, what: str
               ) -> None:
    """A cross-column check: fail naming the first row where ``bad`` holds.
    ``source`` is the file path, or "data frame" for a frame validated in memory."""
    _fail_where(source, column, bad, what, frame[column])
