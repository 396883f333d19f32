"""The metric registry.

A metric is a function ``fn(y_true, y_score, task) -> float`` registered with
``@METRICS.register(name, greater_is_better=..., problem_types=...)``. ``y_true`` holds class
indices (classification) or values (regression); ``y_score`` holds class probabilities (N, K) or
predicted values (N,).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from transmodal.registry import Registry


@dataclass(frozen=True)
class Metric:
    """A registered metric: the function and how to read it."""

    name: str
    fn: Callable[..., float]
    greater_is_better: bool
    problem_types: tuple[str, ...]

    def __call__(self, y_true: np.ndarray, y_score: np.ndarray, task) -> float:
        return float(self.fn(y_true, y_score, task))

    def score(self, value: float) -> float:
        """The value oriented so that higher is better (for early stopping)."""
        return value if self.greater_is_better else -value


METRICS: Registry = Registry("metric", "transmodal.metrics")


def register_metric(name: str, greater_is_better: bool, problem_types: tuple[str, ...]):
    """Decorator registering ``fn`` as the metric ``name``."""

    def decorator(fn):
        METRICS.register(name)(Metric(name, fn, greater_is_better, problem_types))
        return fn

    return decorator


REPORTED = {
    "binary": ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro", "log_loss", "roc_auc"),
    "multiclass": ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro", "log_loss", "roc_auc"),
    "regression": ("rmse", "mae", "r2"),
    "multilabel": ("f1_micro", "f1_macro_multilabel", "subset_accuracy", "hamming_loss", "roc_auc"),
}
DEFAULT_EVAL_METRIC = {"binary": "accuracy", "multiclass": "accuracy", "regression": "rmse", "multilabel": "f1_macro_multilabel"}


def compute_metrics(y_true: np.ndarray, y_score: np.ndarray, task, names=None) -> dict[str, float]:
    """All reported metrics of ``task.problem_type`` (or ``names``), as a flat dict."""
    names = names or REPORTED[task.problem_type]
    return {name: METRICS.get(name)(y_true, y_score, task) for name in names}
