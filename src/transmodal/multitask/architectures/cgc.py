"""``cgc``: customized gate control, the single-level PLE (Tang et al., RecSys 2020)."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.multitask.architectures.base import ARCHITECTURES, Expert, Sharing, mix, task_key


@ARCHITECTURES.register("cgc")
class CGC(Sharing):
    """Shared experts plus experts owned by each task; a task's gate mixes the shared ones and its own.

    Args:
        shared_experts: Number of experts every task may use.
        task_experts: Number of experts of each task.
        expert_dim: Output size of each expert (default: the fused size).
    """

    def __init__(self, input_dim: int, tasks: list[str], dropout: float = 0.1, shared_experts: int = 2,
                 task_experts: int = 1, expert_dim: int | None = None) -> None:
        super().__init__(input_dim, tasks, dropout)
        self.output_dim = expert_dim or input_dim
        make = lambda n: nn.ModuleList(Expert(input_dim, self.output_dim, dropout) for _ in range(n))  # noqa: E731
        self.shared = make(shared_experts)
        self.own = nn.ModuleDict({task_key(t): make(task_experts) for t in self.tasks})
        self.gates = nn.ModuleDict({task_key(t): nn.Linear(input_dim, shared_experts + task_experts)
                                    for t in self.tasks})

    def forward(self, fused: torch.Tensor) -> dict[str, torch.Tensor]:
        shared = [expert(fused) for expert in self.shared]  # each (B, E)
        out = {}
        for t in self.tasks:
            experts = torch.stack(shared + [e(fused) for e in self.own[task_key(t)]], dim=1)  # (B, S+K, E)
            out[t] = mix(self.gates[task_key(t)](fused), experts)  # (B, E)
        return out
