"""Column modalities: inference rules, overrides and grouping into model inputs.

Inference rules, applied to the non-empty cells of each feature column:

1. ``bool`` or numeric dtype -> ``numeric`` (a bool column -> ``categorical``).
2. Strings of which at least 80% end in an image extension (.png .jpg .jpeg .bmp .gif .webp .tif
   .tiff) -> ``image``; in an audio extension (.wav .flac .ogg .mp3) -> ``audio``.
3. Strings of which at least 95% parse as numbers -> ``numeric`` (the rest are reported as bad cells).
4. Strings with at most ``max(20, 5% of rows)`` distinct values and a mean of at most 3 words ->
   ``categorical``.
5. Anything else -> ``text``.

``column_types={"col": "text", ...}`` overrides any of them. Image, audio and text columns are each
one model input named after the column (text columns named by ``join_text`` form one input instead:
:mod:`transmodal.data.joined_text`); numeric and categorical columns together form the single input
``tabular``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from transmodal.data.cells import COMMON_NA_STRINGS
from transmodal.data.joined_text import joined_input_name
from transmodal.errors import ConfigError, did_you_mean, spelled

MODALITIES = ("image", "audio", "text", "numeric", "categorical")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
TABULAR_INPUT = "tabular"


@dataclass
class InputSpec:
    """One model input: a modality and the columns it reads.

    Attributes:
        name: The input's name (the column name, or ``"tabular"``).
        modality: ``image``, ``audio``, ``text`` or ``tabular``.
        columns: The table columns it reads (one, except for ``tabular`` and a text input that joins
            several text columns: :mod:`transmodal.data.joined_text`).
        column_types: For ``tabular``: column -> ``numeric`` | ``categorical``.
    """

    name: str
    modality: str
    columns: list[str]
    column_types: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _share(values: pd.Series, predicate) -> float:
    if len(values) == 0:
        return 0.0
    return float(values.map(predicate).mean())


def infer_modality(series: pd.Series) -> str:
    """Infer one column's modality by the rules in this module's docstring."""
    if pd.api.types.is_bool_dtype(series):
        return "categorical"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    values = series.dropna().astype(str).str.strip()
    values = values[values != ""]
    if values.empty:
        return "text"
    lowered = values.str.lower()
    if _share(lowered, lambda v: v.endswith(IMAGE_EXTENSIONS)) >= 0.8:
        return "image"
    if _share(lowered, lambda v: v.endswith(AUDIO_EXTENSIONS)) >= 0.8:
        return "audio"
    # "NA", "null", ... (missing in pandas' default list) count as numbers here: a numeric column with
    # such cells stays numeric and they are reported as bad cells naming na_values, never turned silently
    # into a categorical column
    numbers = pd.to_numeric(values, errors="coerce").notna()
    if numbers.any() and (numbers | values.isin(COMMON_NA_STRINGS)).mean() >= 0.95:
        return "numeric"
    max_categories = max(20, int(0.05 * len(series)))
    if values.nunique() <= max_categories and values.str.split().str.len().mean() <= 3:
        return "categorical"
    return "text"


def infer_column_types(
    frame: pd.DataFrame, exclude: list[str], overrides: dict[str, str] | None = None
) -> dict[str, str]:
    """Return ``{column: modality}`` for every feature column.

    Args:
        frame: The table.
        exclude: Columns that are not features (labels).
        overrides: ``{column: modality}`` that win over inference; ``None`` as a value drops the
            column from the features.
    """
    overrides = {str(column): modality for column, modality in (overrides or {}).items()}  # names are str
    where = spelled("column_types", "--column-type")
    for column, modality in overrides.items():
        if column not in frame.columns:
            raise ConfigError(f"{where} names the column {column!r}, which is not in the table"
                              f"{did_you_mean(column, frame.columns)}; columns are {list(frame.columns)}")
        if modality is not None and modality not in MODALITIES:
            raise ConfigError(f"{where}: {column!r} cannot be {modality!r}{did_you_mean(modality, MODALITIES)}; "
                              f"use one of {', '.join(MODALITIES)}")
    types: dict[str, str] = {}
    for column in frame.columns:
        if column in exclude:
            continue
        if column in overrides:
            if overrides[column] is not None:
                types[column] = overrides[column]
            continue
        if str(column).startswith("Unnamed:"):
            continue  # a pandas index written as a column
        types[column] = infer_modality(frame[column])
    if not types:
        raise ConfigError("the table has no feature columns besides the label(s)")
    return types


def build_inputs(column_types: dict[str, str], joined: list[str] | None = None) -> list[InputSpec]:
    """Group columns into model inputs (one per image/audio/text column, one ``tabular``).

    Args:
        joined: Text columns read as one input (``join_text``: see :mod:`transmodal.data.joined_text`),
            placed where the first of them is; every other text column is an input of its own.
    """
    joined = list(joined or [])
    inputs: list[InputSpec] = []
    tabular = {c: m for c, m in column_types.items() if m in ("numeric", "categorical")}
    for column, modality in column_types.items():
        if column in joined:
            if column == joined[0]:
                inputs.append(InputSpec(name=joined_input_name(joined), modality="text", columns=list(joined)))
        elif modality in ("image", "audio", "text"):
            inputs.append(InputSpec(name=str(column), modality=modality, columns=[column]))
    if tabular:
        if TABULAR_INPUT in column_types:
            raise ConfigError(f"a column may not be named {TABULAR_INPUT!r} beside tabular columns")
        inputs.append(
            InputSpec(TABULAR_INPUT, "tabular", list(tabular), column_types=dict(tabular))
        )
    return inputs
