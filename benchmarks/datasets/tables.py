"""Reading a built table back for a benchmark: its file paths made absolute."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd


def read_csv_with_absolute_paths(
    path: Path,
    columns: list[str] | None = None,
    limit: int | None = None,
    path_columns: Sequence[str] = ("image", "audio"),
) -> pd.DataFrame:
    """Read a dataset CSV with its file paths made absolute against the CSV's folder.

    The tables store paths relative to their own folder; a DataFrame passed to a predictor resolves
    them from the working directory instead, hence the absolute paths.

    Args:
        path: The CSV file.
        columns: Columns to keep, in this order (default: all).
        limit: Keep only the first ``limit`` rows (default: all). The whole file is read first, so
            the column types are those of the full table.
        path_columns: Columns holding file paths; those absent from the table are skipped.

    Returns:
        The table, with ``str(path.parent / p)`` for every value ``p`` of the path columns.
    """
    frame = pd.read_csv(path)
    if columns is not None:
        frame = frame[columns]
    if limit is not None:
        frame = frame.iloc[:limit]
    for column in path_columns:
        if column in frame:
            frame[column] = [str(path.parent / p) for p in frame[column]]
    return frame
