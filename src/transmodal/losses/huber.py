"""Huber loss for regression: squared error near the target, absolute error beyond ``huber_delta``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from transmodal.errors import ConfigError
from transmodal.heads.task import TaskSpec
from transmodal.losses.base import LOSSES
from transmodal.losses.supervised import MSELoss


@LOSSES.register("huber")
class HuberLoss(MSELoss):
    """Huber loss on standardised regression targets (rows with NaN targets ignored, as in ``mse``).

    A heavy-tailed target (counts, prices) lets a few extreme rows dominate the squared error and its
    gradient; beyond ``huber_delta`` standard deviations the Huber loss grows linearly, so each row's
    gradient is bounded.

    Args:
        task: The regression task.
        huber_delta: Where the loss turns from quadratic to linear, in target standard deviations.
    """

    def __init__(self, task: TaskSpec, huber_delta: float = 1.0, **_) -> None:
        super().__init__(task)
        if huber_delta <= 0:
            raise ConfigError(f"huber_delta must be positive, got {huber_delta}")
        self.delta = float(huber_delta)

    def error(self, predicted: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.huber_loss(predicted, targets, delta=self.delta)
