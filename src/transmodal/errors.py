"""Exceptions raised by transmodal, each carrying a message a user can act on."""

from __future__ import annotations

from dataclasses import dataclass


class TransmodalError(Exception):
    """Base class of every error transmodal raises on purpose (the CLI prints these plainly)."""


@dataclass(frozen=True)
class BadRow:
    """One problem found in one cell of a table.

    Attributes:
        file: The table file (or ``"<DataFrame>"``).
        row: 0-based position of the data row in the table.
        column: The column name.
        reason: What is wrong and, where possible, what to do.
    """

    file: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}, row {self.row}, column {self.column!r}: {self.reason}"


class DataError(TransmodalError):
    """The data cannot be used as given; ``bad_rows`` lists every offending cell found."""

    def __init__(self, message: str, bad_rows: list[BadRow] | None = None, shown: int = 20) -> None:
        self.bad_rows = list(bad_rows or [])
        lines = [message]
        if self.bad_rows:
            lines.append(f"{len(self.bad_rows)} bad cell(s) (row numbers are 0-based data rows):")
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
