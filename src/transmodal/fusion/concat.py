"""Feature-level (early) fusion: concatenate every input's features, then an MLP."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.fusion.base import FUSIONS, Fusion, mlp


@FUSIONS.register("concat")
class ConcatFusion(Fusion):
    """Feature-level fusion: concatenated features and presence flags into an MLP."""

    def __init__(self, input_dims: dict[str, int], output_dim: int, dropout: float = 0.1, **options) -> None:
        super().__init__(input_dims, output_dim, dropout, **options)
        total = sum(input_dims.values()) + len(input_dims)
        self.norm = nn.LayerNorm(total)
        self.project = mlp(total, output_dim, dropout)

    def forward(self, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> torch.Tensor:
        filled = self.fill_missing(features, masks)
        flags = [masks[name].unsqueeze(-1).to(filled[name].dtype) for name in self.names]  # (B, 1) each
        joined = torch.cat([filled[name] for name in self.names] + flags, dim=-1)  # (B, sum D + M)
        return self.project(self.norm(joined))  # (B, output_dim)
