"""Comparing fusion strategies on one split: several seeds each, metric mean/std, time, size."""

from __future__ import annotations

import time
from typing import Any, Sequence

import pandas as pd


def split_table(data, label: str, test_fraction: float, seed: int = 0):
    """A stratified (when possible) train/test split of ``data``; returns two Tables."""
    from transmodal.data.readers import read_table
    from transmodal.fitting import holdout_split
    from transmodal.heads.task import infer_problem_type

    table = read_table(data)
    return holdout_split(table, label, test_fraction, seed, infer_problem_type(table.frame[label]))


def parameter_count(predictor) -> int:
    """Parameters of the fitted network (trainable or not)."""
    return int(sum(p.numel() for p in predictor.net_.parameters()))


def compare_fusions(train, test, label: str, fusions: Sequence[str], seeds: Sequence[int],
                    hyperparameters: dict[str, Any] | None = None, tuning=None,
                    problem_type: str | None = None, eval_metric: str | None = None,
                    on_fit=None) -> pd.DataFrame:
    """Fit every fusion with every seed on the same data and score it on ``test``.

    Args:
        train, test, tuning: DataFrames, paths or Tables (``tuning`` None: the fit's own holdout,
            which depends on the seed only, so every fusion sees the same split).
        label: The label column.
        fusions: Fusion registry names.
        seeds: Seeds; each fusion is fitted once per seed.
        hyperparameters: Shared hyperparameters; ``fusion`` is set per strategy.
        on_fit: Optional ``fn(row: dict, predictor)`` called after each fit (logging, saving).

    Returns:
        One row per (fusion, seed): ``fusion``, ``seed``, ``metric``, ``score``, ``fit_seconds``,
        ``parameters``.
    """
    from transmodal.predictor import MultimodalPredictor

    rows = []
    for fusion in fusions:
        for seed in seeds:
            predictor = MultimodalPredictor(label, problem_type=problem_type, eval_metric=eval_metric)
            start = time.perf_counter()
            predictor.fit(train, tuning_data=tuning, seed=int(seed),
                          hyperparameters={**(hyperparameters or {}), "fusion": fusion})
            seconds = time.perf_counter() - start
            metric = predictor.eval_metric_
            row = {"fusion": fusion, "seed": int(seed), "metric": metric,
                   "score": float(predictor.evaluate(test, metrics=[metric])[metric]),
                   "fit_seconds": seconds, "parameters": parameter_count(predictor)}
            rows.append(row)
            if on_fit is not None:
                on_fit(row, predictor)
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Per fusion: mean and std of the score, mean fit seconds, parameters (in input order)."""
    grouped = results.groupby("fusion", sort=False)
    return pd.DataFrame({
        "metric": grouped["metric"].first(),
        "mean": grouped["score"].mean(),
        "std": grouped["score"].std(ddof=0).fillna(0.0),
        "seeds": grouped["score"].count(),
        "fit_seconds": grouped["fit_seconds"].mean(),
        "parameters": grouped["parameters"].first(),
    })


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as an aligned text table."""
    lines = [f"{'fusion':<14}{'metric':<12}{'mean':>8}{'std':>8}{'seeds':>7}{'fit s':>9}{'params':>11}"]
    for fusion, row in summary.iterrows():
        lines.append(f"{fusion:<14}{row['metric']:<12}{row['mean']:>8.4f}{row['std']:>8.4f}"
                     f"{int(row['seeds']):>7}{row['fit_seconds']:>9.1f}{int(row['parameters']):>11,}")
    return "\n".join(lines)

