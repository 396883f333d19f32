"""Reading tables: CSV, Parquet, JSON lines, or an in-memory pandas DataFrame.

Missing values follow one explicit rule: in CSV/TSV files only an empty cell is missing (pandas'
default list, which turns "NA", "None", "null", "nan", ... into NaN, is off: "NA" stays North
America); JSON lines and Parquet keep their own nulls. ``na_values=[...]`` adds strings that mean
"missing" in any file type. Column names are strings (an integer column name 0 becomes "0"), so a
saved model's JSON names the same columns as the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from transmodal.errors import DATAFRAME_SOURCE, DataError


@dataclass
class Table:
    """A table plus where it came from.

    Attributes:
        frame: The rows, with a fresh 0..n-1 index.
        source: The file path, or ``"<DataFrame>"``; used in error messages.
        base_dir: Folder against which relative image/audio paths resolve.
    """

    frame: pd.DataFrame
    source: str
    base_dir: Path


def read_table(data: "pd.DataFrame | str | Path | Table", base_dir: str | Path | None = None,
               na_values: Sequence[str] | None = None) -> Table:
    """Read ``data`` into a :class:`Table`.

    Args:
        data: A DataFrame, or a path ending in .csv/.tsv (optionally .gz), .parquet/.pq,
            .jsonl/.ndjson/.json.
        base_dir: Where relative paths resolve; defaults to the table file's folder (the current
            directory for a DataFrame).
        na_values: Strings that mean "missing" besides the empty cell (e.g. ``["NA", "?"]``); none by
            default. Applied to files, not to a DataFrame given (its values are taken as they are).

    Raises:
        DataError: the file is missing, of an unknown type, or unreadable.
    """
    if isinstance(data, Table):
        return data
    if isinstance(data, pd.DataFrame):
        root = Path(base_dir) if base_dir is not None else Path.cwd()
        return Table(_string_columns(data.reset_index(drop=True), DATAFRAME_SOURCE), DATAFRAME_SOURCE, root)
    path = Path(data)
    if not path.is_file():
        raise DataError(f"table file {path} does not exist; check the path")
    name = path.name.lower().removesuffix(".gz")
    missing = [""] + [str(v) for v in na_values or []]
    csv_options = dict(keep_default_na=False, na_values=missing, encoding_errors="replace")  # bad bytes -> U+FFFD
    try:
        if name.endswith(".csv"):
            frame = pd.read_csv(path, **csv_options)
        elif name.endswith(".tsv"):
            frame = pd.read_csv(path, sep="\t", **csv_options)
        elif name.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
        elif name.endswith((".jsonl", ".ndjson", ".json")):
            frame = pd.read_json(path, lines=not name.endswith(".json") or _is_json_lines(path))
        else:
            raise DataError(
                f"{path}: unknown table type; use .csv, .tsv, .parquet, .jsonl (optionally .gz)"
            )
    except DataError:
        raise
    except Exception as err:  # pandas raises many types for malformed files
        raise DataError(_read_problem(path, err)) from err
    if na_values and not name.endswith((".csv", ".tsv")):
        for column in frame.columns:  # JSON/Parquet nulls stay; the strings given join them
            if not pd.api.types.is_numeric_dtype(frame[column]):
                frame[column] = frame[column].mask(frame[column].isin(missing[1:]))
    root = Path(base_dir) if base_dir is not None else path.resolve().parent
    return Table(_string_columns(frame.reset_index(drop=True), str(path)), str(path), root)


_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def given_index(data) -> pd.Index | None:
    """The index of a DataFrame given to predict, so predictions align row by row (None: a fresh
    0..n-1 index for a path or a Table)."""
    return data.index if isinstance(data, pd.DataFrame) else None


def _read_problem(path: Path, err: Exception) -> str:
    """What is wrong with a table pandas cannot read. A ragged CSV row is named by the row a
    spreadsheet shows (pandas' "line N" counts records from the header, row 1, as a spreadsheet does)."""
    ragged = _RAGGED.search(str(err))
    if ragged:
        expected, row, saw = ragged.groups()
        return (f"{path}, row {row}: {saw} cells where the header (row 1) has {expected}; quote cells that "
                "hold the separator, or fix the row")
    return f"{path}: cannot read the table ({type(err).__name__}: {err})"


def _string_columns(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """``frame`` with every column name a string (a copy only when one is not).

    Raises:
        DataError: two columns have the same name as strings (``1`` and ``"1"``).
    """
    if all(isinstance(c, str) for c in frame.columns):
        return frame
    names = [str(c) for c in frame.columns]
    if len(set(names)) < len(names):
        raise DataError(f"{source}: column names {list(frame.columns)} are not distinct as strings; rename them")
    return frame.set_axis(names, axis="columns")


def _is_json_lines(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(1).lstrip()
    return head != b"["
