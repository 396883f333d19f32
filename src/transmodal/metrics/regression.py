"""Regression metrics (scikit-learn): RMSE, MAE, R2."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from transmodal.metrics.base import register_metric


@register_metric("rmse", False, ("regression",))
def rmse(y_true, y_score, task):
    return float(np.sqrt(skm.mean_squared_error(y_true, y_score)))


@register_metric("mae", False, ("regression",))
def mae(y_true, y_score, task):
    return skm.mean_absolute_error(y_true, y_score)


@register_metric("r2", True, ("regression",))
def r2(y_true, y_score, task):
    return skm.r2_score(y_true, y_score)
