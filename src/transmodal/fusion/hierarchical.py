"""Hierarchical fusion: fuse modalities in pairs, then fuse the results, layer by layer."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.fusion.base import FUSIONS, Fusion, mlp, module_key


@FUSIONS.register("hierarchical")
class HierarchicalFusion(Fusion):
    """Tree fusion: inputs are fused in pairs, then the pair results in pairs, up to one vector.

    Each input is first projected to ``output_dim``; every tree node fuses its two children (and
    their presence flags) with an MLP and carries the OR of their presence upward. With an odd
    count, the last node of a layer passes up unchanged. Absent inputs enter as the learned
    placeholder, so nothing of their (dummy) encoder output leaks.
    """

    def __init__(self, input_dims: dict[str, int], output_dim: int, dropout: float = 0.1, **options) -> None:
        super().__init__(input_dims, output_dim, dropout, **options)
        self.leaves = nn.ModuleDict(
            {module_key(n): nn.Sequential(nn.LayerNorm(d), nn.Linear(d, output_dim), nn.GELU())
             for n, d in input_dims.items()}
        )
        self.layers = nn.ModuleList()
        count = len(self.names)
        while count > 1:
            pairs = count // 2
            self.layers.append(nn.ModuleList(
                nn.Sequential(nn.LayerNorm(2 * output_dim + 2), mlp(2 * output_dim + 2, output_dim, dropout))
                for _ in range(pairs)
            ))
            count = pairs + count % 2
        self.out = nn.LayerNorm(output_dim)

    def forward(self, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> torch.Tensor:
        filled = self.fill_missing(features, masks)
        nodes = [self.leaves[module_key(n)](filled[n]) for n in self.names]  # M x (B, H)
        present = [masks[n].unsqueeze(-1).to(nodes[0].dtype) for n in self.names]  # M x (B, 1)
        for layer in self.layers:
            fused, flags = [], []
            for i, block in enumerate(layer):
                a, b = 2 * i, 2 * i + 1
                joined = torch.cat([nodes[a], nodes[b], present[a], present[b]], dim=-1)  # (B, 2H + 2)
                fused.append(block(joined))  # (B, H)
                flags.append(torch.maximum(present[a], present[b]))
            if len(nodes) % 2:
                fused.append(nodes[-1])
                flags.append(present[-1])
            nodes, present = fused, flags
        return self.out(nodes[0])  # (B, H)
