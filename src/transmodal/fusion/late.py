"""Decision-level (late) fusion: one decision network per input, averaged with learned weights."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.fusion.base import FUSIONS, Fusion, mlp, module_key


@FUSIONS.register("late")
class LateFusion(Fusion):
    """Decision-level fusion: per-input decisions averaged with learned weights over present inputs.

    Each input has its own network ending in a linear layer; the task heads on top are linear too,
    so the model's output is the learned-weight average of per-input decisions. Absent inputs get
    zero weight in their row.
    """

    def __init__(self, input_dims: dict[str, int], output_dim: int, dropout: float = 0.1, **options) -> None:
        super().__init__(input_dims, output_dim, dropout, **options)
        self.branches = nn.ModuleDict(
            {module_key(n): nn.Sequential(nn.LayerNorm(d), mlp(d, output_dim, dropout)) for n, d in input_dims.items()}
        )
        self.weight_logits = nn.Parameter(torch.zeros(len(self.names)))

    def decisions(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-input decision vectors, (B, M, output_dim) in sorted-name order."""
        return torch.stack([self.branches[module_key(n)](features[n]) for n in self.names], dim=1)

    def weights(self, masks: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-row weights (B, M): softmax of the learned logits over the present inputs."""
        present = torch.stack([masks[n] for n in self.names], dim=1)  # (B, M) bool
        none = ~present.any(dim=1, keepdim=True)
        present = present | none  # a row with no input at all averages every placeholder
        logits = self.weight_logits.unsqueeze(0).masked_fill(~present, float("-inf"))
        return torch.softmax(logits, dim=1)

    def forward(self, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> torch.Tensor:
        filled = self.fill_missing(features, masks)
        decisions = self.decisions(filled)  # (B, M, H)
        weights = self.weights(masks).unsqueeze(-1)  # (B, M, 1)
        return (weights * decisions).sum(dim=1)  # (B, H)
