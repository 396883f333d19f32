"""``transfer`` fusion: the knowledge-transfer network's Y' = g(Y, Z).

Wraps another fusion (``inner``). The source column's features are Z = f(X) from a frozen source
encoder; the query column's features are ``[base(Y), Zhat(Y)]`` from the ``transfer_query`` encoder.
Where X is missing, Zhat (Z looked up by the aligned space's nearest neighbours of Y) stands in for
Z and X counts as present; the inner fusion then sees ``{Y: base(Y), X: Z or Zhat, ...}``. Without
``source`` (not set up by ``transfer_from``) it is the inner fusion alone.
"""

from __future__ import annotations

from typing import Any

import torch

from transmodal.fusion.base import FUSIONS, Fusion, build_fusion


@FUSIONS.register("transfer")
class TransferFusion(Fusion):
    """Knowledge-transfer fusion: Z from the source column, or Zhat from the query column's
    aligned nearest neighbours when the source column is missing."""

    def __init__(self, input_dims: dict[str, int], output_dim: int, dropout: float = 0.1, *, source: str | None = None,
                 query: str | None = None, z_dim: int = 0, inner: str = "concat",
                 inner_options: dict[str, Any] | None = None) -> None:
        dims = dict(input_dims)
        if source is not None:
            dims[query] = input_dims[query] - int(z_dim)  # the inner fusion sees base(Y) only
        super().__init__(dims, output_dim, dropout, source=source, query=query, z_dim=z_dim, inner=inner)
        self.source, self.query, self.z_dim = source, query, int(z_dim)
        self.inner = build_fusion(inner, dims, output_dim, dropout, dict(inner_options or {}))
        self.output_dim = self.inner.output_dim

    def forward(self, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.source is None:  # not set up by transfer_from: the inner fusion alone
            return self.inner(features, masks)
        features, masks = dict(features), dict(masks)
        query = features[self.query]  # (B, D_base + Dz)
        base, zhat = query[:, : -self.z_dim], query[:, -self.z_dim:]
        present = masks[self.source].unsqueeze(-1)  # (B, 1)
        features[self.source] = torch.where(present, features[self.source], zhat.to(features[self.source].dtype))
        masks[self.source] = masks[self.source] | masks[self.query]
        features[self.query] = base
        return self.inner(features, masks)  # (B, output_dim)
