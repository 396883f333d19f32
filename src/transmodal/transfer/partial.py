"""``partial``: only the top N layer groups of each encoder train (the rest stays as it was)."""

from __future__ import annotations

from transmodal.errors import ConfigError
from transmodal.transfer.base import STRATEGIES, StrategyContext, encoders, set_trainable, trains_encoders


@STRATEGIES.register("partial")
@trains_encoders
def partial(ctx: StrategyContext, options: dict) -> None:
    """Train the top ``layers`` groups of each encoder's ``layer_groups()`` (plus fusion and heads).

    Options:
        layers: Number of groups, counted from the output side, that train (default 1).
    """
    layers = int(options.get("layers", 1))
    if layers < 0:
        raise ConfigError(f"transfer.layers must be >= 0, got {layers}")
    for encoder in encoders(ctx.net, options):
        encoder.freeze(False)  # not "frozen": part of it trains, so its features are not cached
        set_trainable(encoder, False)
        groups = encoder.layer_groups()  # bottom -> top
        for group in groups[len(groups) - layers:] if layers else []:
            for parameter in group:
                parameter.requires_grad_(True)
