"""``equal``: the sum of the task losses (times the fixed ``weights``)."""

from __future__ import annotations

import torch

from transmodal.multitask.weighting.base import WEIGHTINGS, Weighting


@WEIGHTINGS.register("equal")
class EqualWeighting(Weighting):
    """Every task's loss counts once (LibMTL's EW)."""

    def combine(self, losses: dict[str, torch.Tensor], shared) -> torch.Tensor:
        return sum(losses.values())
