"""Checking every cell of a table before training or prediction.

Validation decodes each non-empty image/audio cell once and checks numbers and text, so that bad
rows are reported all together (file, row, column, reason) instead of failing mid-training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from transmodal.data.cells import CellError, decode_cell, is_missing
from transmodal.data.readers import Table
from transmodal.errors import BadRow


def validate_features(
    table: Table, column_types: dict[str, str], allowed_root: Path | None = None
) -> list[BadRow]:
    """Return a :class:`BadRow` for every non-empty feature cell that cannot be decoded.

    Columns listed in ``column_types`` but absent from the table are reported once (row -1).
    """
    bad: list[BadRow] = []
    for column, modality in column_types.items():
        if column not in table.frame.columns:
            bad.append(BadRow(table.source, -1, column, "the column is missing from the table; "
                              "add it (empty cells are allowed) or retrain without it"))
            continue
        for row, value in enumerate(table.frame[column].tolist()):
            if is_missing(value):
                continue
            try:
                decode_cell(modality, value, table.base_dir, allowed_root)
            except CellError as err:
                bad.append(BadRow(table.source, row, str(column), str(err)))
    return bad


def bad_row_indices(bad: Sequence[BadRow]) -> list[int]:
    """Sorted distinct row positions named by ``bad`` (rows >= 0)."""
    return sorted({b.row for b in bad if b.row >= 0})
