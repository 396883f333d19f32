"""Contract of every registered multi-task loss weighting (``multitask.weighting.base.WEIGHTINGS``).

A weighting combines per-task losses into a finite scalar whose backward reaches the shared and the
task parameters, reports a finite positive weight per task (fixed multipliers included), survives
``epoch_end``, and, chosen by name in a two-label fit through the public API, is recorded in the
saved history with its weights.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contracttools import assert_reloads_identically, fit_two_labels
from transmodal.multitask.weighting.base import WEIGHTINGS, build_weighting

TASKS = ["a", "b"]


def _losses():
    """A shared parameter and a head per task; the two tasks pull the shared one apart."""
    shared = torch.nn.Parameter(torch.tensor([1.0, 0.5]))
    heads = {t: torch.nn.Parameter(torch.tensor(1.0)) for t in TASKS}
    losses = {"a": heads["a"] * (shared @ torch.tensor([1.0, 0.0])) ** 2,
              "b": heads["b"] * (shared @ torch.tensor([-1.0, 0.2]) + 3.0) ** 2}
    return shared, heads, losses


def test_registry_is_not_empty():
    assert WEIGHTINGS.names(), "no loss weighting is registered"


@pytest.mark.parametrize("name", WEIGHTINGS.names())
def test_combines_into_a_scalar_that_backpropagates(name):
    torch.manual_seed(0)
    weighting = build_weighting(name, TASKS, weights={"a": 2.0})
    for step in range(2):  # the second step sees the statistics epoch_end kept
        shared, heads, losses = _losses()
        total = weighting(losses, [shared])
        assert total.dim() == 0 and torch.isfinite(total)
        total.backward()
        assert shared.grad is not None and torch.isfinite(shared.grad).all() and shared.grad.abs().sum() > 0
        assert all(h.grad is not None and torch.isfinite(h.grad).all() for h in heads.values())
        weighting.epoch_end()
    weights = weighting.weights()
    assert set(weights) == set(TASKS)
    assert all(np.isfinite(w) and w > 0 for w in weights.values())


@pytest.mark.parametrize("name", WEIGHTINGS.names())
def test_fixed_weights_scale_the_reported_weight(name):
    plain = build_weighting(name, TASKS).weights()
    doubled = build_weighting(name, TASKS, weights={"a": 2.0}).weights()
    assert doubled["a"] == pytest.approx(2.0 * plain["a"]) and doubled["b"] == pytest.approx(plain["b"])


@pytest.mark.slow
@pytest.mark.parametrize("name", WEIGHTINGS.names())
def test_chosen_in_a_two_label_fit(name, two_label_table, tmp_path):
    predictor, folder, recorded = fit_two_labels(two_label_table, tmp_path / "model", {"weighting": name})
    assert recorded["weighting"] == name
    assert set(recorded["weights"]) == {"label", "big"}
    assert all(w is not None and np.isfinite(w) and w > 0 for w in recorded["weights"].values())
    assert all(np.isfinite(e[f"weight/{t}"]) for e in predictor.history_["epochs"] for t in ("label", "big"))
    assert_reloads_identically(predictor, folder, two_label_table)
