"""Learning curves: a metric per number of labelled examples per class and per transfer strategy.

``scratch`` trains without a source; every other name is a transfer strategy applied to the
``init_from`` predictor. For ``k`` shots, ``k`` labelled rows of every class are drawn with
``numpy.random.default_rng(seed)`` (``"all"`` uses the whole table); classes with fewer rows give
all they have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from transmodal.errors import ConfigError

SCRATCH = "scratch"


def parse_shots(text: str) -> list[int | str]:
    """``"1,5,10,all"`` -> ``[1, 5, 10, "all"]``."""
    shots: list[int | str] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part == "all":
            shots.append("all")
        elif part.isdigit() and int(part) > 0:
            shots.append(int(part))
        else:
            raise ConfigError(f"--shots takes positive integers or 'all', got {part!r}")
    return shots


def sample_shots(frame: pd.DataFrame, label: str, shots: int | str, seed: int = 0) -> pd.DataFrame:
    """``shots`` labelled rows of every class (all rows for ``"all"``), in table order."""
    if shots == "all":
        return frame
    rng = np.random.default_rng(seed)
    labels = frame[label].to_numpy()
    picked = [rng.choice(np.flatnonzero(labels == c), size=min(int(shots), int((labels == c).sum())), replace=False)
              for c in pd.unique(labels[pd.notna(labels)])]
    return frame.iloc[np.sort(np.concatenate(picked))]


def learning_curve(train, test, label: str, shots: Sequence[int | str], strategies: Sequence[str],
                   init_from: Any = None, metric: str | None = None, hyperparameters: dict | None = None,
                   seed: int = 0, eval_metric: str | None = None) -> pd.DataFrame:
    """Fit one predictor per (shots, strategy) and evaluate it on ``test``.

    Args:
        train: Labelled table (DataFrame or path) to draw the shots from.
        test: Labelled evaluation table.
        shots: Labelled rows per class, or ``"all"``.
        strategies: ``scratch`` and/or transfer strategy names.
        init_from: The source predictor (folder or object) for the transfer strategies.
        metric: Metric to report (default: the predictor's evaluation metric).
        eval_metric: The predictors' evaluation metric, which also picks each fit's best epoch on
            its automatic holdout (default: the problem type's, with the epoch picked by
            ``FitConfig.select_epoch_by``: the tuning log-loss for a binary label). With a few
            shots per class the holdout has a handful of rows whose accuracy is often 100% from the
            first epoch; a continuous metric such as ``log_loss`` keeps improving.

    Returns:
        One row per fit: ``shots, strategy, n_train, metric, value, fit_seconds, selected_by`` (the
        metric that picked the fit's best epoch, or ``"last epoch"`` with no holdout).
    """
    import time

    from transmodal.data.readers import read_table
    from transmodal.predictor import MultimodalPredictor

    if any(s != SCRATCH for s in strategies) and init_from is None:
        raise ConfigError("learning curve: transfer strategies need --init-from (a source model)")
    table, test_table = read_table(train), read_table(test)
    frame = _absolute_paths(table)
    rows = []
    for k in shots:
        subset = sample_shots(frame, label, k, seed)
        for strategy in strategies:
            hp = dict(hyperparameters or {})
            options = {}
            if strategy != SCRATCH:
                hp["transfer"] = {**hp.get("transfer", {}), "strategy": strategy}
                options["init_from"] = init_from
            start = time.perf_counter()
            predictor = MultimodalPredictor(label=label, eval_metric=eval_metric).fit(
                subset, hyperparameters=hp, seed=seed, **options)
            seconds = time.perf_counter() - start
            name = metric or predictor.eval_metric_
            value = predictor.evaluate(test_table)[name]
            rows.append({"shots": str(k), "strategy": strategy, "n_train": len(subset), "metric": name,
                         "value": float(value), "fit_seconds": seconds,
                         "selected_by": predictor.history_.get("select_metric", predictor.eval_metric_)
                         if predictor.history_.get("epoch_selected", True) else "last epoch"})
    return pd.DataFrame(rows)


def _absolute_paths(table) -> pd.DataFrame:
    """The table's frame with relative file paths resolved against its folder (a subset is passed
    on as a DataFrame, whose paths would otherwise resolve from the current folder)."""
    from transmodal.data.schema import infer_column_types

    frame = table.frame.copy()
    for column, kind in infer_column_types(frame, []).items():
        if kind in ("image", "audio"):
            frame[column] = [v if not isinstance(v, str) or Path(v).is_absolute() else str(Path(table.base_dir) / v)
                             for v in frame[column]]
    return frame


def plot_curve(curve: pd.DataFrame, path: str | Path) -> Path:
    """Save a PNG: the metric against shots per class (categorical axis), one line per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = list(dict.fromkeys(curve["shots"]))
    fig, ax = plt.subplots(figsize=(6, 4))
    for strategy, part in curve.groupby("strategy", sort=False):
        part = part.set_index("shots").reindex(order)
        ax.plot(range(len(order)), part["value"], marker="o", label=strategy)
    ax.set_xticks(range(len(order)), order)
    ax.set_xlabel("labelled examples per class")
    ax.set_ylabel(curve["metric"].iloc[0] if len(curve) else "metric")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
