"""``mmoe``: multi-gate mixture of experts (Ma et al., KDD 2018) over the fused vector."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.multitask.architectures.base import ARCHITECTURES, Expert, Sharing, mix, task_key


@ARCHITECTURES.register("mmoe")
class MMoE(Sharing):
    """Shared experts; each task mixes them with its own softmax gate.

    Args:
        num_experts: Number of shared experts.
        expert_dim: Output size of each expert (default: the fused size).
    """

    def __init__(self, input_dim: int, tasks: list[str], dropout: float = 0.1,
                 num_experts: int = 4, expert_dim: int | None = None) -> None:
        super().__init__(input_dim, tasks, dropout)
        self.output_dim = expert_dim or input_dim
        self.experts = nn.ModuleList(Expert(input_dim, self.output_dim, dropout) for _ in range(num_experts))
        self.gates = nn.ModuleDict({task_key(t): nn.Linear(input_dim, num_experts) for t in self.tasks})

    def forward(self, fused: torch.Tensor) -> dict[str, torch.Tensor]:
        experts = torch.stack([expert(fused) for expert in self.experts], dim=1)  # (B, X, E)
        return {t: mix(self.gates[task_key(t)](fused), experts) for t in self.tasks}  # {task: (B, E)}
