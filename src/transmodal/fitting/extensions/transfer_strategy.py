"""``hyperparameters={"transfer": {"strategy": NAME, ...}}``: what trains, decided in ``adapt`` by a
strategy from :data:`transmodal.transfer.base.STRATEGIES` (one file each in ``transfer/``)."""

from __future__ import annotations

from transmodal.errors import ConfigError
from transmodal.fitting.state import Extension, FitRequest, FitState


class TransferStrategy(Extension):
    """Runs the chosen strategy on the built network and hands its additions to training."""

    options = ("teacher",)

    @classmethod
    def wanted(cls, request: FitRequest) -> bool:
        return bool((request.config.transfer or {}).get("strategy"))

    def adapt(self, state: FitState) -> None:
        from transmodal.transfer.base import STRATEGIES, StrategyContext

        options = dict(state.config.transfer)
        name = options["strategy"]
        if name not in STRATEGIES:
            raise ConfigError(STRATEGIES.unknown_message(name, "transfer.strategy"))
        ctx = StrategyContext(net=state.net, tasks=state.tasks, train=state.train,
                              transferred=bool(state.records.get("transfer", {}).get("copied")),
                              init_from=state.options.get("init_from"), teacher=state.options.get("teacher"),
                              time_limit=state.request.time_limit)
        STRATEGIES.get(name)(ctx, options)
        state.adapters.update(ctx.adapters)
        state.base = ctx.base
        state.training.extra_losses += ctx.extra_losses
        state.training.callbacks += ctx.callbacks
        if ctx.optimizer:
            overrides = state.training.config_overrides
            overrides["transfer"] = {**overrides.get("transfer", state.config.transfer), **ctx.optimizer}

    def finish(self, state: FitState) -> None:
        """A LoRA predictor that predicts through int8 merged encoders: fusion and heads refitted on
        int8 features (:func:`transmodal.transfer.int8_calibration.calibrate_heads`)."""
        from transmodal.encoders.adapters import quantized_after_merge

        epochs = int(state.config.transfer.get("calibrate_epochs", 3))
        if not state.adapters or not quantized_after_merge(state.adapters) or epochs <= 0:
            return
        from transmodal.build import class_weights, sampler_weights
        from transmodal.transfer.int8_calibration import calibrate_heads

        config, targets = state.training_config(), state.train_set.targets
        record, scores = calibrate_heads(
            state.net, config, state.train_set, state.tune_set, state.eval_metric, state.adapters, epochs,
            seed=state.seed, select_epoch=state.select_epoch,
            class_weights=class_weights(state.tasks, targets, config.class_weight),
            sampler_weights=sampler_weights(state.tasks, targets, config.sampler))
        state.records["int8_calibration"] = record
        if scores is not None:
            state.tuning_scores = scores
