"""``coral``: Deep CORAL (Sun and Saenko 2016), matching second-order feature statistics."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.transfer.domain import ADAPTATIONS


def covariance(x: torch.Tensor) -> torch.Tensor:
    """Covariance (D, D) of the rows of ``x`` (B, D)."""
    centred = x - x.mean(dim=0, keepdim=True)
    return centred.T @ centred / max(1, x.shape[0] - 1)


@ADAPTATIONS.register("coral")
class CORAL(nn.Module):
    """``||C_source - C_target||_F^2 / (4 D^2)``, the distance between feature covariances."""

    def __init__(self, input_dim: int) -> None:
        super().__init__()
        self.input_dim = input_dim

    def forward(self, source: torch.Tensor, target: torch.Tensor, progress: float) -> torch.Tensor:
        difference = covariance(source.float()) - covariance(target.float())  # (D, D)
        return (difference ** 2).sum() / (4 * self.input_dim ** 2)
