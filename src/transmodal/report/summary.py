"""The report's numbers: tuning-set evaluation per task, modality importance, data summary and the
environment (collected at the end of a fit by :class:`transmodal.fitting.extensions.report.Report`)."""

from __future__ import annotations

import platform
from typing import Any

import numpy as np
import pandas as pd

MAX_POINTS = 2000  # regression points kept for the residual plot


def data_summary(frame: pd.DataFrame, column_types: dict[str, str], bad_cells: int, bad_rows: int) -> dict[str, Any]:
    """Per column: modality and missing rate; plus the bad-cell count."""
    from transmodal.data.cells import is_missing

    columns = []
    for column, modality in column_types.items():
        values = frame[column].tolist() if column in frame.columns else []
        missing = sum(is_missing(v) for v in values) / max(1, len(values))
        columns.append({"column": column, "modality": modality, "missing_rate": float(missing)})
    return {"columns": columns, "bad_cells": bad_cells, "bad_rows": bad_rows}


def evaluate_tasks(predictor, dataset, cache=None) -> dict[str, Any]:
    """Per task on the tuning set: metrics, and a confusion matrix with per-class metrics or
    regression points."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from transmodal.engine.inference import run_inference
    from transmodal.heads.task import labelled_rows
    from transmodal.metrics.base import compute_metrics

    scores = run_inference(predictor.net_, dataset, predictor.config_, cache=cache)["scores"]
    result = {}
    for task in predictor.tasks_:
        y_true, y_score = dataset.targets[task.name], scores[task.name]
        keep = labelled_rows(y_true, task)
        if not keep.any():
            continue  # e.g. a joint-training source task, unlabelled in the target's tuning rows
        if task.problem_type == "regression":
            y_true = y_true * task.target_std + task.target_mean
        y_true, y_score = y_true[keep], y_score[keep]
        entry: dict[str, Any] = {"problem_type": task.problem_type,
                                 "metrics": _finite(compute_metrics(y_true, y_score, task, None))}
        if task.problem_type in ("binary", "multiclass"):
            labels = list(range(len(task.classes)))
            y_pred = y_score.argmax(axis=1)
            entry["classes"] = [str(c) for c in task.classes]
            entry["confusion"] = confusion_matrix(y_true, y_pred, labels=labels).tolist()
            p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
            entry["per_class"] = [{"class": str(c), "precision": float(p[i]), "recall": float(r[i]),
                                   "f1": float(f[i]), "support": int(s[i])} for i, c in enumerate(task.classes)]
        elif task.problem_type == "regression":
            entry["points"] = {"true": y_true[:MAX_POINTS].tolist(), "pred": y_score[:MAX_POINTS].tolist()}
        result[task.name] = entry
    return result


def modality_importance(predictor, dataset, cache=None) -> dict[str, float] | None:
    """Drop of the tuning score when each input is hidden from every row (None for one input)."""
    import torch

    from transmodal.engine.inference import run_inference
    from transmodal.heads.task import labelled_rows
    from transmodal.metrics.base import METRICS

    names = predictor.net_.input_names
    if len(names) < 2:
        return None
    task = predictor.tasks_[0]
    metric = METRICS.get(predictor.eval_metric_)
    if task.problem_type not in metric.problem_types:
        return None

    def score(hidden: str | None) -> float:
        def hide(batch):
            if hidden is not None:
                batch["masks"][hidden] = torch.zeros_like(batch["masks"][hidden])
            return batch

        out = run_inference(predictor.net_, dataset, predictor.config_, transform=hide, cache=cache)["scores"][task.name]
        y_true = dataset.targets[task.name]
        keep = labelled_rows(y_true, task)
        if task.problem_type == "regression":
            y_true = y_true * task.target_std + task.target_mean
        return float(metric.score(metric(y_true[keep], out[keep], task)))

    base = score(None)
    return {name: base - score(name) for name in names}


def _finite(metrics: dict[str, float]) -> dict[str, float | None]:
    return {k: (float(v) if v is not None and np.isfinite(v) else None) for k, v in metrics.items()}


def environment() -> dict[str, str]:
    """Versions and machine, for reproducing the run."""
    from importlib.metadata import version

    import lightning
    import torch

    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": str(__import__("os").cpu_count()), "torch": torch.__version__,
            "lightning": lightning.__version__, "transmodal": version("transmodal"),
            "cuda": str(torch.cuda.is_available())}
