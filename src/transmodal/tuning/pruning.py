"""Pruning a trial on its per-epoch tuning score, from inside the Lightning fit."""

from __future__ import annotations

import lightning as L


class PruneOnScore(L.Callback):
    """Reports the trial's best tuning score so far (``val_score``, greater is better) after every
    validation, and stops the fit by raising ``optuna.TrialPruned`` when the study's pruner says so.

    The best score so far is reported, not the epoch's own, because the trial's final value is the
    best epoch's score (the restored one): the pruner compares like with like.

    Args:
        trial: The running ``optuna.Trial``.
    """

    def __init__(self, trial) -> None:
        self.trial = trial
        self.best = float("-inf")

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        import optuna

        score = trainer.callback_metrics.get("val_score")
        if trainer.sanity_checking or score is None:
            return
        self.best = max(self.best, float(score))
        epoch = trainer.current_epoch
        self.trial.report(self.best, step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch} (best tuning score {self.best:.4f})")
