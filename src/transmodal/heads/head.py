"""Per-task output heads on top of the fused representation."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.heads.task import TaskSpec


class TaskHead(nn.Module):
    """A dropout + linear layer from the fused vector to one task's outputs.

    Args:
        input_dim: Size of the fused representation.
        task: The task; its ``output_dim`` sets the number of outputs.
        dropout: Dropout before the linear layer.
    """

    def __init__(self, input_dim: int, task: TaskSpec, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(input_dim, task.output_dim)

    def forward(self, fused: torch.Tensor) -> torch.Tensor:  # (B, H) -> (B, K)
        return self.linear(self.dropout(fused))
