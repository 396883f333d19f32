"""The transfer-strategy registry and what strategies share.

A strategy is a function ``apply(ctx, options)`` registered under its name; it runs once the
network is built (and loaded from ``init_from``), before training, and decides what trains: it may
freeze parameters, add loss terms to ``ctx.extra_losses``, add callbacks to ``ctx.callbacks`` or
set optimizer options in ``ctx.config.transfer`` (``layer_decay``, read by
:func:`transmodal.engine.optim.parameter_groups`). ``options`` is the ``transfer`` section of the
hyperparameters; its ``inputs`` key (a list of input names) limits a strategy to those encoders.
"""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from transmodal.errors import ConfigError
from transmodal.registry import Registry

# name -> apply(ctx: FitContext, options: dict) -> None
STRATEGIES: Registry = Registry("transfer strategy", "transmodal.transfer")

Strategy = Callable[[Any, dict], None]


def encoders(net, options: dict | None = None) -> list:
    """The encoders of ``net`` in input-name order; only those of ``options["inputs"]`` (a list of
    input names) when given, so a strategy can touch one column's encoder and leave the others.

    Raises:
        ConfigError: ``inputs`` names an input the network does not have.
    """
    names = (options or {}).get("inputs") or net.input_names
    unknown = sorted(set(names) - set(net.input_names))
    if unknown:
        raise ConfigError(f"transfer.inputs {unknown} are not inputs of this model; inputs are {net.input_names}")
    return [net.encoder(name) for name in net.input_names if name in names]


def set_trainable(module: nn.Module, trainable: bool) -> None:
    """Turn ``requires_grad`` of every parameter of ``module`` on or off."""
    for parameter in module.parameters():
        parameter.requires_grad_(trainable)


def unfreeze_encoders(net, options: dict | None = None) -> None:
    """Make the encoders fully trainable (also those a source or a preset froze)."""
    for encoder in encoders(net, options):
        encoder.freeze(False)


def strategy_summaries() -> dict[str, str]:
    """Name -> first docstring line of every registered strategy."""
    return {name: (STRATEGIES.get(name).__doc__ or "").strip().splitlines()[0] for name in STRATEGIES.names()}
