"""The ``read`` stage of a fit: schema, tasks, validation and the tuning split."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from transmodal.config import FitConfig
from transmodal.data.joined_text import joined_columns
from transmodal.data.readers import Table
from transmodal.data.schema import build_inputs, infer_column_types
from transmodal.data.validation import bad_row_indices, check_columns, validate_features
from transmodal.errors import BadRow, ConfigError, DataError, did_you_mean, setting_hint, spelled
from transmodal.heads.task import TaskSpec


def prepare_tasks(table: Table, labels: Sequence[str], problem_type: Any) -> list[TaskSpec]:
    """Task specs from the training labels (problem types inferred unless given).

    Raises:
        DataError: a label column is missing.
    """
    missing = [c for c in labels if c not in table.frame.columns]
    if missing:
        named = ", ".join(f"{c!r}{did_you_mean(c, table.frame.columns)}" for c in missing)
        raise DataError(f"{table.source}: label column(s) {named} not found in the header; "
                        f"columns are {list(table.frame.columns)}; name one of them with "
                        f"{spelled('label=', '--label')}")
    types = problem_type if isinstance(problem_type, dict) else {label: problem_type for label in labels}
    return [TaskSpec.from_series(c, table.frame[c], types.get(c)) for c in labels]


def encode_targets(table: Table, tasks: list[TaskSpec]) -> tuple[dict[str, np.ndarray], list[BadRow]]:
    """Targets per task and bad rows (missing labels; with several tasks only rows lacking all)."""
    targets, bad = {}, []
    several = len(tasks) > 1
    for task in tasks:
        targets[task.name], task_bad = task.encode(table.frame[task.name], table.source, allow_missing=several)
        bad += task_bad
    if several:
        lacking = np.ones(len(table.frame), dtype=bool)
        for task in tasks:
            lacking &= table.frame[task.name].isna().to_numpy()
        bad += [BadRow(table.source, int(i), ",".join(t.name for t in tasks), "every label is missing")
                for i in np.flatnonzero(lacking)]
    return targets, bad


def drop_bad(table: Table, bad: list[BadRow], config: FitConfig, what: str) -> Table:
    """Raise on bad rows, or (``on_bad_rows="skip"``) return the table without them."""
    if not bad:
        return table
    rows = bad_row_indices(bad)
    if config.on_bad_rows != "skip" or not rows or any(b.row < 0 for b in bad):
        hint = f" (or pass {setting_hint('on_bad_rows', 'skip')} to train on the good rows)" \
            if config.on_bad_rows != "skip" else ""
        raise DataError(f"{table.source}: {len(rows)} {what} row(s) cannot be used{hint}", bad)
    keep = np.setdiff1d(np.arange(len(table.frame)), rows)
    if len(keep) == 0:
        raise DataError(f"{table.source}: every row is bad", bad)
    return Table(table.frame.iloc[keep].reset_index(drop=True), table.source, table.base_dir)


def read_tables(state, decode_files: bool = True, split: bool = True) -> None:
    """The ``read`` stage: infer the schema and tasks, validate both tables (raising on bad rows or
    dropping them), and split off tuning rows when none were given.

    Args:
        decode_files: False only checks that image/audio files exist (see
            :func:`~transmodal.data.validation.validate_features`): the quick pass of
            :func:`transmodal.fitting.precheck.check_before_fit`.
        split: Whether to split off tuning rows (the quick pass does not).
    """
    request = state.request
    root = state.root
    state.tasks = prepare_tasks(state.train, request.labels, request.problem_type)
    state.column_types = infer_column_types(state.train.frame, list(request.labels), request.column_types)
    # text columns named by join_text become one input ("Title: ... | Review Text: ..."), chosen on the training rows
    state.inputs = build_inputs(state.column_types,
                                joined_columns(state.config.join_text, state.column_types, state.train.frame))
    state.select_epoch = bool(state.config.select_epoch)
    for attr, what in (("train", "training"), ("tune", "tuning")):
        table = getattr(state, attr)
        if table is None:
            continue
        check_columns(table, [*state.column_types, *request.labels], "the training table has them")
        bad = validate_features(table, state.column_types, root, decode_files) + encode_targets(table, state.tasks)[1]
        state.bad_rows += bad
        setattr(state, attr, drop_bad(table, bad, state.config, what))
    if state.tune is None and split:
        first = state.tasks[0]
        state.train, state.tune = tuning_split(state.train, first.name, first.problem_type,
                                               state.config.holdout_fraction, state.seed)
        if state.tune is None:
            # no rows held out (e.g. a few labelled examples per class): train the whole epoch budget
            # and keep the last epoch; the validation scores logged are then on the training rows
            state.tune, state.select_epoch = state.train, False


def tuning_split(table: Table, label: str, problem_type: str, fraction: float, seed: int) -> tuple[Table, Table | None]:
    """(training rows, tuning rows) of a fit given no tuning data: ``holdout_fraction`` of the rows
    held out by :func:`holdout_split`, or no tuning rows (``None``) when it is 0.

    Raises:
        ConfigError: ``fraction`` outside [0, 1).
    """
    if not 0 <= fraction < 1:
        raise ConfigError(f"holdout_fraction must be in [0, 1), got {fraction}")
    if fraction == 0:
        return table, None
    return holdout_split(table, label, fraction, seed, problem_type)


def holdout_split(table: Table, label: str, fraction: float, seed: int, problem_type: str) -> tuple[Table, Table]:
    """A (stratified for classification) random split into training and tuning tables."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(table.frame))
    if len(rows) < 4:
        raise DataError(f"{table.source}: {len(rows)} rows are too few to hold out tuning data; give "
                        f"{spelled('tuning_data', '--tuning TABLE')}")
    labels = table.frame[label].map(str).to_numpy(dtype=str)  # missing labels (partial labels) become "nan"
    stratify = labels if problem_type in ("binary", "multiclass") and _can_stratify(labels, fraction) else None
    train_rows, tune_rows = train_test_split(rows, test_size=fraction, random_state=seed, stratify=stratify)
    part = lambda idx: Table(table.frame.iloc[np.sort(idx)].reset_index(drop=True), table.source, table.base_dir)  # noqa: E731
    return part(train_rows), part(tune_rows)


def _can_stratify(labels: np.ndarray, fraction: float) -> bool:
    _, counts = np.unique(labels, return_counts=True)
    return counts.min() >= 2 and int(fraction * len(labels)) >= len(counts)
