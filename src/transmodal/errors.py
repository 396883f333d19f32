"""Exceptions raised by transmodal, each carrying a message a user can act on, and the wording they
share: row numbers as the user counts them, hints in the caller's language, "did you mean".

Row numbers: a :class:`BadRow` holds the 0-based position of the data row; messages show the row
as the user sees it: in a CSV/TSV/Parquet file the row a spreadsheet shows (the header is row 1, the
first data row is row 2; pandas' "line N" of a ragged CSV row is the same number), in a JSON-lines
file the line number, in a DataFrame the position ``df.iloc[i]``.

The caller's language: the command line sets :func:`cli_caller` while it runs, so a hint reads
``--set on_bad_rows=skip`` there and ``hyperparameters={'on_bad_rows': 'skip'}`` in Python.
"""

from __future__ import annotations

import contextlib
import difflib
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

_CALLER: ContextVar[str] = ContextVar("transmodal_caller", default="python")
DATAFRAME_SOURCE = "<DataFrame>"
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")


@contextlib.contextmanager
def cli_caller() -> Iterator[None]:
    """While active, messages name command-line flags instead of Python arguments."""
    token = _CALLER.set("cli")
    try:
        yield
    finally:
        _CALLER.reset(token)


def from_cli() -> bool:
    """Whether the current caller is the command line."""
    return _CALLER.get() == "cli"


def spelled(python: str, cli: str) -> str:
    """``cli`` when the command line is the caller, ``python`` otherwise."""
    return cli if from_cli() else python


def setting_hint(key: str, value: Any) -> str:
    """How the caller sets hyperparameter ``key`` (dots for nesting) to ``value``.

    Example: ``--set on_bad_rows=skip`` (CLI) or ``hyperparameters={'on_bad_rows': 'skip'}``.
    """
    if from_cli():
        return f"--set {key}={spelled_value(value)}"
    nested: Any = value
    for part in reversed(key.split(".")):
        nested = {part: nested}
    return f"hyperparameters={nested!r}"


def spelled_value(value: Any) -> str:
    """A value as the caller writes it: YAML on the command line (``null``, ``true``, ``balanced``),
    ``repr`` in Python (``None``, ``True``, ``'balanced'``)."""
    if not from_cli():
        return repr(value)
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def did_you_mean(name: Any, choices: Iterable[Any]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to ``name``, or ``""`` when none is close."""
    options = {str(c): c for c in choices}
    close = difflib.get_close_matches(str(name), list(options), n=1, cutoff=0.6)
    if not close:  # a different case is a typo too ("Label" for "label")
        close = [c for c in options if c.lower() == str(name).lower()][:1]
    return f" (did you mean {options[close[0]]!r}?)" if close else ""


def is_json_lines(file: str) -> bool:
    return str(file).lower().endswith(JSON_LINES_SUFFIXES)


def row_number(file: str, row: int) -> int:
    """Row ``row`` (0-based data position) of ``file`` as the user counts it: the spreadsheet row
    (header = row 1, so ``row + 2``), the line of a JSON-lines file (``row + 1``), a DataFrame's
    position (``row``)."""
    if file == DATAFRAME_SOURCE:
        return row
    return row + 1 if is_json_lines(file) else row + 2


def row_label(file: str, row: int) -> str:
    """``row 7`` (spreadsheet row), ``line 6`` (JSON lines) or ``iloc 5`` (a DataFrame): see :func:`row_number`."""
    word = "iloc" if file == DATAFRAME_SOURCE else "line" if is_json_lines(file) else "row"
    return f"{word} {row_number(file, row)}"


def row_numbering(files: Iterable[str]) -> str:
    """How the rows of ``files`` are numbered in messages, one sentence."""
    kinds = {"dataframe" if f == DATAFRAME_SOURCE else "jsonl" if is_json_lines(f) else "sheet" for f in files}
    parts = {"sheet": "rows numbered as a spreadsheet shows them, the header being row 1",
             "jsonl": "JSON-lines rows by line number",
             "dataframe": "DataFrame rows by position, df.iloc[i]"}
    return "; ".join(parts[k] for k in ("sheet", "jsonl", "dataframe") if k in kinds)


class TransmodalError(Exception):
    """Base class of every error transmodal raises on purpose (the CLI prints these plainly)."""


@dataclass(frozen=True)
class BadRow:
    """One problem found in one cell of a table.

    Attributes:
        file: The table file (or ``"<DataFrame>"``).
        row: 0-based position of the data row in the table (-1: the whole column); messages show it
            as the user counts it (:func:`row_label`).
        column: The column name.
        reason: What is wrong and, where possible, what to do.
    """

    file: str
    row: int
    column: str
    reason: str

    @property
    def shown_row(self) -> str:
        """The row as messages name it (``row 7``, ``line 6``, ``iloc 5``; ``header`` for a column)."""
        return "header" if self.row < 0 else row_label(self.file, self.row)

    def __str__(self) -> str:
        return f"{self.file}, {self.shown_row}, column {self.column!r}: {self.reason}"


class DataError(TransmodalError):
    """The data cannot be used as given; ``bad_rows`` lists every offending cell found."""

    def __init__(self, message: str, bad_rows: list[BadRow] | None = None, shown: int = 20) -> None:
        self.bad_rows = list(bad_rows or [])
        self.headline = message
        lines = [message]
        if self.bad_rows:
            lines.append(f"{len(self.bad_rows)} bad cell(s), {row_numbering(b.file for b in self.bad_rows)}:")
            lines += [f"  - {bad}" for bad in self.bad_rows[:shown]]
            if len(self.bad_rows) > shown:
                lines.append(f"  ... and {len(self.bad_rows) - shown} more")
        super().__init__("\n".join(lines))


class ConfigError(TransmodalError):
    """A configuration value is unknown or out of range."""


class ModelLoadError(TransmodalError):
    """A model folder is missing, incomplete, tampered with or holds files that are refused."""


class NotFittedError(TransmodalError):
    """A method that needs a fitted predictor was called before ``fit``."""
