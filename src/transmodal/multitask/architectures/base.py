"""The sharing-architecture contract and registry.

An architecture sits between the fusion and the task heads::

    sharing = ARCHITECTURES.get(name)(input_dim=256, tasks=["a", "b"], dropout=0.1, **options)
    per_task = sharing(fused)   # fused: (B, 256) -> {"a": (B, sharing.output_dim), "b": ...}

Parameters under ``sharing`` that serve every task count as shared (gradient methods such as
``pcgrad`` and ``gradnorm`` work on them); the per-task heads never do.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from transmodal.fusion.base import module_key
from transmodal.registry import Registry

ARCHITECTURES: Registry = Registry("sharing architecture", "transmodal.multitask.architectures")


class Sharing(nn.Module):
    """Base class: maps the fused vector to one representation per task.

    Args:
        input_dim: Size of the fused vector.
        tasks: Task names, in head order.
        dropout: Dropout rate used inside the architecture.
        **options: Architecture-specific options (``multitask.architecture_options``).
    """

    def __init__(self, input_dim: int, tasks: list[str], dropout: float = 0.1, **options: Any) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.tasks = list(tasks)
        self.output_dim = input_dim

    def forward(self, fused: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError


class Expert(nn.Sequential):
    """One expert: Linear -> GELU -> Dropout, (B, input_dim) -> (B, output_dim)."""

    def __init__(self, input_dim: int, output_dim: int, dropout: float) -> None:
        super().__init__(nn.Linear(input_dim, output_dim), nn.GELU(), nn.Dropout(dropout))


def mix(gate_logits: torch.Tensor, expert_outputs: torch.Tensor) -> torch.Tensor:
    """Softmax-gated sum of experts: (B, X) logits and (B, X, E) outputs -> (B, E)."""
    gate = torch.softmax(gate_logits, dim=-1).unsqueeze(-1)  # (B, X, 1)
    return (gate * expert_outputs).sum(dim=1)


def task_key(name: str) -> str:
    """A ModuleDict-safe key for a task name."""
    return module_key(name)


def build_sharing(name: str, input_dim: int, tasks: list[str], dropout: float,
                  options: dict[str, Any] | None = None) -> Sharing:
    """Instantiate architecture ``name``; unknown options raise ConfigError."""
    from transmodal.errors import ConfigError

    cls = ARCHITECTURES.get(name)
    try:
        return cls(input_dim, tasks, dropout=dropout, **(options or {}))
    except TypeError as err:
        raise ConfigError(f"bad options for the {name!r} multitask architecture: {err}") from err
