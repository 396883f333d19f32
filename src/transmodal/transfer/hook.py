"""The fit hook that wires transfer learning into ``MultimodalPredictor.fit``.

Fit options: ``init_from`` (a saved predictor folder or a fitted predictor), ``source_data`` and
``source_label`` (joint training), ``unlabeled_data`` (domain adaptation) and ``teacher``
(distillation). Order of work: joint source rows join the table (``on_data``); the network is
rebuilt from the source and its weights copied, the strategy decides what trains, the adaptation
term is attached (``on_net``); the source head and the critic are removed (``after_fit``).
"""

from __future__ import annotations

import copy

from transmodal.fitting import FIT_HOOKS, FitContext, FitHook
from transmodal.transfer.base import STRATEGIES
from transmodal.errors import ConfigError


@FIT_HOOKS.register("transfer")
class TransferHook(FitHook):
    """Transfer learning: ``init_from``, strategies, joint training, domain adaptation, distillation."""

    options = ("init_from", "source_data", "source_label", "unlabeled_data", "teacher")

    def __init__(self) -> None:
        self.source_task: str | None = None  # name of the joint source task, dropped after training
        self.summary: dict | None = None  # what init_from copied

    def active(self, ctx: FitContext) -> bool:
        transfer = ctx.config.transfer or {}
        return super().active(ctx) or bool(transfer.get("strategy") or transfer.get("adapt"))

    def on_data(self, ctx: FitContext) -> None:
        ctx.config.transfer = copy.deepcopy(ctx.config.transfer or {})  # never change the caller's dict
        ctx.config.multitask = copy.deepcopy(ctx.config.multitask or {})
        if ctx.options.get("source_data") is not None:
            from transmodal.transfer.joint import add_source_task

            self.source_task = add_source_task(ctx, ctx.options["source_data"], ctx.options.get("source_label"))
        elif ctx.options.get("source_label") is not None:
            raise ConfigError("source_label needs source_data=TABLE")

    def on_net(self, ctx: FitContext) -> None:
        transfer = ctx.config.transfer
        init_from = ctx.options.get("init_from")
        if init_from is not None:
            from transmodal.transfer.source import load_source, transplant

            source = load_source(init_from)
            if source is not None:  # other folder kinds belong to other hooks
                self.summary = ctx.history["transfer"] = transplant(ctx, source)
                transfer["init_from"] = str(init_from) if not hasattr(init_from, "net_") else "<predictor>"
        strategy = transfer.get("strategy")
        if strategy is not None:
            if strategy not in STRATEGIES:
                raise ConfigError(f"unknown transfer.strategy {strategy!r}; known: {STRATEGIES.names()}")
            STRATEGIES.get(strategy)(ctx, transfer)
        # Lightning keeps each module's mode: frozen encoders must start in eval mode, the rest in train
        ctx.net.train()
        if ctx.options.get("unlabeled_data") is not None:
            from transmodal.transfer.domain import add_adaptation

            add_adaptation(ctx, ctx.options["unlabeled_data"])
        elif transfer.get("adapt"):
            raise ConfigError("transfer.adapt needs unlabelled target rows: fit(..., unlabeled_data=TABLE)")

    def after_fit(self, ctx: FitContext) -> None:
        from transmodal.transfer.domain import detach_adaptation
        from transmodal.transfer.joint import drop_source_task

        detach_adaptation(ctx.net)
        if self.source_task is not None:
            drop_source_task(ctx, self.source_task)
        if self.summary is not None:
            ctx.predictor.history_["transfer"] = self.summary

    def on_load(self, predictor) -> None:
        from transmodal.transfer.lora import restore

        restore(predictor)
