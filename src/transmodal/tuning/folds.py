"""Cross-validation folds of the training table (``tune.cv_folds`` >= 2).

A trial scored on one holdout is scored on few rows: with a few hundred tuning rows the best of many
trials is mostly the luckiest draw, and its model need not generalise (issue 18's clothing study:
the best trial's holdout AUROC 0.943, its test AUROC 0.930, below the untuned default's). With
folds, every training row tunes one of a trial's fits, and the trial's score is the mean of its
folds' best scores. Frozen encoders' features come from the embedding store, so a fold costs a head
fit, not encoding.
"""

from __future__ import annotations

import numpy as np

from transmodal.data.readers import Table
from transmodal.errors import ConfigError


def fold_tables(table: Table, label: str, problem_type: str, folds: int, seed: int) -> list[tuple[Table, Table]]:
    """(training rows, tuning rows) per fold: every row tunes exactly one fold; stratified on
    ``label`` for classification when every class has at least ``folds`` rows, shuffled by ``seed``.

    Args:
        table: The training table.
        label: The column to stratify on (the first label).
        problem_type: The label's problem type (``binary``, ``multiclass``, ...).
        folds: How many folds (>= 2).
        seed: Seeds the shuffle.

    Raises:
        ConfigError: fewer rows than folds.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    rows = np.arange(len(table.frame))
    if len(rows) < 2 * folds:
        raise ConfigError(f"tune.cv_folds={folds} needs at least {2 * folds} training rows (2 per fold); "
                          f"{table.source} has {len(rows)}: use fewer folds, or tune.cv_folds=1")
    labels = table.frame[label].map(str).to_numpy(dtype=str)  # missing labels (partial labels) become "nan"
    _, counts = np.unique(labels, return_counts=True)
    if problem_type in ("binary", "multiclass") and counts.min() >= folds:
        splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(rows, labels)
    else:
        splits = KFold(folds, shuffle=True, random_state=seed).split(rows)
    return [(_part(table, train_rows), _part(table, tune_rows)) for train_rows, tune_rows in splits]


def _part(table: Table, rows: np.ndarray) -> Table:
    return Table(table.frame.iloc[np.sort(rows)].reset_index(drop=True), table.source, table.base_dir)
