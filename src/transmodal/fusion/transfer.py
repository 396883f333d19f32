"""``transfer`` fusion: the knowledge-transfer network's Y' = g(Y, Z).

Wraps another fusion (``inner``). The source column's features are Z = f(X) from a frozen source
encoder; the query column's features are ``[base(Y), Zhat(Y)]`` from the ``transfer_query`` encoder.
Where X is missing, Zhat (Z looked up by the aligned space's nearest neighbours of Y) stands in for
Z and X counts as present; the inner fusion then sees ``{Y: base(Y), X: Z or Zhat, ...}``. Without
``source`` (not set up by ``transfer_from``) it is the inner fusion alone.

Learning how far to trust Zhat (``neighbour_share`` > 0): while training, that share of the rows
that have X get Zhat instead of Z, and ``neighbour_noise`` of those get another row's Zhat (a wrong
neighbour estimate, as for rows unlike the training rows: an unseen speaker).

With ``estimate_slot`` (what ``transfer_from`` builds since issue 17's benchmark) Zhat is an input
of its own for the inner fusion, ``"<X>~estimate"``: a row carries either Z (in X's slot) or Zhat
(in the estimate slot, X's slot then absent), so the network weighs Z and the estimate separately
and knows which one it has. Without it (models saved before), every Zhat is multiplied by a learned
per-dimension trust in (0, 1) and takes X's slot: the network cannot tell Z from a trusted Zhat, and
learning to doubt Zhat made it doubt Z as much (AV-digits, held-out speaker, images present:
0.883 with the trust, 0.969 with the slot; issue 5 without neighbour training 0.98-0.995).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from transmodal.fusion.base import FUSIONS, Fusion, build_fusion
from transmodal.fusion.views import FULL, alone_rows, default_views, view_masks

TRUST_INIT = 4.0  # logit of the initial trust (sigmoid(4) = 0.98)
ESTIMATE_SUFFIX = "~estimate"  # the estimate slot's input name is the source column's plus this


def estimate_name(source: str) -> str:
    """The inner fusion's input name of the estimate slot of ``source``."""
    return source + ESTIMATE_SUFFIX


