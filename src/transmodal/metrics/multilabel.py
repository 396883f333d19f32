"""Multilabel metrics (scikit-learn) on per-label probabilities thresholded at 0.5."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from transmodal.metrics.base import register_metric


def _predicted(y_score) -> np.ndarray:
    return (np.asarray(y_score) >= 0.5).astype(int)


@register_metric("f1_micro", True, ("multilabel",))
def f1_micro(y_true, y_score, task):
    return skm.f1_score(y_true.astype(int), _predicted(y_score), average="micro", zero_division=0)


@register_metric("f1_macro_multilabel", True, ("multilabel",))
def f1_macro_multilabel(y_true, y_score, task):
    return skm.f1_score(y_true.astype(int), _predicted(y_score), average="macro", zero_division=0)


@register_metric("subset_accuracy", True, ("multilabel",))
def subset_accuracy(y_true, y_score, task):
    return skm.accuracy_score(y_true.astype(int), _predicted(y_score))


@register_metric("hamming_loss", False, ("multilabel",))
def hamming_loss(y_true, y_score, task):
    return skm.hamming_loss(y_true.astype(int), _predicted(y_score))
