"""The built-in trainable tabular encoder: standardised numbers, missing flags, category embeddings
and an MLP.

``fit_settings`` learns, per numeric column, the mean and standard deviation of its finite values,
and per categorical column the sorted list of categories seen (as strings). Both are stored in the
settings (JSON), so a saved model standardises and indexes new rows exactly as in training.
"""

from __future__ import annotations

import math
from numbers import Number
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from transmodal.encoders.base import Encoder, encoder_registry
from transmodal.errors import ConfigError

STD_FLOOR = 1e-6
MAX_Z = 1e4  # standardised values are clipped to [-MAX_Z, MAX_Z]
COLUMN_KINDS = ("numeric", "categorical")


def to_number(value: Any) -> float:
    """A float, or NaN for missing, non-numeric or non-finite values."""
    if value is None or isinstance(value, (bytes, bytearray)):
        return math.nan
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def to_category(value: Any) -> str | None:
    """The category key of ``value`` (``3``, ``3.0`` and ``"3"`` give ``"3"``); None if missing."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, Number):
        number = float(value)  # type: ignore[arg-type]
        if math.isnan(number):
            return None
        return str(int(number)) if number.is_integer() else str(value)
    text = str(value).strip()
    return text or None


def embedding_dim(n_categories: int) -> int:
    """Embedding size for a column with ``n_categories`` (plus the missing/unseen index 0)."""
    return min(16, (n_categories + 1) // 2 + 1)


def _get(item: Any, column: str) -> Any:
    return None if item is None else item.get(column)


@encoder_registry("tabular").register("mlp")
class TabularMLP(Encoder):
    """An MLP over all numeric and categorical columns of a row.

    Settings (all JSON):
        column_types: ``{column: "numeric" | "categorical"}`` (given by the caller).
        numeric_stats: ``{column: {"mean": m, "std": s}}`` (learned by ``fit_settings``).
        categories: ``{column: [category, ...]}`` sorted strings (learned by ``fit_settings``).
        hidden_dim: Width of the two hidden layers.
        output_dim: Size of the output vector.
        dropout: Dropout after each hidden layer.
        frozen: Parameters do not train.
    """

    modality = "tabular"
    DEFAULTS: dict[str, Any] = {
        "column_types": {},
        "numeric_stats": {},
        "categories": {},
        "hidden_dim": 128,
        "output_dim": 64,
        "dropout": 0.1,
        "frozen": False,
    }

    def __init__(self, **settings: Any) -> None:
        settings = self.with_defaults(settings)
        column_types = _check_column_types(settings["column_types"])
        super().__init__(**settings)
        self.numeric = [c for c, kind in column_types.items() if kind == "numeric"]
        self.categorical = [c for c, kind in column_types.items() if kind == "categorical"]
        # plain arrays, not buffers: prepare runs on the CPU whatever device the model is on
        stats = settings["numeric_stats"]
        self.means = np.array([stats.get(c, {}).get("mean", 0.0) for c in self.numeric], float)
        self.stds = np.array([stats.get(c, {}).get("std", 1.0) for c in self.numeric], float)
        # category -> index, 0 = missing or unseen
        self.lookup = [
            {str(cat): i + 1 for i, cat in enumerate(settings["categories"].get(c, []))}
            for c in self.categorical
        ]
        self.embeddings = nn.ModuleList(
            nn.Embedding(len(table) + 1, embedding_dim(len(table))) for table in self.lookup
        )
        in_dim = 2 * len(self.numeric) + sum(e.embedding_dim for e in self.embeddings)
        hidden, dropout = int(settings["hidden_dim"]), float(settings["dropout"])
        self.output_dim = int(settings["output_dim"])
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(dropout),
        )  # fmt: skip
        self.projection = nn.Linear(hidden, self.output_dim)

    @classmethod
    def fit_settings(cls, items: Sequence[Any], settings: dict[str, Any]) -> dict[str, Any]:
        """Learn numeric means/stds (finite values only, std >= 1e-6) and sorted category lists.

        Args:
            items: Training rows ``{column: value}``; ``None`` rows are skipped.
            settings: User settings; must hold ``column_types``.
        """
        settings = dict(settings)
        column_types = _check_column_types(settings.get("column_types"))
        rows = [item for item in items if item is not None]
        stats: dict[str, dict[str, float]] = {}
        categories: dict[str, list[str]] = {}
        for column, kind in column_types.items():
            if kind == "numeric":
                values = np.array([to_number(_get(row, column)) for row in rows], dtype=np.float64)
                values = values[np.isfinite(values)]
                mean = float(values.mean()) if len(values) else 0.0
                std = float(values.std()) if len(values) else 1.0
                stats[column] = {"mean": mean, "std": max(std, STD_FLOOR)}
            else:
                seen = {to_category(_get(row, column)) for row in rows}
                categories[column] = sorted(cat for cat in seen if cat is not None)
        settings["numeric_stats"] = stats
        settings["categories"] = categories
        return settings

    def prepare(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        """Rows -> tensors; ``None`` rows and cells count as missing.

        Returns:
            ``numeric`` (B, n_num) standardised, missing -> 0; ``numeric_missing`` (B, n_num) 0/1;
            ``categorical`` (B, n_cat) long, 0 = missing or unseen.
        """
        raw = np.array(
            [[to_number(_get(item, c)) for c in self.numeric] for item in items], dtype=np.float64
        ).reshape(len(items), len(self.numeric))
        missing = np.isnan(raw)
        numeric = np.where(missing, 0.0, (raw - self.means) / self.stds)
        numeric = np.clip(numeric, -MAX_Z, MAX_Z).astype(np.float32)  # stays finite in float32
        categorical = np.zeros((len(items), len(self.categorical)), dtype=np.int64)
        for j, (column, table) in enumerate(zip(self.categorical, self.lookup)):
            categorical[:, j] = [table.get(to_category(_get(item, column)), 0) for item in items]
        return {
            "numeric": torch.from_numpy(numeric),
            "numeric_missing": torch.from_numpy(missing.astype(np.float32)),
            "categorical": torch.from_numpy(categorical),
        }

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:  # (B, output_dim)
        parts = [inputs["numeric"], inputs["numeric_missing"]]  # (B, n_num) each
        categorical = inputs["categorical"]  # (B, n_cat)
        parts += [embed(categorical[:, j]) for j, embed in enumerate(self.embeddings)]
        x = torch.cat(parts, dim=1)  # (B, 2 n_num + sum of embedding sizes)
        return self.projection(self.mlp(x))  # (B, output_dim)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Embeddings with the first layer, then the second layer, then the projection."""
        return [
            list(self.embeddings.parameters()) + list(self.mlp[0].parameters()),
            list(self.mlp[3].parameters()),
            list(self.projection.parameters()),
        ]


def _check_column_types(column_types: Any) -> dict[str, str]:
    if not isinstance(column_types, dict) or not column_types:
        raise ConfigError(
            "the tabular mlp needs column_types={column: 'numeric' | 'categorical'} with at least "
            "one column"
        )
    for column, kind in column_types.items():
        if kind not in COLUMN_KINDS:
            raise ConfigError(f"column_types[{column!r}]={kind!r}; use one of {COLUMN_KINDS}")
    return dict(column_types)
