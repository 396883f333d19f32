"""The multi-task report: per-task metrics against single-task models, and LibMTL's delta_m."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from transmodal.errors import ConfigError


def relative_change(multi: float, single: float, greater_is_better: bool) -> float:
    """``(multi - single) / |single|``, sign-flipped when lower is better (so positive = better)."""
    if single == 0:
        raise ConfigError("delta_m is undefined when a single-task metric is 0")
    sign = 1.0 if greater_is_better else -1.0
    return sign * (multi - single) / abs(single)


def delta_m(multi: Mapping[str, Mapping[str, float]], single: Mapping[str, Mapping[str, float]],
            metrics: Mapping[str, list[str] | str]) -> float:
    """LibMTL's delta_m in percent: the mean over tasks of the mean relative improvement of the
    task's metrics over the single-task model, sign-adjusted for lower-is-better metrics.

    Args:
        multi: ``{task: {metric: value}}`` of the multi-task model (as ``evaluate`` returns).
        single: The same for the single-task models.
        metrics: Task -> the metric name(s) that count for it.

    Returns:
        ``100 / T * sum_t mean_k (-1)^{l_k} (M_{t,k} - S_{t,k}) / S_{t,k}`` (``l_k`` = 1 when lower is
        better); positive means the multi-task model is better on average.
    """
    from transmodal.metrics.base import METRICS

    per_task = []
    for task, names in metrics.items():
        names = [names] if isinstance(names, str) else list(names)
        changes = [relative_change(multi[task][m], single[task][m], METRICS.get(m).greater_is_better) for m in names]
        per_task.append(float(np.mean(changes)))
    return 100.0 * float(np.mean(per_task))


def comparison_table(multi: Mapping[str, Mapping[str, float]], single: Mapping[str, Mapping[str, float]],
                     metrics: Mapping[str, list[str] | str]) -> pd.DataFrame:
    """One row per (task, metric): single-task value, multi-task value and relative change in %."""
    from transmodal.metrics.base import METRICS

    rows = []
    for task, names in metrics.items():
        for m in [names] if isinstance(names, str) else names:
            change = relative_change(multi[task][m], single[task][m], METRICS.get(m).greater_is_better)
            rows.append({"task": task, "metric": m, "single": single[task][m], "multi": multi[task][m],
                         "change_%": 100.0 * change})
    return pd.DataFrame(rows)
