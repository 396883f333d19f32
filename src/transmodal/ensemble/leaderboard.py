"""The leaderboard of a fitted ensemble: one row per member tried, and one for the ensemble."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

COLUMNS = ["member", "kind", "status", "tuning_score", "score", "fit_seconds", "predict_seconds", "weight"]


def leaderboard(auto, data=None) -> pd.DataFrame:
    """A DataFrame with :data:`COLUMNS`, ensemble first, then members by weight and tuning score.

    ``tuning_score`` is the eval metric on the selection rows (out-of-fold when bagged);
    ``score`` and ``predict_seconds`` are on ``data`` when given (NaN otherwise, and for members
    without a weight after loading: only members with a weight are saved).
    """
    from transmodal.metrics.base import METRICS

    metric = METRICS.get(auto.eval_metric_)
    scores, seconds, ensemble_score, ensemble_seconds = {}, {}, np.nan, np.nan
    if data is not None:
        begin = time.perf_counter()
        frame, targets = auto._frame(data, with_targets=True)
        reading = time.perf_counter() - begin
        member_scores = auto._member_scores(frame, every=True)
        seconds = dict(auto.last_predict_seconds_)
        y = auto._metric_targets(targets)
        for name, s in member_scores.items():
            scores[name] = metric(y, auto._metric_scores(s), auto.task_)
        ensemble_score = metric(y, auto._metric_scores(auto._ensemble(member_scores)), auto.task_)
        # the ensemble's time: reading and checking the table, and every member with a weight
        ensemble_seconds = reading + sum(t for n, t in seconds.items() if auto.weights_.get(n, 0.0) > 0)
    rows = [{"member": "ensemble", "kind": "weighted", "status": f"ok ({auto.preset_})",
             "tuning_score": auto.tuning_score_, "score": ensemble_score, "fit_seconds": auto.fit_seconds_,
             "predict_seconds": ensemble_seconds, "weight": sum(auto.weights_.values())}]
    for row in auto.results_:
        rows.append({"member": row["member"], "kind": row["kind"], "status": row["status"],
                     "tuning_score": row["tuning_score"], "score": scores.get(row["member"], np.nan),
                     "fit_seconds": row["fit_seconds"], "predict_seconds": seconds.get(row["member"], np.nan),
                     "weight": row["weight"]})
    order = 1 if metric.greater_is_better else -1
    members = sorted(rows[1:], key=lambda r: (-r["weight"], -order * np.nan_to_num(r["tuning_score"], nan=-np.inf * order)))
    return pd.DataFrame(rows[:1] + members, columns=COLUMNS)
