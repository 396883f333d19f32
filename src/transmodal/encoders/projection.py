"""A tower: an encoder plus a projection into a shared embedding space.

Alignment (:mod:`transmodal.alignment`) trains one tower per column; the ``transfer_query`` encoder
reuses a frozen aligned tower to look up neighbours. Both build it from here, so that encoders never
import the alignment package.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from transmodal.encoders.base import Encoder
from transmodal.fusion.base import mlp


def projection_kind(choice: str, encoder: Encoder, locked: bool) -> str:
    """``identity`` for a locked tower, else ``choice`` (``auto``: mlp over a frozen encoder)."""
    if locked:
        return "identity"
    if choice == "auto":
        return "mlp" if encoder.frozen else "linear"
    return choice


class Tower(nn.Module):
    """One column's encoder and its projection; outputs L2-normalised embeddings (B, D).

    Args:
        encoder: The column's encoder.
        kind: ``identity`` (a locked tower keeps its pretrained space), ``linear`` or ``mlp``.
        embed_dim: Shared-space size (ignored for ``identity``).
        dropout: Dropout inside an mlp projection.
    """

    def __init__(self, encoder: Encoder, kind: str, embed_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.kind = kind
        if kind == "identity":
            self.projection: nn.Module = nn.Identity()
            self.embed_dim = encoder.output_dim
        elif kind == "linear":
            self.projection = nn.Linear(encoder.output_dim, embed_dim)
            self.embed_dim = embed_dim
        else:
            self.projection = mlp(encoder.output_dim, embed_dim, dropout, hidden_dim=max(embed_dim, 512))
            self.embed_dim = embed_dim

    @property
    def locked(self) -> bool:
        """True when nothing in the tower trains."""
        return self.kind == "identity" and self.encoder.frozen

    def project(self, features: torch.Tensor) -> torch.Tensor:  # (B, D_enc) -> (B, D)
        return F.normalize(self.projection(features), dim=-1)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:  # (B, D)
        return self.project(self.encoder(inputs))
