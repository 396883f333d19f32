"""Low-rank tensor fusion (Liu et al., 2018): tensor fusion with rank-``r`` factorised weights."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.fusion.base import FUSIONS, Fusion, module_key


@FUSIONS.register("lowrank")
class LowRankFusion(Fusion):
    """Low-rank tensor fusion: the tensor-fusion output computed from per-input rank-r factors.

    For each input m, ``z_m = [1, LayerNorm(x_m)]`` is mapped by ``rank`` factors to (r, H); the
    factors are multiplied element-wise across inputs and summed over the rank with learned
    weights. This equals a linear map of the full outer product with a rank-``r`` weight tensor,
    without ever building it. Option ``rank`` (default 8). Absent inputs enter as the learned
    placeholder.
    """

    def __init__(self, input_dims: dict[str, int], output_dim: int, dropout: float = 0.1,
                 rank: int = 8, **options) -> None:
        super().__init__(input_dims, output_dim, dropout, **options)
        self.rank = int(rank)
        self.norms = nn.ModuleDict({module_key(n): nn.LayerNorm(d) for n, d in input_dims.items()})
        self.factors = nn.ParameterDict({
            module_key(n): nn.Parameter(torch.randn(self.rank, d + 1, output_dim) * (d + 1) ** -0.5)
            for n, d in input_dims.items()
        })
        self.rank_weights = nn.Parameter(torch.randn(1, self.rank) * self.rank ** -0.5)
        self.bias = nn.Parameter(torch.zeros(output_dim))
        self.dropout = nn.Dropout(dropout)
        self.out = nn.LayerNorm(output_dim)

    def forward(self, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> torch.Tensor:
        filled = self.fill_missing(features, masks)
        fused = None
        for name in self.names:
            z = self.dropout(self.norms[module_key(name)](filled[name]))  # (B, D)
            z = torch.cat([torch.ones_like(z[:, :1]), z], dim=-1)  # (B, D + 1)
            factor = torch.einsum("bd,rdh->rbh", z, self.factors[module_key(name)])  # (r, B, H)
            fused = factor if fused is None else fused * factor
        out = torch.einsum("or,rbh->obh", self.rank_weights, fused).squeeze(0) + self.bias  # (B, H)
        return self.out(out)
