"""``l2sp``: fine-tuning regularised towards the starting weights (L2-SP, Li et al. 2018)."""

from __future__ import annotations

import torch

from transmodal.transfer.base import STRATEGIES, StrategyContext, encoders, trains_encoders, unfreeze_encoders

DEFAULT_ALPHA = 0.01


@STRATEGIES.register("l2sp")
@trains_encoders
def l2sp(ctx: StrategyContext, options: dict) -> None:
    """Every encoder trains; ``alpha / 2 * ||w - w0||^2`` over their weights joins the loss.

    Options:
        alpha: Strength of the pull towards the starting weights ``w0`` (default 0.01).
        layer_decay: As for ``finetune`` (default 1: off).
    """
    unfreeze_encoders(ctx.net, options)
    alpha = float(options.get("alpha", DEFAULT_ALPHA))
    start = [(p, p.detach().clone()) for encoder in encoders(ctx.net, options) for p in encoder.parameters()]
    ctx.extra_losses.append(L2SPLoss(start, alpha))


class L2SPLoss:
    """``{"transfer/l2sp": alpha / 2 * sum ||w - w0||^2}`` for the recorded (parameter, start) pairs."""

    def __init__(self, pairs: list[tuple[torch.nn.Parameter, torch.Tensor]], alpha: float) -> None:
        self.pairs = pairs
        self.alpha = alpha

    def __call__(self, module, batch: dict, out: dict) -> dict[str, torch.Tensor]:
        total = sum(((p - p0.to(p.device)) ** 2).sum() for p, p0 in self.pairs)
        return {"transfer/l2sp": 0.5 * self.alpha * total}
