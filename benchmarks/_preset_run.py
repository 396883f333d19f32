"""One preset benchmark run: fit an AutoPredictor on a table, time it, score the test rows, print and
return the leaderboard (shared by the ``presets_*`` scripts of issue 16)."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd


def fit_and_score(label: str, problem_type: str, eval_metric: str, train: pd.DataFrame, test: pd.DataFrame,
                  **fit_options: Any) -> dict[str, Any]:
    """Fit ``AutoPredictor(label, problem_type, eval_metric)`` on ``train`` with ``fit_options``
    (presets, time_limit, column_types, tuning_data, ...), then evaluate it on ``test``.

    Returns:
        ``auto`` (the fitted predictor), ``fit_seconds``, ``predict_seconds_test`` (the first
        ``evaluate`` of the test rows), ``metrics``, ``board`` (the leaderboard DataFrame on the test
        rows), and ``record``: the JSON-ready part every script saves.
    """
    from transmodal import AutoPredictor

    start = time.perf_counter()
    auto = AutoPredictor(label=label, problem_type=problem_type, eval_metric=eval_metric).fit(
        train, log=lambda line: print(line, flush=True), **fit_options)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    metrics = auto.evaluate(test)
    predict_seconds = time.perf_counter() - start
    board = auto.leaderboard(test)
    print(board.to_string(index=False), flush=True)
    record = {"time_limit": auto.time_limit_, "eval_metric": auto.eval_metric_, "fit_seconds": fit_seconds,
              "predict_seconds_test": predict_seconds, "metrics": metrics,
              "leaderboard": board.to_dict(orient="records"), "weights": auto.weights_}
    return {"auto": auto, "fit_seconds": fit_seconds, "predict_seconds_test": predict_seconds, "metrics": metrics,
            "board": board, "record": record}
