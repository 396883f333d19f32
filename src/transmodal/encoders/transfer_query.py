"""``transfer_query``: a column's own encoder plus a representation of another column looked up by
nearest neighbours in an aligned space (the query side of the knowledge-transfer network).

For a row's item y it outputs ``[base(y), Zhat(y)]`` where ``Zhat(y)`` is the mean of the source
features ``Z`` of the ``k`` bank rows whose aligned embedding of the other column is closest to the
aligned embedding of y. The bank (aligned keys and Z values of training rows) is a buffer, saved
with the model; the aligned tower is frozen. The ``transfer`` fusion uses ``Zhat`` in place of the
other column's ``Z`` when that column is missing. Set up by ``hyperparameters["transfer_from"]``
(see :mod:`transmodal.fitting.extensions.knowledge_transfer`), not by hand.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from transmodal.encoders.base import ENCODERS, Encoder, build_encoder


class TransferQueryEncoder(Encoder):
    """Base encoder of the column, concatenated with the neighbour-averaged source features.

    Settings:
        modality: The column's modality.
        base: Spec (with ``name``) of the trainable encoder of the column.
        tower: Spec (with ``name``) of the aligned tower's encoder of the column (frozen).
        projection: ``{"kind", "embed_dim", "dropout"}`` of the aligned tower's projection.
        bank_size, key_dim, z_dim: Shapes of the bank: keys (bank_size, key_dim), values (bank_size, z_dim).
        k: Neighbours averaged.
    """

    def __init__(self, modality: str, base: dict[str, Any], tower: dict[str, Any], projection: dict[str, Any],
                 bank_size: int, key_dim: int, z_dim: int, k: int = 5, frozen: bool = False, **extra: Any) -> None:
        from transmodal.encoders.projection import Tower

        super().__init__(modality=modality, base=dict(base), tower=dict(tower), projection=dict(projection),
                         bank_size=int(bank_size), key_dim=int(key_dim), z_dim=int(z_dim), k=int(k), frozen=False, **extra)
        self.base = build_encoder(modality, base)
        self.tower = Tower(build_encoder(modality, {**tower, "frozen": True}), projection["kind"],
                           int(projection["embed_dim"]), float(projection.get("dropout", 0.1)))
        for parameter in self.tower.parameters():
            parameter.requires_grad_(False)
        self.register_buffer("bank_keys", torch.zeros(int(bank_size), int(key_dim)))  # (N, D) unit vectors
        self.register_buffer("bank_values", torch.zeros(int(bank_size), int(z_dim)))  # (N, Dz)
        self.k = int(k)
        self.z_dim = int(z_dim)
        self.output_dim = self.base.output_dim + self.z_dim

    @classmethod
    def fit_settings(cls, items: Sequence[Any], settings: dict[str, Any]) -> dict[str, Any]:
        """Fit the base encoder's data-dependent settings."""
        from transmodal.encoders.base import encoder_registry

        settings = dict(settings)
        base = dict(settings["base"])
        base_cls = encoder_registry(settings["modality"]).get(base["name"])
        settings["base"] = {"name": base["name"], **base_cls.fit_settings(items, {k: v for k, v in base.items() if k != "name"})}
        return settings

    def prepare(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        """Both encoders' inputs, keys prefixed ``base/`` and ``tower/``."""
        base = {f"base/{k}": v for k, v in self.base.prepare(items).items()}
        return {**base, **{f"tower/{k}": v for k, v in self.tower.encoder.prepare(items).items()}}

    def neighbours(self, query: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, Dz)
        """Mean source features of the ``k`` bank rows closest to each aligned query. While
        training the closest one is skipped: the bank holds training rows, so it is often the row
        itself, whose Z would make the estimate look better than it is for new rows."""
        size = self.bank_keys.shape[0]
        skip = 1 if self.training and size > self.k else 0
        similarity = query @ self.bank_keys.t()  # (B, N)
        top = similarity.topk(min(self.k + skip, size), dim=1).indices[:, skip:]  # (B, k)
        return self.bank_values[top].mean(dim=1)  # (B, k, Dz) -> (B, Dz)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:  # (B, base + z_dim)
        base = self.base({k[5:]: v for k, v in inputs.items() if k.startswith("base/")})
        with torch.no_grad():
            query = self.tower({k[6:]: v for k, v in inputs.items() if k.startswith("tower/")})  # (B, D)
            zhat = self.neighbours(query)
        return torch.cat([base, zhat.to(base.dtype)], dim=-1)

    def train(self, mode: bool = True) -> "TransferQueryEncoder":
        super().train(mode)
        self.tower.eval()  # the aligned tower stays fixed (no dropout, fixed batch-norm statistics)
        return self

    def layer_groups(self) -> list[list[nn.Parameter]]:
        return self.base.layer_groups()


for _modality in ("text", "image", "audio"):
    ENCODERS[_modality].register("transfer_query", internal=True)(TransferQueryEncoder)  # set by knowledge transfer only
