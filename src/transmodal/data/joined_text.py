"""Text columns joined into one model input (the ``join_text`` fit setting).

Several text columns of a row become one text sequence for one encoder, so that a fine-tuned
encoder's attention reads them together (AutoGluon's MultiModalPredictor does the same). Each
present cell is written after its column's name, in the order of the columns, and the parts are
joined with :data:`SEPARATOR`::

    Title: Love this dress | Review Text: It fits perfectly.

A missing (empty) cell leaves its part out (``Review Text: It fits perfectly.``); a row that lacks
every joined column lacks the input. The joined input is named :func:`joined_input_name` (the
column names joined by ``+``) and keeps its columns in the model spec (``InputSpec.columns``), so
prediction, serving and a loaded model join the same cells the same way; the table still has (and
a request still sends) the original columns.

``join_text`` is one of: ``None`` (no joining), ``"all"`` (every text column), ``"short"`` (every
text column but the one with the most characters per row: that one stays an input of its own), or
a list of at least two text column names. :class:`~transmodal.config.FitConfig` checks that form
when it is built; this module checks only what needs the table (the named columns are text columns
of it).
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from transmodal.data.cells import decode_text, is_missing
from transmodal.errors import ConfigError, did_you_mean, spelled

SEPARATOR = " | "


def join_cells(columns: Sequence[str], values: Sequence[Any]) -> str | None:
    """The joined text of one row: ``"<column>: <text>"`` for each present cell, joined by
    :data:`SEPARATOR`; None when every cell is missing.

    Raises:
        CellError: a cell is not valid text (bytes that are not UTF-8).
    """
    parts = [f"{column}: {decode_text(value).strip()}" for column, value in zip(columns, values)
             if not is_missing(value)]
    return SEPARATOR.join(parts) if parts else None


def joined_input_name(columns: Sequence[str]) -> str:
    """The model input's name for joined ``columns``: ``"Title+Review Text"``."""
    return "+".join(str(c) for c in columns)


def joined_columns(join: str | list[str] | None, column_types: dict[str, str],
                   frame: pd.DataFrame | None = None) -> list[str]:
    """The text columns that ``join`` (the ``join_text`` setting) joins, in table order; ``[]`` when
    nothing is joined (``None``, or fewer than two text columns for ``"all"``/``"short"``).

    Args:
        join: A ``join_text`` of a valid form (:meth:`transmodal.config.FitConfig._check_join_text`
            checked it: ``"all"``, ``"short"`` or a list of at least two distinct names).
        frame: The training rows; ``"short"`` reads the characters per row of each text column.

    Raises:
        ConfigError: a named column is not in the table or not a text column; the joined input's
            name is already a column's.
    """
    if join is None:
        return []
    text = [c for c, m in column_types.items() if m == "text"]
    where = spelled("join_text", "--set join_text")
    if join == "all":
        columns = text
    elif join == "short":
        columns = [c for c in text if c != longest_text(frame, text)] if len(text) > 1 else text
    else:
        _check_named(join, column_types, text, where)
        columns = [c for c in column_types if c in set(join)]  # table order
    if len(columns) < 2:
        return []
    name = joined_input_name(columns)
    if name in column_types:
        raise ConfigError(f"{where}: the joined input's name {name!r} is already a column's; rename that column")
    return columns


def _check_named(join: list[str], column_types: dict[str, str], text: list[str], where: str) -> None:
    """Each column of a ``join_text`` list is a text column of the table."""
    for column in join:
        if column not in column_types:
            raise ConfigError(f"{where} names the column {column!r}, which is not a feature column"
                              f"{did_you_mean(column, column_types)}; text columns are {text}")
        if column_types[column] != "text":
            raise ConfigError(f"{where} names {column!r}, a {column_types[column]} column; only text columns "
                              f"are joined (text columns are {text}; set column_types={{{column!r}: 'text'}} "
                              "to read it as text)")


def characters_per_row(frame: pd.DataFrame, columns: Sequence[str]) -> float:
    """Mean characters per row of ``columns`` in ``frame``, summed over them (a column not in
    ``frame``: 0)."""
    return float(sum(frame[c].fillna("").astype(str).str.len().mean() if c in frame else 0.0 for c in columns))


def longest_text(frame: pd.DataFrame | None, columns: list[str]) -> str:
    """The column of ``columns`` with the most characters per row in ``frame`` (ties, or no frame:
    the first)."""
    if frame is None:
        return columns[0]
    lengths = [characters_per_row(frame, [c]) for c in columns]
    return columns[max(range(len(columns)), key=lambda i: (lengths[i], -i))]
