"""Gated fusion: learned per-modality gates decide how much of each modality enters the fusion."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.fusion.base import FUSIONS, Fusion, mlp, module_key


@FUSIONS.register("gated")
class GatedFusion(Fusion):
    """Gated multimodal units (Arevalo et al., 2017) for any number of modalities.

    Each input m gives a candidate ``h_m = tanh(W_m x_m)`` (B, H); a gate network sees every input
    and the presence flags and outputs per-modality, per-feature gate logits; the gates are a
    softmax over the present modalities, so an absent modality gets gate 0 and contributes
    nothing. The gated sum then goes through an MLP.
    """

    def __init__(self, input_dims: dict[str, int], output_dim: int, dropout: float = 0.1, **options) -> None:
        super().__init__(input_dims, output_dim, dropout, **options)
        count = len(self.names)
        total = sum(input_dims.values()) + count
        self.candidates = nn.ModuleDict(
            {module_key(n): nn.Sequential(nn.LayerNorm(d), nn.Linear(d, output_dim), nn.Tanh())
             for n, d in input_dims.items()}
        )
        self.gates = nn.Sequential(nn.LayerNorm(total), nn.Linear(total, count * output_dim))
        self.project = nn.Sequential(nn.LayerNorm(output_dim), mlp(output_dim, output_dim, dropout))

    def gate_values(self, filled: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> torch.Tensor:
        """Gates (B, M, H): a softmax over the present modalities, per feature."""
        present = torch.stack([masks[n] for n in self.names], dim=1)  # (B, M)
        flags = present.to(filled[self.names[0]].dtype)
        joined = torch.cat([filled[n] for n in self.names] + [flags], dim=-1)  # (B, sum D + M)
        logits = self.gates(joined).view(len(joined), len(self.names), -1)  # (B, M, H)
        present = present | ~present.any(dim=1, keepdim=True)  # no input at all: gate placeholders
        logits = logits.masked_fill(~present.unsqueeze(-1), float("-inf"))
        return torch.softmax(logits, dim=1)

    def forward(self, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> torch.Tensor:
        filled = self.fill_missing(features, masks)
        candidates = torch.stack([self.candidates[module_key(n)](filled[n]) for n in self.names], dim=1)  # (B, M, H)
        gated = (self.gate_values(filled, masks) * candidates).sum(dim=1)  # (B, H)
        return self.project(gated)  # (B, H)
