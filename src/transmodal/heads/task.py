"""Task specifications: what a label column is and how its values map to model targets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from transmodal.data.cells import FLOAT32_MAX, is_missing, number_problem
from transmodal.errors import BadRow, ConfigError

PROBLEM_TYPES = ("binary", "multiclass", "regression", "multilabel")
MULTILABEL_SEPARATOR = ";"


def _plain(value: Any) -> Any:
    """A class label as a JSON-serialisable Python value; a whole float is its int (a column of
    integer labels turns float in pandas as soon as one label is missing, and 3.0 must stay class 3)."""
    value = value.item() if isinstance(value, np.generic) else value
    return int(value) if isinstance(value, float) and value.is_integer() else value


def infer_problem_type(series: pd.Series) -> str:
    """binary for two distinct values; regression for floats or for integers with over 20 distinct
    values; multiclass otherwise (strings, or integers with at most 20 distinct values)."""
    values = series.dropna()
    distinct = values.nunique()
    if distinct <= 2:
        return "binary"
    if pd.api.types.is_bool_dtype(values):
        return "binary"
    if pd.api.types.is_float_dtype(values) and not np.all(np.mod(values, 1) == 0):
        return "regression"
    if pd.api.types.is_numeric_dtype(values) and distinct > 20:
        return "regression"
    return "multiclass"


@dataclass
class TaskSpec:
    """One prediction target.

    Attributes:
        name: The label column.
        problem_type: binary, multiclass, regression or multilabel.
        classes: Class values in output order (classification and multilabel).
        target_mean: Regression targets are standardised with this mean ...
        target_std: ... and this standard deviation.
    """

    name: str
    problem_type: str
    classes: list[Any] = field(default_factory=list)
    target_mean: float = 0.0
    target_std: float = 1.0

    @classmethod
    def from_series(cls, name: str, series: pd.Series, problem_type: str | None = None) -> "TaskSpec":
        """Infer the spec of label column ``name`` from its training values."""
        problem_type = problem_type or infer_problem_type(series)
        if problem_type not in PROBLEM_TYPES:
            raise ConfigError(f"problem_type {problem_type!r} for {name!r}; use one of {PROBLEM_TYPES}")
        values = series[~series.map(is_missing)]
        if values.empty:
            raise ConfigError(f"label column {name!r} has no values")
        if problem_type == "regression":
            numbers = pd.to_numeric(values, errors="coerce").astype(float)
            numbers = numbers[np.isfinite(numbers) & (numbers.abs() <= FLOAT32_MAX)]  # the others are bad cells
            if numbers.empty:
                raise ConfigError(f"regression label column {name!r} has no finite number")
            return cls(name, problem_type, [], float(numbers.mean()), float(numbers.std(ddof=0) or 1.0))
        if problem_type == "multilabel":
            labels = sorted({part for value in values for part in split_labels(value)})
            return cls(name, problem_type, labels)
        classes = sorted({_plain(v) for v in values}, key=lambda v: (str(type(v)), v))
        if problem_type == "binary" and len(classes) != 2:
            raise ConfigError(f"label {name!r} is binary but has {len(classes)} class(es): {classes}")
        return cls(name, problem_type, classes)

    @property
    def output_dim(self) -> int:
        """Number of model outputs for this task."""
        return 1 if self.problem_type == "regression" else len(self.classes)

    def decode(self, scores: np.ndarray) -> np.ndarray:
        """Predicted label values from this task's scores: (N,) values for regression, the class with the
        highest score per row for classification, the ``;``-joined classes scored >= 0.5 for multilabel.

        Args:
            scores: (N,) for regression, (N, n_classes) otherwise.
        """
        if self.problem_type == "regression":
            return scores
        classes = np.asarray(self.classes, dtype=object)
        if self.problem_type == "multilabel":
            return np.asarray([MULTILABEL_SEPARATOR.join(classes[row >= 0.5]) for row in scores], dtype=object)
        return classes[scores.argmax(axis=1)]

    def encode(self, series: pd.Series, source: str, allow_missing: bool) -> tuple[np.ndarray, list[BadRow]]:
        """Map label values to targets.

        Returns:
            ``(targets, bad_rows)``: class indices (int64, -1 where missing), standardised floats
            (NaN where missing) or multi-hot rows (float32, NaN rows where missing); a bad row for
            each missing label (unless ``allow_missing``) and each class never seen in training.
        """
        bad: list[BadRow] = []
        missing = series.map(is_missing).to_numpy()
        if not allow_missing:
            bad += [BadRow(source, int(i), self.name, "the label is missing; fill it or drop the row")
                    for i in np.flatnonzero(missing)]
        if self.problem_type == "regression":
            numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, copy=True)
            for i in np.flatnonzero(~missing):
                problem = "is not a number" if np.isnan(numbers[i]) else number_problem(numbers[i])
                if problem:
                    bad.append(BadRow(source, int(i), self.name, f"label {series.iloc[i]!r} {problem}"))
                    numbers[i] = np.nan
            return ((numbers - self.target_mean) / self.target_std).astype(np.float32), bad
        if self.problem_type == "multilabel":
            return self._encode_multilabel(series, missing, source, bad)
        index = {str(_plain(c)): i for i, c in enumerate(self.classes)}
        targets = np.full(len(series), -1, dtype=np.int64)
        for i, (value, absent) in enumerate(zip(series, missing)):
            if absent:
                continue
            key = str(_plain(value))
            if key not in index:
                bad.append(BadRow(source, i, self.name, f"label {value!r} was not seen in training; "
                                  f"known classes: {self.classes[:20]}"))
            else:
                targets[i] = index[key]
        return targets, bad

    def _encode_multilabel(self, series, missing, source, bad):
        index = {c: i for i, c in enumerate(self.classes)}
        targets = np.full((len(series), len(self.classes)), np.nan, dtype=np.float32)
        for i, (value, absent) in enumerate(zip(series, missing)):
            if absent:
                continue
            targets[i] = 0.0
            for part in split_labels(value):
                if part not in index:
                    bad.append(BadRow(source, i, self.name, f"label {part!r} was not seen in training"))
                else:
                    targets[i, index[part]] = 1.0
        return targets, bad

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def split_labels(value: Any) -> list[str]:
    """A multilabel cell ("a;b;c" or a list) as a list of label strings."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(MULTILABEL_SEPARATOR) if part.strip()]


def labelled_rows(y_true: np.ndarray, task: TaskSpec) -> np.ndarray:
    """A boolean mask of the rows of encoded targets ``y_true`` that carry a label for ``task``
    (what :meth:`TaskSpec.encode` leaves for a missing label: NaN for regression, a row of NaN for
    multilabel, -1 for a class index)."""
    if task.problem_type == "regression":
        return ~np.isnan(y_true)
    if task.problem_type == "multilabel":
        return ~np.isnan(y_true).any(axis=1)
    return y_true >= 0
