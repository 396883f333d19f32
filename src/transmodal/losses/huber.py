"""Huber loss for regression: squared error near the target, absolute error beyond ``huber_delta``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from transmodal.errors import ConfigError
from transmodal.heads.task import TaskSpec
from transmodal.losses.base import LOSSES


@LOSSES.register("huber")
class HuberLoss(nn.Module):
    """Huber loss on standardised regression targets (rows with NaN targets ignored).

    A heavy-tailed target (counts, prices) lets a few extreme rows dominate the squared error and its
    gradient; beyond ``huber_delta`` standard deviations the Huber loss grows linearly, so each row's
    gradient is bounded.

    Args:
        task: The regression task.
        huber_delta: Where the loss turns from quadratic to linear, in target standard deviations.
    """

    problem_types = ("regression",)

    def __init__(self, task: TaskSpec, huber_delta: float = 1.0, **_) -> None:
        super().__init__()
        if huber_delta <= 0:
            raise ConfigError(f"huber_delta must be positive, got {huber_delta}")
        self.delta = float(huber_delta)

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        # outputs (B, 1), targets (B,) standardised, NaN where missing
        labelled = ~torch.isnan(targets)
        if not labelled.any():
            return {"loss": outputs.sum() * 0.0}
        return {"loss": F.huber_loss(outputs.squeeze(-1)[labelled], targets[labelled], delta=self.delta)}
