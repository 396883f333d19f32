"""The reported metrics equal scikit-learn's on random slices of every problem type.

A slice of an evaluation set often holds only some of the training classes (the issue's example:
5 rows, 2 of 9 classes, all predicted right). scikit-learn averages macro precision, recall and F1
over the labels present in ``y_true`` or ``y_pred``; transmodal must print the same numbers.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from transmodal.heads.task import TaskSpec
from transmodal.metrics.base import compute_metrics

SLICES = 25


def _task(problem: str, k: int) -> TaskSpec:
    return TaskSpec("y", problem, [f"c{i}" for i in range(k)] if problem != "regression" else [])


def _scores(rng, truth: np.ndarray, k: int, right: float) -> np.ndarray:
    """Class probabilities (N, K) whose argmax equals ``truth`` on about ``right`` of the rows."""
    proba = rng.dirichlet(np.ones(k), len(truth))
    hit = rng.random(len(truth)) < right
    proba[hit, truth[hit]] += 2.0
    return proba / proba.sum(axis=1, keepdims=True)


def _classification_cases(problem: str, k: int):
    rng = np.random.default_rng(7 if problem == "binary" else 11)
    for _ in range(SLICES):
        n = int(rng.integers(2, 30))
        present = rng.choice(k, size=int(rng.integers(1, k + 1)), replace=False)  # absent classes too
        truth = rng.choice(present, size=n)
        yield truth, _scores(rng, truth, k, right=float(rng.choice([0.3, 0.8, 1.0])))


@pytest.mark.parametrize("problem,k", [("binary", 2), ("multiclass", 9)])
def test_classification_macro_metrics_equal_sklearn(problem, k):
    task = _task(problem, k)
    for truth, proba in _classification_cases(problem, k):
        pred = proba.argmax(axis=1)
        ours = compute_metrics(truth, proba, task)
        assert ours["accuracy"] == pytest.approx(skm.accuracy_score(truth, pred))
        assert ours["precision_macro"] == pytest.approx(skm.precision_score(truth, pred, average="macro",
                                                                            zero_division=0))
        assert ours["recall_macro"] == pytest.approx(skm.recall_score(truth, pred, average="macro", zero_division=0))
        assert ours["f1_macro"] == pytest.approx(skm.f1_score(truth, pred, average="macro", zero_division=0))
        with warnings.catch_warnings():  # y_pred holding classes absent from y_true: sklearn warns
            warnings.simplefilter("ignore")
            expected = skm.balanced_accuracy_score(truth, pred)
        assert ours["balanced_accuracy"] == pytest.approx(expected)
        assert ours["log_loss"] == pytest.approx(skm.log_loss(truth, proba, labels=np.arange(k)), rel=1e-6)
        if problem == "binary" and len(np.unique(truth)) == 2:
            assert ours["roc_auc"] == pytest.approx(skm.roc_auc_score(truth, proba[:, 1]))


def test_the_issue_example_scores_one_everywhere():
    """5 rows holding 2 of 9 classes, all predicted right: 1.0 on every macro metric (was 0.222)."""
    truth = np.array([3, 3, 7, 7, 7])
    ours = compute_metrics(truth, np.eye(9)[truth], _task("multiclass", 9))
    assert {k: ours[k] for k in ("accuracy", "precision_macro", "recall_macro", "f1_macro")} == \
        {"accuracy": 1.0, "precision_macro": 1.0, "recall_macro": 1.0, "f1_macro": 1.0}


def test_multilabel_metrics_equal_sklearn():
    rng = np.random.default_rng(3)
    task = _task("multilabel", 5)
    for _ in range(SLICES):
        n = int(rng.integers(2, 30))
        truth = (rng.random((n, 5)) < rng.random(5)).astype(float)  # some labels never set in a slice
        scores = np.clip(truth * rng.choice([0.3, 0.9]) + rng.random((n, 5)) * 0.6, 0, 1)
        pred = (scores >= 0.5).astype(int)
        ours = compute_metrics(truth, scores, task)
        assert ours["f1_micro"] == pytest.approx(skm.f1_score(truth, pred, average="micro", zero_division=0))
        assert ours["f1_macro_multilabel"] == pytest.approx(skm.f1_score(truth, pred, average="macro",
                                                                         zero_division=0))
        assert ours["subset_accuracy"] == pytest.approx(skm.accuracy_score(truth, pred))
        assert ours["hamming_loss"] == pytest.approx(skm.hamming_loss(truth, pred))


def test_regression_metrics_equal_sklearn():
    rng = np.random.default_rng(5)
    task = _task("regression", 0)
    for _ in range(SLICES):
        n = int(rng.integers(2, 30))
        truth = rng.normal(3.0, 2.0, n)
        pred = truth + rng.normal(0, rng.choice([0.1, 1.0, 3.0]), n)
        ours = compute_metrics(truth, pred, task)
        assert ours["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(truth, pred)))
        assert ours["mae"] == pytest.approx(skm.mean_absolute_error(truth, pred))
        assert ours["r2"] == pytest.approx(skm.r2_score(truth, pred))

