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

from transmodal.data.readers import Table
from transmodal.errors import ConfigError, DataError
from transmodal.heads.task import TaskSpec

SOURCE_PREFIX = "source:"


def source_rows(data, label: str | None, column_types: dict[str, str], labels: list[str],
                root) -> tuple[str, Table, TaskSpec]:
    """The source table as rows of the target's columns, with its own task.

    Returns:
        ``(task name, source rows (target labels missing, the source label in the task's column),
        the source task's spec)``.

    Raises:
        ConfigError: no ``label``.
        DataError: the label column is missing, no input column is shared, or a source cell is bad.
    """
    from transmodal.data.readers import read_table
    from transmodal.data.validation import bad_row_indices, validate_features

    if not label:
        raise ConfigError("source_data needs source_label=COLUMN (the label column of the source table)")
    table = read_table(data)
    if label not in table.frame.columns:
        raise DataError(f"{table.source}: source label column {label!r} not found")
    task_name = SOURCE_PREFIX + label
    frame = table.frame.copy()
    frame = frame[frame[label].notna()].reset_index(drop=True)
    features = [c for c in column_types if c in frame.columns]
    if not features:
        raise DataError(f"{table.source}: the source table shares no input column with the target table")
    for column in features:
        if column_types[column] in ("image", "audio"):
            frame[column] = [_absolute(v, table.base_dir) for v in frame[column]]
    source = pd.DataFrame({c: frame[c] if c in features else np.nan for c in column_types})
    source[task_name] = frame[label].to_numpy()
    bad = validate_features(Table(source, table.source, table.base_dir), column_types, root)
    if bad:
        raise DataError(f"{table.source}: {len(bad_row_indices(bad))} source row(s) cannot be used", bad)
    task = TaskSpec.from_series(task_name, source[task_name])
    for name in labels:
        source[name] = np.nan
    return task_name, Table(source, table.source, table.base_dir), task


def with_source_rows(train: Table, tune: Table, source: Table, task_name: str) -> tuple[Table, Table]:
    """``(train + source rows, tune)``, both with the source task's column (missing on target rows)."""
    frame = train.frame.assign(**{task_name: np.nan})
    joined = pd.concat([frame, source.frame[frame.columns]], ignore_index=True)
    return (Table(joined, train.source, train.base_dir),
            Table(tune.frame.assign(**{task_name: np.nan}), tune.source, tune.base_dir))


def joint_weights(multitask: dict, labels: list[str], task_name: str, weight: float) -> dict[str, float]:
    """Task weights ``L_source + lambda * L_target``: each target label at ``weight``, the source
    task at 1 unless the multitask section says otherwise."""
    weights = dict((multitask or {}).get("weights", {}))
    weights.update({name: weight for name in labels})
    weights.setdefault(task_name, 1.0)
    return weights


def _absolute(value, base_dir):
    """A file path made absolute against the source table's folder (missing cells stay missing)."""
    from pathlib import Path

    if not isinstance(value, str) or not value:
        return value
    path = Path(value)
    return str(path if path.is_absolute() else (Path(base_dir) / path).resolve())
