"""The network of all towers (each an encoder plus a projection into the shared space, see
:class:`transmodal.encoders.projection.Tower`) and embedding items with one tower."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from transmodal.encoders.base import Encoder
from transmodal.encoders.projection import Tower
from transmodal.fusion.base import module_key


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


class SingleTowerView:
    """The minimal net view :func:`transmodal.alignment.training.loader` needs for one column."""

    def __init__(self, column: str, tower) -> None:
        self.columns = [column]
        self._tower = tower

    @property
    def input_names(self) -> list[str]:
        """The one column."""
        return list(self.columns)

    def encoder(self, column: str):
        """The tower's encoder (whatever column is asked)."""
        return self._tower.encoder
