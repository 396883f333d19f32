"""Tensor fusion (Zadeh et al., 2017): the outer product of the inputs' vectors, each padded with 1."""

from __future__ import annotations

import math

import torch
from torch import nn

from transmodal.fusion.base import FUSIONS, Fusion, mlp, module_key

MAX_PRODUCT = 65536  # the flattened outer product may not be larger than this


@FUSIONS.register("tensor")
class TensorFusion(Fusion):
    """Outer-product tensor fusion: every unimodal, bimodal, ... interaction term, then an MLP.

    Each input is projected to ``tensor_dim`` (option, default 16, shrunk so that the product of
    ``tensor_dim + 1`` over inputs stays <= 65536) and padded with a constant 1, so the flattened
    outer product holds the unimodal terms as well as all cross-modal products. Absent inputs
    enter as the learned placeholder.
    """

    def __init__(self, input_dims: dict[str, int], output_dim: int, dropout: float = 0.1,
                 tensor_dim: int = 16, **options) -> None:
        super().__init__(input_dims, output_dim, dropout, **options)
        count = len(self.names)
        limit = int(math.floor(MAX_PRODUCT ** (1 / count))) - 1
        self.tensor_dim = max(1, min(int(tensor_dim), limit))
        self.projections = nn.ModuleDict(
            {module_key(n): nn.Sequential(nn.LayerNorm(d), nn.Linear(d, self.tensor_dim), nn.Tanh())
             for n, d in input_dims.items()}
        )
        size = (self.tensor_dim + 1) ** count
        self.project = nn.Sequential(nn.Dropout(dropout), mlp(size, output_dim, dropout))

    def forward(self, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> torch.Tensor:
        filled = self.fill_missing(features, masks)
        product = None
        for name in self.names:
            z = self.projections[module_key(name)](filled[name])  # (B, d)
            z = torch.cat([torch.ones_like(z[:, :1]), z], dim=-1)  # (B, d + 1)
            # (B, P) x (B, d + 1) -> (B, P * (d + 1))
            product = z if product is None else torch.einsum("bp,bq->bpq", product, z).flatten(1)
        return self.project(product)  # (B, output_dim)
