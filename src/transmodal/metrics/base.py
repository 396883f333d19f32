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

from transmodal.registry import Registry, UnknownNameError


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
# What picks the kept epoch when neither ``select_epoch_by`` nor ``eval_metric`` names a metric: for a
# binary label the tuning loss (the usual early-stopping rule: accuracy on a few hundred tuning rows
# is a coarse, noisy choice that kept epoch 17 of 20 of an overfitting fit), the default eval metric
# otherwise (multiclass: accuracy; choosing by log-loss cost 0.011 of accuracy and 0.018 of macro-F1
# in a cross-validation of the clothing training rows). benchmarks/RESULTS.md, "Default fit vs TF-IDF"
DEFAULT_EPOCH_METRIC = {**DEFAULT_EVAL_METRIC, "binary": "log_loss"}


def epoch_metric(select_epoch_by: str, eval_metric: str | None, problem_type: str) -> str:
    """The metric that picks the kept epoch (``FitConfig.select_epoch_by``).

    Args:
        select_epoch_by: ``"auto"``, ``"eval_metric"`` or a metric name.
        eval_metric: The predictor's eval metric as the user gave it (None: not given).
        problem_type: The first task's problem type.

    Returns:
        ``"auto"``: the given eval metric, else :data:`DEFAULT_EPOCH_METRIC`; ``"eval_metric"``: the
        eval metric (given, or the task's default); otherwise ``select_epoch_by`` itself.

    Raises:
        UnknownNameError: an unknown metric name (named with ``select_epoch_by``, the known ones listed).
    """

    if select_epoch_by == "auto":
        name = eval_metric or DEFAULT_EPOCH_METRIC[problem_type]
    elif select_epoch_by == "eval_metric":
        name = eval_metric or DEFAULT_EVAL_METRIC[problem_type]
    else:
        name = select_epoch_by
    if name not in METRICS:
        raise UnknownNameError(METRICS.unknown_message(name, "metric (select_epoch_by)"))
    return name


def compute_metrics(y_true: np.ndarray, y_score: np.ndarray, task, names=None) -> dict[str, float]:
    """All reported metrics of ``task.problem_type`` (or ``names``), as a flat dict."""
    names = names or REPORTED[task.problem_type]
    return {name: METRICS.get(name)(y_true, y_score, task) for name in names}
