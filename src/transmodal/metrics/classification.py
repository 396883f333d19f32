"""Classification metrics (scikit-learn): accuracy, balanced accuracy, macro P/R/F1, log loss, AUROC.

Macro precision, recall and F1 follow one rule, scikit-learn's: the average runs over the classes
present in ``y_true`` or in the predictions (a slice holding 2 of 9 classes, all predicted right,
scores 1.0 on all three, as ``sklearn.metrics.f1_score(..., average="macro")`` does).
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from transmodal.metrics.base import register_metric

CLASSIFICATION = ("binary", "multiclass")


def _labels(y_score: np.ndarray) -> np.ndarray:
    return np.asarray(y_score).argmax(axis=1)


@register_metric("accuracy", True, CLASSIFICATION)
def accuracy(y_true, y_score, task):
    return skm.accuracy_score(y_true, _labels(y_score))


@register_metric("balanced_accuracy", True, CLASSIFICATION)
def balanced_accuracy(y_true, y_score, task):
    return skm.balanced_accuracy_score(y_true, _labels(y_score))


@register_metric("precision_macro", True, CLASSIFICATION)
def precision_macro(y_true, y_score, task):
    return skm.precision_score(y_true, _labels(y_score), average="macro", zero_division=0)


@register_metric("recall_macro", True, CLASSIFICATION)
def recall_macro(y_true, y_score, task):
    return skm.recall_score(y_true, _labels(y_score), average="macro", zero_division=0)


@register_metric("f1_macro", True, CLASSIFICATION)
def f1_macro(y_true, y_score, task):
    return skm.f1_score(y_true, _labels(y_score), average="macro", zero_division=0)


@register_metric("log_loss", False, CLASSIFICATION)
def log_loss(y_true, y_score, task):
    proba = np.clip(np.asarray(y_score, dtype=np.float64), 1e-15, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    return skm.log_loss(y_true, proba, labels=np.arange(len(task.classes)))


@register_metric("roc_auc", True, CLASSIFICATION + ("multilabel",))
def roc_auc(y_true, y_score, task):
    """Binary AUROC, one-vs-rest macro AUROC over the classes present, or macro multilabel AUROC.

    NaN when it is undefined (a single class in ``y_true``).
    """
    y_score = np.asarray(y_score, dtype=np.float64)
    if task.problem_type == "multilabel":
        keep = [k for k in range(y_true.shape[1]) if len(np.unique(y_true[:, k])) == 2]
        return skm.roc_auc_score(y_true[:, keep], y_score[:, keep], average="macro") if keep else float("nan")
    present = np.unique(y_true)
    if len(present) < 2:
        return float("nan")
    if y_score.shape[1] == 2:
        return skm.roc_auc_score(y_true, y_score[:, 1])
    scores = y_score[:, present] / y_score[:, present].sum(axis=1, keepdims=True)
    if len(present) == 2:
        return skm.roc_auc_score(y_true == present[1], scores[:, 1])
    return skm.roc_auc_score(y_true, scores, multi_class="ovr", average="macro", labels=present)
