"""``linear_probe``: encoders frozen (their features cached once per fit), only the head trains."""

from __future__ import annotations

from transmodal.transfer.base import STRATEGIES, StrategyContext, encoders, set_trainable


@STRATEGIES.register("linear_probe")
def linear_probe(ctx: StrategyContext, options: dict) -> None:
    """Freeze every encoder (and the fusion when it comes from ``init_from``); the head trains.

    Options:
        train_fusion: Also train the fusion module (default: only when it was not transferred).
    """
    for encoder in encoders(ctx.net, options):
        encoder.freeze(True)
    set_trainable(ctx.net.fusion, bool(options.get("train_fusion", not ctx.transferred)))
