"""Loss weightings: a contract over the registry, and the arithmetic of each method."""

from __future__ import annotations

import pytest
import torch

from transmodal.errors import ConfigError
from transmodal.multitask.weighting.base import WEIGHTINGS, build_weighting, task_gradients
from transmodal.multitask.weighting.pcgrad import project_conflicts

TASKS = ["a", "b"]


def toy_losses():
    """A shared parameter w (2,) and a head per task; the tasks pull w in opposite directions."""
    torch.manual_seed(0)
    shared = torch.nn.Parameter(torch.tensor([1.0, 0.5]))
    heads = {t: torch.nn.Parameter(torch.tensor(1.0)) for t in TASKS}
    losses = {"a": heads["a"] * (shared @ torch.tensor([1.0, 0.0])) ** 2,
              "b": heads["b"] * (shared @ torch.tensor([-1.0, 0.2]) + 3.0) ** 2}
    return shared, heads, losses


@pytest.mark.parametrize("name", WEIGHTINGS.names())
def test_every_weighting_combines_and_backpropagates(name):
    weighting = build_weighting(name, TASKS, weights={"a": 2.0})
    assert set(WEIGHTINGS.names()) >= {"equal", "uncertainty", "dwa", "gradnorm", "pcgrad"}
    shared, heads, losses = toy_losses()
    total = weighting(losses, [shared] if weighting.uses_gradients else [])
    assert total.dim() == 0 and torch.isfinite(total)
    total.backward()
    assert shared.grad is not None and torch.isfinite(shared.grad).all() and shared.grad.abs().sum() > 0
    assert all(h.grad is not None for h in heads.values())
    weighting.epoch_end()
    weights = weighting.weights()
    assert set(weights) == set(TASKS) and all(w > 0 for w in weights.values())


def test_unknown_weighting_option_raises():
    with pytest.raises(ConfigError, match="temperature"):
        build_weighting("equal", TASKS, options={"temperature": 2.0})


def test_fixed_weights_scale_the_equal_sum():
    _, _, losses = toy_losses()
    total = build_weighting("equal", TASKS, weights={"a": 3.0})(losses, [])
    assert torch.isclose(total, 3.0 * losses["a"] + losses["b"])


def test_project_conflicts_removes_the_conflicting_component():
    grads = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])  # dot = -1: they conflict
    combined = project_conflicts(grads)
    # g1 - (g1.g2/|g2|^2) g2 = [0.5, 0.5]; g2 - (g2.g1/|g1|^2) g1 = [0, 1]
    assert torch.allclose(combined, torch.tensor([0.5, 1.5]))
    agreeing = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert torch.allclose(project_conflicts(agreeing), agreeing.sum(0))


def test_pcgrad_surrogate_gradient_is_the_projected_sum():
    shared, _, losses = toy_losses()
    grads = task_gradients(losses, [shared])
    expected = project_conflicts(grads, torch.Generator().manual_seed(0))
    assert grads[0] @ grads[1] < 0  # the toy tasks conflict
    total = build_weighting("pcgrad", TASKS)(losses, [shared])
    assert torch.isclose(total, losses["a"] + losses["b"])  # the value is the plain sum
    total.backward()
    assert torch.allclose(shared.grad, expected, atol=1e-5)


def test_dwa_weights_follow_the_loss_ratios():
    dwa = build_weighting("dwa", TASKS, options={"temperature": 1.0})
    for epoch_losses in ([1.0, 1.0], [1.0, 0.5]):  # task b halves its loss, task a stalls
        dwa({t: torch.tensor(v) for t, v in zip(TASKS, epoch_losses)}, [])
        dwa.epoch_end()
    ratios = torch.tensor([1.0, 0.5])
    expected = 2 * torch.softmax(ratios, 0)
    assert torch.allclose(torch.tensor(list(dwa.weights().values())), expected)
    assert dwa.weights()["a"] > dwa.weights()["b"]


def test_uncertainty_weight_drops_for_the_noisier_task():
    weighting = build_weighting("uncertainty", TASKS)
    optimizer = torch.optim.SGD(weighting.parameters(), lr=0.1)
    for _ in range(50):
        optimizer.zero_grad()
        weighting({"a": torch.tensor(0.1), "b": torch.tensor(5.0)}, []).backward()
        optimizer.step()
    weights = weighting.weights()
    assert weights["b"] < 0.5 < weights["a"]


def test_gradnorm_weights_sum_to_the_task_count_and_favour_the_slow_task():
    weighting = build_weighting("gradnorm", TASKS, options={"alpha": 1.5})
    optimizer = torch.optim.SGD(weighting.parameters(), lr=0.05)
    shared = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
    for step in range(30):
        optimizer.zero_grad()
        scale = 1.0 if step == 0 else 0.1  # task a's loss falls ten-fold, task b's does not
        losses = {"a": scale * (shared ** 2).sum(), "b": (shared ** 2).sum()}
        weighting(losses, [shared]).backward()
        optimizer.step()
    weights = weighting.weights()
    assert abs(sum(weights.values()) - 2.0) < 1e-4
    assert weights["b"] > weights["a"]
