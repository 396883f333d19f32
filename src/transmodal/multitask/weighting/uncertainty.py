"""``uncertainty``: homoscedastic-uncertainty weighting (Kendall, Gal and Cipolla, CVPR 2018)."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.multitask.weighting.base import WEIGHTINGS, Weighting


@WEIGHTINGS.register("uncertainty")
class UncertaintyWeighting(Weighting):
    """Learns a log-variance ``s_t`` per task; the loss is ``sum_t L_t / (2 exp(s_t)) + s_t / 2``.

    Tasks whose loss stays high get a larger variance and so a smaller weight; the ``s_t / 2`` term
    keeps the variances from growing without bound.
    """

    def __init__(self, tasks: list[str], weights: dict[str, float] | None = None) -> None:
        super().__init__(tasks, weights)
        self.log_vars = nn.Parameter(torch.zeros(len(self.tasks)))  # (T,)

    def combine(self, losses: dict[str, torch.Tensor], shared) -> torch.Tensor:
        stacked = torch.stack([losses[t] for t in self.tasks])  # (T,)
        return (stacked * torch.exp(-self.log_vars) / 2 + self.log_vars / 2).sum()

    def method_weights(self) -> dict[str, float]:
        values = (torch.exp(-self.log_vars.detach()) / 2).tolist()
        return dict(zip(self.tasks, values))
