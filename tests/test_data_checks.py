"""Input checks: each bad file gives one clear error naming file, row and column."""
import pytest

from pystan_models import beetles
from pystan_models.errors import DataError

GOOD = "dose,killed,exposed\n1.69,6,59\n1.72,13,60\n"


def write(tmp_path, text, name="beetles.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_file_loads_with_types(tmp_path):
    frame = beetles.load(write(tmp_path, GOOD))
    assert list(frame.columns) == ["dose", "killed", "exposed"]
    assert frame.killed.dtype.kind == "i" and frame.dose.dtype.kind == "f"


def test_shipped_data_is_canonical_bliss():
    frame = beetles.load()
    assert len(frame) == 8
    assert frame.killed.tolist() == [6, 13, 18, 28, 52, 53, 61, 60]
    assert frame.dose.iloc[-1] == pytest.approx(1.8839)


@pytest.mark.parametrize("text, pattern", [
    ("dose,killed\n1.69,6\n", r"missing column\(s\) exposed"),
    (GOOD.replace("exposed\n", "exposed,note\n").replace("59\n", "59,a\n")
     .replace("60\n", "60,b\n"), r"unexpected column\(s\) note"),
    ("dose,killed,exposed\n1.69,six,59\n", r"row 1 \(line 2\), column 'killed' \(value 'six'\).*not a finite"),
    ("dose,killed,exposed\n1.69,6,59\n1.72,-1,60\n", r"row 2 \(line 3\), column 'killed'.*negative"),
    ("dose,killed,exposed\n1.69,6.5,59\n", r"row 1 \(line 2\), column 'killed'.*whole number"),
    ("dose,killed,exposed\n1.69,6,59\n1.72,61,60\n", r"row 2 \(line 3\), column 'killed'.*more .*than exposed"),
    ("dose,killed,exposed\n,6,59\n", r"row 1 \(line 2\), column 'dose'.*not a finite"),
    ("dose,killed,exposed\n1.69,0,0\n", r"row 1 \(line 2\), column 'exposed'.*positive"),
    ("dose,killed,exposed\n1.69,6,59,1\n1.72,13,60,2\n", r"row 1 \(line 2\): 4 fields, but the header has 3"),
    ("dose,killed,exposed\n1.69,6,59\n1.72,13\n", r"row 2 \(line 3\): 2 fields"),
    ("", r"empty"),
    ("dose,killed,exposed\n", r"no data rows"),
])
def test_bad_file_names_file_row_and_column(tmp_path, text, pattern):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=pattern) as err:
        beetles.load(path)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such data file"):
        beetles.load(tmp_path / "nope.csv")


def test_a_column_named_twice_is_refused_not_read_silently(tmp_path):
    """pandas would rename the second 'dose' to 'dose.1' and the formula would read the
    first one without a word."""
    import pandas as pd
    from pystan_models.data import read_table
    path = write(tmp_path, "dose,killed,exposed,dose\n1.69,6,59,1\n1.72,13,60,2\n",
                 "dup.csv")
    with pytest.raises(DataError, match=r"dup\.csv: the header names a column more than "
                       r"once \('dose' in columns 1 and 4\)"):
        read_table(path)
    frame = pd.DataFrame([[1.69, 6, 59, 1]], columns=["dose", "killed", "exposed", "dose"])
    with pytest.raises(DataError, match=r"'dose' in columns 1 and 4"):
        read_table(frame)
