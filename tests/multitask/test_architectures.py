"""Sharing architectures: a contract over the registry."""

from __future__ import annotations

import pytest
import torch

from transmodal.errors import ConfigError
from transmodal.multitask.architectures.base import ARCHITECTURES, build_sharing

TASKS = ["rating", "department.name"]


@pytest.mark.parametrize("name", ARCHITECTURES.names())
def test_every_architecture_gives_one_vector_per_task(name):
    assert set(ARCHITECTURES.names()) >= {"hard", "mmoe"}
    sharing = build_sharing(name, 12, TASKS, dropout=0.0)
    fused = torch.randn(5, 12, requires_grad=True)
    out = sharing(fused)
    assert set(out) == set(TASKS)
    for value in out.values():
        assert value.shape == (5, sharing.output_dim)
    sum(v.sum() for v in out.values()).backward()
    assert fused.grad is not None and fused.grad.abs().sum() > 0


def test_mmoe_tasks_get_different_mixtures():
    torch.manual_seed(0)
    sharing = build_sharing("mmoe", 8, TASKS, dropout=0.0, options={"num_experts": 3, "expert_dim": 6})
    out = sharing(torch.randn(4, 8))
    assert out["rating"].shape == (4, 6)
    assert not torch.allclose(out["rating"], out["department.name"])


def test_hard_sharing_is_the_identity_without_parameters():
    sharing = build_sharing("hard", 8, TASKS, dropout=0.0)
    fused = torch.randn(3, 8)
    assert all(v is fused for v in sharing(fused).values())
    assert not list(sharing.parameters())


def test_bad_architecture_option_raises():
    with pytest.raises(ConfigError, match="mmoe"):
        build_sharing("mmoe", 8, TASKS, dropout=0.0, options={"experts": 3})
