"""Attention fusion: a small transformer over one token per modality (cross-modal attention)."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.fusion.base import FUSIONS, Fusion, module_key


@FUSIONS.register("attention")
class AttentionFusion(Fusion):
    """Transformer fusion: a fusion token attends to one token per present modality, and back.

    Each input is projected to ``output_dim`` and tagged with a learned modality embedding; a
    learned fusion token joins them, and ``layers`` (option, default 2) transformer encoder layers
    with ``heads`` (option, default 4) heads let every token attend to every other modality. Absent
    modalities are excluded by the key-padding mask (they are never attended to); the fused vector
    is the fusion token's output.
    """

    def __init__(self, input_dims: dict[str, int], output_dim: int, dropout: float = 0.1,
                 layers: int = 2, heads: int = 4, **options) -> None:
        super().__init__(input_dims, output_dim, dropout, **options)
        heads = heads if output_dim % heads == 0 else 1
        self.tokens = nn.ModuleDict(
            {module_key(n): nn.Sequential(nn.LayerNorm(d), nn.Linear(d, output_dim)) for n, d in input_dims.items()}
        )
        self.modality_embedding = nn.Parameter(torch.randn(len(self.names), output_dim) * 0.02)
        self.fusion_token = nn.Parameter(torch.randn(1, 1, output_dim) * 0.02)
        layer = nn.TransformerEncoderLayer(output_dim, heads, dim_feedforward=2 * output_dim,
                                           dropout=dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=int(layers), enable_nested_tensor=False)
        self.out = nn.LayerNorm(output_dim)

    def forward(self, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> torch.Tensor:
        filled = self.fill_missing(features, masks)
        tokens = torch.stack([self.tokens[module_key(n)](filled[n]) for n in self.names], dim=1)  # (B, M, H)
        tokens = tokens + self.modality_embedding.to(tokens.dtype)
        batch = tokens.shape[0]
        sequence = torch.cat([self.fusion_token.expand(batch, -1, -1).to(tokens.dtype), tokens], dim=1)  # (B, 1+M, H)
        absent = ~torch.stack([masks[n] for n in self.names], dim=1)  # (B, M) True = ignore
        padding = torch.cat([torch.zeros_like(absent[:, :1]), absent], dim=1)  # the fusion token is always there
        encoded = self.encoder(sequence, src_key_padding_mask=padding)  # (B, 1+M, H)
        return self.out(encoded[:, 0])  # (B, H)
