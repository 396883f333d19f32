"""``mmd``: multi-kernel maximum mean discrepancy (Long et al. 2015, DAN) between feature sets."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.transfer.domain import ADAPTATIONS


def multi_kernel(x: torch.Tensor, y: torch.Tensor, multipliers: tuple[float, ...]) -> torch.Tensor:
    """Sum of Gaussian kernels between the rows of ``x`` (N, D) and ``y`` (M, D) -> (N, M); the
    bandwidths are ``multipliers`` times the mean squared distance of the joint set."""
    distances = torch.cdist(x, y) ** 2  # (N, M)
    joint = torch.cat([x, y])
    bandwidth = (torch.cdist(joint, joint) ** 2).mean().detach().clamp_min(1e-6)
    return sum(torch.exp(-distances / (bandwidth * m)) for m in multipliers)


@ADAPTATIONS.register("mmd")
class MMD(nn.Module):
    """The (biased) squared MMD with a sum of Gaussian kernels of several bandwidths.

    Args:
        input_dim: Feature size (unused; part of the criterion contract).
        multipliers: Bandwidths relative to the mean squared distance (default 1/4 ... 4).
    """

    def __init__(self, input_dim: int, multipliers: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)) -> None:
        super().__init__()
        self.multipliers = tuple(float(m) for m in multipliers)

    def forward(self, source: torch.Tensor, target: torch.Tensor, progress: float) -> torch.Tensor:
        source, target = source.float(), target.float()
        k_ss = multi_kernel(source, source, self.multipliers).mean()
        k_tt = multi_kernel(target, target, self.multipliers).mean()
        k_st = multi_kernel(source, target, self.multipliers).mean()
        return k_ss + k_tt - 2 * k_st
