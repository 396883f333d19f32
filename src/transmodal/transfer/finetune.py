"""``finetune``: everything trains, with layer-wise learning-rate decay and optional gradual
unfreezing (the encoders wait ``freeze_epochs`` epochs while the new head settles)."""

from __future__ import annotations

import lightning as L

from transmodal.transfer.base import STRATEGIES, StrategyContext, encoders, trains_encoders, unfreeze_encoders

DEFAULT_LAYER_DECAY = 0.75


@STRATEGIES.register("finetune")
@trains_encoders
def finetune(ctx: StrategyContext, options: dict) -> None:
    """Unfreeze every encoder; lower layers learn more slowly.

    Options:
        layer_decay: Learning-rate factor per layer group below the head (default 0.75; 1 = off);
            the top group of each encoder trains at ``decay`` x its base rate, the one below at
            ``decay**2``, ...
        freeze_epochs: Epochs at the start during which the encoders do not change (default 0).
    """
    unfreeze_encoders(ctx.net, options)
    ctx.optimizer["layer_decay"] = float(options.get("layer_decay", DEFAULT_LAYER_DECAY))
    epochs = int(options.get("freeze_epochs", 0))
    if epochs > 0:
        ctx.callbacks.append(GradualUnfreezing(epochs))


class GradualUnfreezing(L.Callback):
    """Keeps the encoders unchanged (no gradient step, batch-norm statistics fixed) for the first
    ``epochs`` epochs.

    Gradients are dropped rather than ``requires_grad`` switched off, so the optimizer and the
    best-state bookkeeping see the same parameters throughout.
    """

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def _waiting(self, trainer: L.Trainer) -> bool:
        return trainer.current_epoch < self.epochs

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        for encoder in encoders(module.net):
            encoder.train(not self._waiting(trainer))

    def on_after_backward(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self._waiting(trainer):
            for encoder in encoders(module.net):
                for parameter in encoder.parameters():
                    parameter.grad = None