@FUSIONS.register("transfer")
class TransferFusion(Fusion):
    """Knowledge-transfer fusion: Z from the source column, or Zhat from the query column's
    aligned nearest neighbours when the source column is missing."""

    def __init__(self, input_dims: dict[str, int], output_dim: int, dropout: float = 0.1, *, source: str | None = None,
                 query: str | None = None, z_dim: int = 0, inner: str = "concat",
                 inner_options: dict[str, Any] | None = None, neighbour_share: float = 0.0,
                 neighbour_noise: float = 0.0, estimate_slot: bool = False, alone_share: float = 0.0,
                 average_query_alone: bool = False) -> None:
        dims = dict(input_dims)
        self.slot = bool(estimate_slot) and source is not None
        if source is not None:
            dims[query] = input_dims[query] - int(z_dim)  # the inner fusion sees base(Y) only
        if self.slot:
            dims[estimate_name(source)] = int(z_dim)  # Zhat, apart from Z
        super().__init__(dims, output_dim, dropout, source=source, query=query, z_dim=z_dim, inner=inner,
                         neighbour_share=neighbour_share, neighbour_noise=neighbour_noise,
                         estimate_slot=bool(estimate_slot), alone_share=float(alone_share),
                         average_query_alone=bool(average_query_alone))
        self.source, self.query, self.z_dim = source, query, int(z_dim)
        self.alone_share = float(alone_share) if self.slot else 0.0
        # views averaged at prediction, for rows with Z and rows with Zhat (see ``views.py``)
        self.views_with_z, self.views_with_estimate = default_views(self.alone_share,
                                                                    bool(average_query_alone) and self.slot)
        self.neighbour_share, self.neighbour_noise = float(neighbour_share), float(neighbour_noise)
        self.inner = build_fusion(inner, dims, output_dim, dropout, dict(inner_options or {}))
        self.output_dim = self.inner.output_dim
        # how far Zhat is trusted, per dimension (models trained with a neighbour share but no slot)
        taught = self.neighbour_share > 0 and not self.slot
        self.trust = nn.Parameter(torch.full((self.z_dim,), TRUST_INIT)) if taught else None

    def estimated_rows(self, present: torch.Tensor) -> torch.Tensor:
        """(B,) True where Zhat replaces Z: rows without X, and while training a share of the others."""
        estimated = ~present
        if self.training and self.neighbour_share > 0:
            estimated = estimated | (torch.rand(present.shape, device=present.device) < self.neighbour_share)
        return estimated

    def estimate(self, zhat: torch.Tensor) -> torch.Tensor:  # (B, Dz) -> (B, Dz)
        """Zhat, with wrong neighbours for ``neighbour_noise`` of the rows while training, times the trust."""
        if self.training and self.neighbour_noise > 0 and len(zhat) > 1:
            wrong = torch.rand(len(zhat), device=zhat.device) < self.neighbour_noise  # (B,)
            shuffled = zhat[torch.randperm(len(zhat), device=zhat.device)]
            zhat = torch.where(wrong.unsqueeze(-1), shuffled, zhat)
        return zhat if self.trust is None else zhat * torch.sigmoid(self.trust)

    def forward(self, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.source is None:  # not set up by transfer_from: the inner fusion alone
            return self.inner(features, masks)
        if self.slot:  # Z in X's slot, Zhat in its own; each row has one of them (or neither)
            features, masks = self.slotted(features, masks)
            if self.training:
                slot = estimate_name(self.source)
                return self.inner(features, alone_rows(masks, self.source, self.query, slot, self.alone_share))
            return self.blended(features, masks)  # (B, output_dim)
        features, zhat = self.split_query(features)
        masks = dict(masks)
        estimated = self.estimated_rows(masks[self.source]).unsqueeze(-1)  # (B, 1)
        z = features[self.source]
        features[self.source] = torch.where(estimated, self.estimate(zhat.to(z.dtype)), z)
        masks[self.source] = masks[self.source] | masks[self.query]
        return self.inner(features, masks)  # (B, output_dim)

    def split_query(self, features: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """``features`` (a copy) with ``base(Y)`` in Y's place, and the neighbour estimate Zhat (B, Dz)
        that Y's encoder appends to it."""
        features = dict(features)
        query = features[self.query]  # (B, D_base + Dz)
        features[self.query] = query[:, : -self.z_dim]
        return features, query[:, -self.z_dim:]

    def slotted(self, features: dict[str, torch.Tensor],
                masks: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The inner fusion's inputs with the estimate slot: ``base(Y)`` in Y's, Z in X's and Zhat in
        ``"<X>~estimate"`` (rows without X, and while training ``neighbour_share`` of the others)."""
        features, zhat = self.split_query(features)
        masks = dict(masks)
        rows = self.estimated_rows(masks[self.source])  # (B,)
        slot = estimate_name(self.source)
        features[slot] = self.estimate(zhat.to(features[self.source].dtype))
        masks[slot] = rows & masks[self.query]
        masks[self.source] = masks[self.source] & ~rows
        return features, masks

    def view(self, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor], view: str) -> torch.Tensor:
        """The inner fusion's output (B, output_dim) for one view (:data:`~transmodal.fusion.views.VIEWS`)
        of every row, e.g. Y alone for an extra loss (``transfer_from.query_alone_weight``).

        Raises:
            ValueError: the fusion has no estimate slot (views need it), or an unknown view.
        """
        if not self.slot:
            raise ValueError("views of a knowledge-transfer row need the estimate slot (neighbour_share > 0)")
        features, masks = self.slotted(features, masks)
        return self.inner(features, view_masks(masks, view, self.source, self.query, estimate_name(self.source)))

    def blended(self, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> torch.Tensor:
        """Prediction: per row, the mean of the inner fusion's outputs over the row's views (rows
        with Z: ``views_with_z``, rows with Zhat: ``views_with_estimate``; other rows: the full view).
        The heads are linear, so this averages the views' logits."""
        slot = estimate_name(self.source)
        kinds = {"z": (masks[self.source], self.views_with_z), "estimate": (masks[slot], self.views_with_estimate)}
        if all(views == (FULL,) for _, views in kinds.values()):
            return self.inner(features, masks)  # (B, output_dim)
        cache: dict[str, torch.Tensor] = {}

        def output(view: str) -> torch.Tensor:  # (B, output_dim)
            if view not in cache:
                cache[view] = self.inner(features, view_masks(masks, view, self.source, self.query, slot))
            return cache[view]

        fused = output(FULL)
        for rows, views in kinds.values():
            if views != (FULL,) and rows.any():
                mean = torch.stack([output(v) for v in views]).mean(dim=0)  # (B, output_dim)
                fused = torch.where(rows.unsqueeze(-1), mean, fused)
        return fused
