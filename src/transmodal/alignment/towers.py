"""Towers: an encoder plus a projection into the shared space, and the network of all towers."""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from transmodal.encoders.base import Encoder
from transmodal.fusion.base import mlp, module_key


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


class AlignmentNet(nn.Module):
    """All towers (keyed by column) and the contrastive loss module (which owns the temperature)."""

    def __init__(self, towers: dict[str, Tower], loss: nn.Module) -> None:
        super().__init__()
        self.columns = list(towers)
        self.towers = nn.ModuleDict({module_key(c): towers[c] for c in self.columns})
        self.loss = loss

    def tower(self, column: str) -> Tower:
        """The tower of ``column``."""
        return self.towers[module_key(column)]

    def encoder(self, column: str) -> Encoder:
        """The encoder of ``column`` (the name mirrors ``MultimodalNet.encoder``)."""
        return self.tower(column).encoder

    @property
    def input_names(self) -> list[str]:
        return list(self.columns)


@torch.no_grad()
def embed_items(tower: Tower, items: Sequence[Any], batch_size: int = 64, project: bool = True) -> torch.Tensor:
    """Embed decoded items (strings, images, ...) with ``tower`` in eval mode -> (N, D).

    Args:
        project: False returns the encoder's features (N, D_enc) instead of shared-space embeddings.
    """
    was_training = tower.training
    tower.eval()
    chunks = []
    for start in range(0, len(items), batch_size):
        features = tower.encoder(tower.encoder.prepare(list(items[start:start + batch_size])))
        chunks.append(tower.project(features) if project else features)
    tower.train(was_training)
    return torch.cat(chunks) if chunks else torch.zeros(0, tower.embed_dim)
