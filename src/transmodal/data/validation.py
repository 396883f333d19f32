"""Checking every cell of a table before training or prediction.

Validation decodes each non-empty image/audio cell once and checks numbers and text, so that bad
rows are reported all together (file, row, column, reason) instead of failing mid-training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from transmodal.data.cells import CellError, decode_cell, is_missing, resolve_path
from transmodal.data.readers import Table
from transmodal.errors import BadRow, DataError, did_you_mean

FILE_MODALITIES = ("image", "audio")


def read_features(data, column_types: dict[str, str], allowed_root: Path | None) -> tuple[Table, list[BadRow]]:
    """Read a table to predict from and check the model's feature columns: the table and its bad cells.

    Raises:
        DataError: the table has no rows, or lacks a feature column.
    """
    from transmodal.data.readers import read_table

    table = read_table(data)
    if table.frame.empty:
        raise DataError(f"{table.source}: the table has no rows (only a header?); nothing to predict")
    check_columns(table, list(column_types), "the model reads them")
    return table, validate_features(table, column_types, allowed_root)


def check_columns(table: Table, columns: Sequence[str], why: str) -> None:
    """Raise when ``table`` lacks any of ``columns``, naming each with the closest column it has.

    Args:
        why: Why the columns are needed, e.g. "the model reads them".

    Raises:
        DataError: ``table.csv: column 'size' is missing (did you mean 'Size'?) from the header ...``.
    """
    missing = [c for c in columns if c not in table.frame.columns]
    if not missing:
        return
    named = ", ".join(f"{c!r}{did_you_mean(c, table.frame.columns)}" for c in missing)
    header = " (row 1)" if not table.source.startswith("<") else ""
    raise DataError(f"{table.source}: column(s) {named} missing from the header{header}; {why}. "
                    f"Columns are {list(table.frame.columns)}; add the missing ones (empty cells are allowed)")


def validate_features(
    table: Table, column_types: dict[str, str], allowed_root: Path | None = None, decode_files: bool = True
) -> list[BadRow]:
    """Return a :class:`BadRow` for every non-empty feature cell that cannot be decoded.

    Columns listed in ``column_types`` but absent from the table are reported once (row -1; callers
    that want one clear message call :func:`check_columns` first).

    Args:
        decode_files: False checks that each image/audio file exists, is not empty and stays inside
            ``allowed_root`` without opening it (a quick first pass before a fit imports its heavy parts).
    """
    bad: list[BadRow] = []
    for column, modality in column_types.items():
        if column not in table.frame.columns:
            bad.append(BadRow(table.source, -1, column, "the column is missing from the table; "
                              "add it (empty cells are allowed) or retrain without it"))
            continue
        check = decode_cell if decode_files or modality not in FILE_MODALITIES else _check_file
        for row, value in enumerate(table.frame[column].tolist()):
            if is_missing(value):
                continue
            try:
                check(modality, value, table.base_dir, allowed_root)
            except CellError as err:
                bad.append(BadRow(table.source, row, str(column), str(err)))
    return bad


def _check_file(modality: str, value, base_dir: Path, allowed_root: Path | None) -> None:
    """The file of an image/audio cell exists and is not empty (the messages of the decoders); a
    cell holding the file's bytes is checked when it is decoded."""
    if isinstance(value, bytes):
        return
    path = resolve_path(value, base_dir, allowed_root)
    if not path.is_file():
        raise CellError(f"{modality} file {path} does not exist")
    if path.stat().st_size == 0:
        raise CellError(f"{modality} file {path} is empty (0 bytes)")


def bad_row_indices(bad: Sequence[BadRow]) -> list[int]:
    """Sorted distinct row positions named by ``bad`` (rows >= 0)."""
    return sorted({b.row for b in bad if b.row >= 0})
