"""The transfer-strategy registry and what strategies share.

A strategy is a function ``apply(ctx: StrategyContext, options: dict)`` registered under its name;
it runs in the fit's ``adapt`` stage, once the network is built (and loaded from ``init_from``),
and decides what trains: it may freeze parameters, insert adapters (recorded in ``ctx.adapters``),
add loss terms to ``ctx.extra_losses``, callbacks to ``ctx.callbacks`` and optimizer settings to
``ctx.optimizer`` (``layer_decay``, read by :func:`transmodal.engine.optim.parameter_groups`).
``options`` is the ``transfer`` section of the hyperparameters; its ``inputs`` key (a list of input
names) limits a strategy to those encoders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

from transmodal.errors import ConfigError
from transmodal.registry import Registry

# name -> apply(ctx: StrategyContext, options: dict) -> None
STRATEGIES: Registry = Registry("transfer strategy", "transmodal.transfer")


@dataclass
class StrategyContext:
    """What a strategy reads and what it hands back to the fit.

    Attributes:
        net: The built network (weights already copied from ``init_from``).
        tasks: The task specs.
        train: The training table.
        transferred: True when weights were copied from a source predictor.
        init_from: The ``init_from`` folder (a path) or predictor object, or None.
        teacher: The ``teacher=`` fit option (a folder or a fitted predictor), or None.
        time_limit: The fit's time limit in seconds, or None.
        extra_losses: Out: loss terms ``(module, batch, out) -> {name: loss}``.
        callbacks: Out: Lightning callbacks.
        optimizer: Out: optimizer settings for this fit (``layer_decay``).
        adapters: Out: input name -> adapter settings inserted in its encoder.
        base: Out: ``{"path", "sha256"}`` of the folder the adapted encoders' base weights come from.
    """

    net: Any
    tasks: list
    train: Any
    transferred: bool = False
    init_from: Any = None
    teacher: Any = None
    time_limit: float | None = None
    extra_losses: list = field(default_factory=list)
    callbacks: list = field(default_factory=list)
    optimizer: dict[str, Any] = field(default_factory=dict)
    adapters: dict[str, dict[str, Any]] = field(default_factory=dict)
    base: dict[str, str] | None = None


Strategy = Callable[[StrategyContext, dict], None]


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
    return {name: (STRATEGIES.get(name).__doc__ or "").strip().splitlines()[0] for name in STRATEGIES.public_names()}


def trains_encoders(strategy: Strategy) -> Strategy:
    """Mark a strategy that changes the weights of the encoders it touches (below its
    ``@STRATEGIES.register``): the default text encoder of those inputs then pools its last layer
    only (:func:`transmodal.encoders.base.default_encoder_spec`), as it did before the default
    became every layer of a frozen MiniLM."""
    strategy.trains_encoders = True  # type: ignore[attr-defined]
    return strategy


def trained_inputs(section: dict[str, Any] | None, input_names: list[str]) -> set[str]:
    """The inputs whose encoders the ``transfer`` section's strategy trains: none without a strategy
    or with one that leaves the encoders as they are (``linear_probe``, ``distill``); those of
    ``inputs`` when given, else every input. An unknown strategy names none here (the ``adapt``
    stage reports it)."""
    name = (section or {}).get("strategy")
    if not name or name not in STRATEGIES or not getattr(STRATEGIES.get(name), "trains_encoders", False):
        return set()
    return set((section or {}).get("inputs") or input_names)
