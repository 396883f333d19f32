"""Joint source and target training: ``L_target + ... `` with shared encoders, one head per task.

``fit(target, source_data=SOURCE, source_label=COL, hyperparameters={"transfer": {"lambda": 0.5}})``
appends the source rows to the training table with their own task ``source:<COL>`` (the target
label is missing on them, the source label on target rows; missing labels do not count), and
weighs the losses as ``L_source + lambda * L_target``. Tuning data stays target-only. After
training the source head is dropped, so the saved model is a plain target model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transmodal.errors import ConfigError, DataError

SOURCE_PREFIX = "source:"


def add_source_task(ctx, data, label: str | None) -> str:
    """Append the source table to ``ctx.train`` as a new task; returns the task name."""
    from transmodal.data.readers import Table, read_table
    from transmodal.data.validation import bad_row_indices, validate_features
    from transmodal.heads.task import TaskSpec

    if not label:
        raise ConfigError("source_data needs source_label=COLUMN (the label column of the source table)")
    predictor = ctx.predictor
    table = read_table(data)
    if label not in table.frame.columns:
        raise DataError(f"{table.source}: source label column {label!r} not found")
    task_name = SOURCE_PREFIX + label
    frame = table.frame.copy()
    frame = frame[frame[label].notna()].reset_index(drop=True)
    features = [c for c in predictor.column_types_ if c in frame.columns]
    if not features:
        raise DataError(f"{table.source}: the source table shares no input column with the target table")
    for column in features:
        if predictor.column_types_[column] in ("image", "audio"):
            frame[column] = [_absolute(v, table.base_dir) for v in frame[column]]
    source = pd.DataFrame({c: frame[c] if c in features else np.nan for c in predictor.column_types_})
    source[task_name] = frame[label].to_numpy()
    bad = validate_features(Table(source, table.source, table.base_dir), predictor.column_types_, predictor._root())
    if bad:
        raise DataError(f"{table.source}: {len(bad_row_indices(bad))} source row(s) cannot be used", bad)
    predictor.tasks_.append(TaskSpec.from_series(task_name, source[task_name]))
    for name in predictor.labels:
        source[name] = np.nan
    train = ctx.train.frame.assign(**{task_name: np.nan})
    ctx.train = Table(pd.concat([train, source[train.columns]], ignore_index=True), ctx.train.source, ctx.train.base_dir)
    ctx.tune = Table(ctx.tune.frame.assign(**{task_name: np.nan}), ctx.tune.source, ctx.tune.base_dir)
    weight = float(ctx.config.transfer.get("lambda", 1.0))
    weights = dict(ctx.config.multitask.get("weights", {}))
    weights.update({name: weight for name in predictor.labels})
    weights.setdefault(task_name, 1.0)
    ctx.config.multitask = {**ctx.config.multitask, "weights": weights}
    return task_name


def _absolute(value, base_dir):
    """A file path made absolute against the source table's folder (missing cells stay missing)."""
    from pathlib import Path

    if not isinstance(value, str) or not value:
        return value
    path = Path(value)
    return str(path if path.is_absolute() else (Path(base_dir) / path).resolve())


def drop_source_task(ctx, task_name: str) -> None:
    """Remove the source task and its head after training."""
    from transmodal.fusion.base import module_key

    predictor, net = ctx.predictor, ctx.net
    predictor.tasks_ = [t for t in predictor.tasks_ if t.name != task_name]
    net.tasks = [t for t in net.tasks if t.name != task_name]
    del net.heads[module_key(task_name)]
