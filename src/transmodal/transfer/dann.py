"""``dann``: domain-adversarial training (Ganin et al. 2016) with a gradient reversal layer.

A small critic learns to tell source from target features; the reversed gradient teaches the
network to make them indistinguishable. The reversal coefficient warms up as
``2 / (1 + exp(-10 p)) - 1`` over training progress ``p`` (0 -> 1), so the critic's noisy early
gradients do not disturb the features.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from transmodal.transfer.domain import ADAPTATIONS


class GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient is multiplied by ``-coefficient`` backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, coefficient: float) -> torch.Tensor:
        ctx.coefficient = coefficient
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.coefficient * grad, None


def reversal_coefficient(progress: float, gamma: float = 10.0) -> float:
    """The warm-started coefficient ``2 / (1 + exp(-gamma p)) - 1`` in [0, 1)."""
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


@ADAPTATIONS.register("dann")
class DANN(nn.Module):
    """Domain critic behind a gradient reversal layer; binary cross-entropy on domain labels.

    Args:
        input_dim: Feature size.
        hidden_dim: Width of the critic's hidden layers (default 256).
        max_coefficient: Reversal strength reached at the end of training (default 1).
    """

    def __init__(self, input_dim: int, hidden_dim: int = 256, max_coefficient: float = 1.0) -> None:
        super().__init__()
        self.max_coefficient = float(max_coefficient)
        self.critic = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Dropout(0.1),
            nn.Linear(hidden_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, 1),
        )

    def forward(self, source: torch.Tensor, target: torch.Tensor, progress: float) -> torch.Tensor:
        features = torch.cat([source, target])  # (Bs + Bt, D)
        coefficient = self.max_coefficient * reversal_coefficient(progress)
        logits = self.critic(GradientReversal.apply(features, coefficient)).squeeze(-1)  # (Bs + Bt,)
        domains = torch.cat([torch.ones(len(source)), torch.zeros(len(target))]).to(logits)
        return F.binary_cross_entropy_with_logits(logits, domains)
