"""Task specs: integer class labels survive the float column pandas makes when a label is missing."""

from __future__ import annotations

import numpy as np
import pandas as pd

from transmodal.heads.task import TaskSpec


def test_integer_classes_encode_from_a_float_column_with_missing_labels():
    task = TaskSpec.from_series("digit", pd.Series([0, 1, 2, 1]))
    targets, bad = task.encode(pd.Series([2.0, np.nan, 0.0]), "t.csv", allow_missing=True)
    assert bad == [] and targets.tolist() == [2, -1, 0]


def test_classes_learned_from_a_float_column_are_the_integers():
    task = TaskSpec.from_series("digit", pd.Series([3.0, np.nan, 1.0, 2.0]))
    assert task.classes == [1, 2, 3] and all(type(c) is int for c in task.classes)
    targets, bad = task.encode(pd.Series([1, 3]), "t.csv", allow_missing=False)
    assert bad == [] and targets.tolist() == [0, 2]


def test_a_fractional_label_is_still_an_unseen_class():
    task = TaskSpec.from_series("digit", pd.Series([0, 1, 2]))
    targets, bad = task.encode(pd.Series([1.5]), "t.csv", allow_missing=False)
    assert targets.tolist() == [-1] and "not seen in training" in bad[0].reason


def test_decode_gives_label_values_per_problem_type():
    scores = np.array([[0.2, 0.7, 0.6], [0.9, 0.1, 0.3]])
    assert list(TaskSpec("y", "multiclass", ["a", "b", "c"]).decode(scores)) == ["b", "a"]
    assert list(TaskSpec("y", "multilabel", ["a", "b", "c"]).decode(scores)) == ["b;c", "a"]
    regression = np.array([1.5, -2.0])
    assert TaskSpec("y", "regression", None).decode(regression) is regression
