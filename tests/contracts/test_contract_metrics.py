"""Contract of every registered metric (``metrics.base.METRICS``), for each problem type it names.

A metric returns a finite float on a perfect and on a random prediction, and ``score`` (higher is
better, from ``greater_is_better``) puts the perfect prediction first. Each classification metric
is also the early-stopping ``eval_metric`` of a fit through the public API.
"""

from __future__ import annotations

import numpy as np
import pytest

from contracttools import saved_config, tiny_hyperparameters
from transmodal.heads.task import PROBLEM_TYPES, TaskSpec
from transmodal.metrics.base import METRICS

N = 40
CASES = [(name, problem) for name in METRICS.names() for problem in METRICS.get(name).problem_types]


def _task(problem: str) -> TaskSpec:
    classes = {"binary": ["no", "yes"], "multiclass": ["a", "b", "c"], "multilabel": ["x", "y", "z"]}
    return TaskSpec("y", problem, classes.get(problem, []), 0.0, 1.0)


def _truth(problem: str, rng: np.random.Generator) -> np.ndarray:
    if problem == "binary":
        return np.arange(N) % 2
    if problem == "multiclass":
        return np.arange(N) % 3
    if problem == "regression":
        return rng.normal(5.0, 2.0, N)
    truth = (rng.random((N, 3)) > 0.5).astype(float)
    truth[0], truth[1] = 0.0, 1.0  # every label has both values
    return truth


def _perfect(problem: str, truth: np.ndarray) -> np.ndarray:
    if problem in ("binary", "multiclass"):
        return np.eye(2 if problem == "binary" else 3)[truth]
    return truth.astype(float).copy()


def _random(problem: str, truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if problem in ("binary", "multiclass"):
        return rng.dirichlet(np.ones(2 if problem == "binary" else 3), N)
    if problem == "regression":
        return rng.normal(truth.mean(), truth.std(), N)
    return rng.random(truth.shape)


def test_registry_is_not_empty():
    assert METRICS.names(), "no metric is registered"


@pytest.mark.parametrize("name", METRICS.names())
def test_describes_itself(name):
    metric = METRICS.get(name)
    assert metric.name == name
    assert isinstance(metric.greater_is_better, bool)
    assert metric.problem_types and set(metric.problem_types) <= set(PROBLEM_TYPES)


@pytest.mark.parametrize("name,problem", CASES)
def test_perfect_scores_better_than_random(name, problem):
    metric = METRICS.get(name)
    rng = np.random.default_rng(0)
    task = _task(problem)
    truth = _truth(problem, rng)
    perfect = metric(truth, _perfect(problem, truth), task)
    random = metric(truth, _random(problem, truth, rng), task)
    assert isinstance(perfect, float) and isinstance(random, float)
    assert np.isfinite(perfect) and np.isfinite(random)
    assert metric.score(perfect) > metric.score(random)
    assert metric.score(perfect) == (perfect if metric.greater_is_better else -perfect)


CLASSIFICATION = [name for name in METRICS.names() if "multiclass" in METRICS.get(name).problem_types]


@pytest.mark.slow
@pytest.mark.parametrize("name", CLASSIFICATION)
def test_drives_early_stopping_in_a_fit(name, target_table, tmp_path):
    """``eval_metric=NAME`` is logged every epoch, and the epoch kept is its best one."""
    from transmodal.predictor import MultimodalPredictor

    predictor = MultimodalPredictor(label="label", eval_metric=name).fit(
        target_table, hyperparameters=tiny_hyperparameters(max_epochs=3), seed=0)
    history = predictor.history_
    logged = [epoch[f"val/label/{name}"] for epoch in history["epochs"]]
    assert logged and all(np.isfinite(v) for v in logged)
    best = max(logged) if METRICS.get(name).greater_is_better else min(logged)
    kept = [epoch for epoch in history["epochs"] if epoch["epoch"] == history["best_epoch"]]
    assert kept and kept[0][f"val/label/{name}"] == pytest.approx(best)
    folder = predictor.save(tmp_path / "model")
    assert saved_config(folder)["eval_metric"] == name
