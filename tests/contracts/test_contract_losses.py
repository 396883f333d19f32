"""Contract of every registered supervised loss (``losses.base.LOSSES``).

A loss is built as ``cls(task, class_weights=None, **options)`` for a task of a problem type it names
in ``problem_types``; called with ``(outputs, targets)`` it returns a dict of named, finite scalar
terms, ignores unlabelled rows (-1 or NaN targets: neither their outputs nor their gradient count),
stays connected to the graph when no row is labelled, and is lower for right outputs than for wrong
ones. Each loss is also chosen by name in a fit through the public API and recorded in the saved
configuration.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from contracttools import assert_reloads_identically, saved_config, tiny_hyperparameters
from transmodal.heads.task import PROBLEM_TYPES, TaskSpec
from transmodal.losses.base import LOSSES

BATCH = 8
UNLABELLED = [1, 4]  # rows without a target
CASES = [(name, problem) for name in LOSSES.names()
         for problem in getattr(LOSSES.get(name), "problem_types", ())]


def _task(problem: str) -> TaskSpec:
    classes = {"binary": ["no", "yes"], "multiclass": ["a", "b", "c"], "multilabel": ["x", "y", "z"]}
    return TaskSpec("y", problem, classes.get(problem, []))


def _targets(problem: str) -> torch.Tensor:
    """Targets of ``BATCH`` rows in the library's encoding, rows ``UNLABELLED`` missing."""
    generator = torch.Generator().manual_seed(0)
    if problem in ("binary", "multiclass"):
        targets = torch.arange(BATCH) % (2 if problem == "binary" else 3)
        targets[UNLABELLED] = -1
        return targets
    if problem == "regression":
        targets = torch.randn(BATCH, generator=generator)
        targets[UNLABELLED] = float("nan")
        return targets
    targets = (torch.rand(BATCH, 3, generator=generator) > 0.5).float()
    targets[UNLABELLED] = float("nan")
    return targets


def _outputs(problem: str, targets: torch.Tensor, right: bool | None) -> torch.Tensor:
    """Outputs (B, K): random (``right=None``), close to the targets, or far from them."""
    k = _task(problem).output_dim
    if right is None:
        return torch.randn(BATCH, k, generator=torch.Generator().manual_seed(1))
    sign = 1.0 if right else -1.0
    if problem in ("binary", "multiclass"):
        return sign * 6.0 * torch.nn.functional.one_hot(targets.clamp_min(0), k).float()
    if problem == "regression":
        return torch.nan_to_num(sign * targets).unsqueeze(-1)
    return sign * 6.0 * (torch.nan_to_num(targets) * 2 - 1)


def _total(terms: dict[str, torch.Tensor]) -> torch.Tensor:
    return sum(terms.values())


def test_registry_is_not_empty():
    assert LOSSES.names(), "no loss is registered"


@pytest.mark.parametrize("name", LOSSES.names())
def test_names_the_problem_types_it_applies_to(name):
    applies_to = getattr(LOSSES.get(name), "problem_types", ())
    assert applies_to and set(applies_to) <= set(PROBLEM_TYPES)


@pytest.mark.parametrize("name,problem", CASES)
def test_named_finite_terms(name, problem):
    loss = LOSSES.get(name)(_task(problem))
    targets = _targets(problem)
    outputs = _outputs(problem, targets, None).requires_grad_(True)
    terms = loss(outputs, targets)
    assert isinstance(terms, dict) and terms
    assert all(isinstance(k, str) and k for k in terms)
    assert all(v.dim() == 0 and torch.isfinite(v) for v in terms.values())
    _total(terms).backward()
    assert torch.isfinite(outputs.grad).all() and outputs.grad.abs().sum() > 0


@pytest.mark.parametrize("name,problem", CASES)
def test_ignores_unlabelled_rows(name, problem):
    loss = LOSSES.get(name)(_task(problem))
    targets = _targets(problem)
    outputs = _outputs(problem, targets, None).requires_grad_(True)
    changed = outputs.detach().clone()
    changed[UNLABELLED] += 50.0 * torch.randn_like(changed[UNLABELLED])
    torch.testing.assert_close(_total(loss(changed, targets)), _total(loss(outputs, targets)))
    _total(loss(outputs, targets)).backward()
    assert torch.count_nonzero(outputs.grad[UNLABELLED]) == 0


@pytest.mark.parametrize("name,problem", CASES)
def test_a_batch_without_labels_gives_a_connected_zero(name, problem):
    loss = LOSSES.get(name)(_task(problem))
    targets = _targets(problem)
    targets[:] = -1 if problem in ("binary", "multiclass") else float("nan")
    outputs = _outputs(problem, _targets(problem), None).requires_grad_(True)
    total = _total(loss(outputs, targets))
    assert float(total) == 0.0
    total.backward()  # the graph stays connected: a step on such a batch does not crash
    assert outputs.grad is not None


@pytest.mark.parametrize("name,problem", CASES)
def test_right_outputs_cost_less_than_wrong_ones(name, problem):
    loss = LOSSES.get(name)(_task(problem))
    targets = _targets(problem)
    right = float(_total(loss(_outputs(problem, targets, True), targets)))
    wrong = float(_total(loss(_outputs(problem, targets, False), targets)))
    assert right < wrong


@pytest.fixture(scope="module")
def four_task_table(tmp_path_factory) -> pd.DataFrame:
    """Numbers and categories with a multiclass, a binary, a multilabel and a regression label."""
    from tabletools import write_table

    frame = write_table(tmp_path_factory.mktemp("contract_losses"), n=40)[["size", "color", "label"]]
    frame["big"] = np.where(frame["size"] > 1.0, "yes", "no")
    frame["tags"] = [";".join(["warm"] * (i % 3 == 0) + ["loud"] * (i % 3 == 1) + ["item"]) for i in range(40)]
    frame["target"] = frame["size"] * 3.0 + 1.0
    return frame


LABELS = ["label", "big", "tags", "target"]


def _fit(frame, loss: str):
    from transmodal.predictor import MultimodalPredictor

    return MultimodalPredictor(label=LABELS, problem_type={"tags": "multilabel"}).fit(
        frame, hyperparameters=tiny_hyperparameters(loss=loss, max_epochs=1), seed=0)


@pytest.fixture(scope="module")
def auto_fit(four_task_table):
    return _fit(four_task_table, "auto")


@pytest.mark.slow
@pytest.mark.parametrize("name", LOSSES.names())
def test_chosen_by_name_in_a_fit(name, four_task_table, auto_fit, tmp_path):
    """``loss=NAME`` trains the tasks it applies to (their loss differs from the default one's when
    NAME is not their default), is saved with the model, and the model reloads."""
    from transmodal.losses.base import default_loss

    predictor = _fit(four_task_table, name)
    applies_to = LOSSES.get(name).problem_types
    trained = [t for t in predictor.tasks_ if t.problem_type in applies_to]
    assert trained, f"the table has no task that {name!r} applies to"
    epoch, auto = predictor.history_["epochs"][0], auto_fit.history_["epochs"][0]
    assert all(np.isfinite(epoch[f"train/task/{task}"]) for task in LABELS)
    for task in trained:
        if default_loss(task.problem_type) != name:
            assert epoch[f"train/task/{task.name}"] != pytest.approx(auto[f"train/task/{task.name}"])
    folder = predictor.save(tmp_path / "model")
    assert saved_config(folder)["fit_config"]["loss"] == name
    assert_reloads_identically(predictor, folder, four_task_table)
