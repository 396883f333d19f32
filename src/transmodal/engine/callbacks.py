"""Lightning callbacks: best-state restore, per-epoch history, and switching rows to the cache.

Status lines (one per epoch) go to the ``transmodal.engine.callbacks`` logger: the CLI shows them and a fit's ``fit.log`` keeps them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import lightning as L
import torch

log = logging.getLogger(__name__)


class BestState(L.Callback):
    """Keeps the trainable state of the best epoch (by ``monitor``) in memory and restores it at
    the end of fitting, with that epoch's scores of the tuning rows (``scores``: the module's
    ``val_scores``, when it keeps them), so that they need not be predicted again. Nothing is
    written to disk (checkpoint files would be pickles).

    Args:
        keep_last: Record every epoch, so that the last one is kept (no tuning rows to select by).
        monitor: The logged score (greater is better) that picks the epoch. ``best_score`` is the
            kept epoch's ``val_score`` (the eval metric), whichever score picked it.
    """

    def __init__(self, keep_last: bool = False, monitor: str = "val_score") -> None:
        self.keep_last = keep_last
        self.monitor = monitor
        self.best_score = float("-inf")
        self.best_epoch = -1
        self.state: dict[str, torch.Tensor] | None = None
        self.scores: dict[str, Any] | None = None
        self._best_monitored = float("-inf")

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        monitored = float(metrics.get(self.monitor, metrics.get("val_score", float("-inf"))))
        if monitored > self._best_monitored or self.keep_last:
            self._best_monitored, self.best_epoch = monitored, trainer.current_epoch
            self.best_score = float(metrics.get("val_score", monitored))
            frozen = {n for n, p in module.net.named_parameters() if not p.requires_grad}
            self.state = {k: v.detach().clone() for k, v in module.net.state_dict().items() if k not in frozen}
            self.scores = dict(getattr(module, "val_scores", {}) or {}) or None

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch, "state": self.state,
                "best_monitored": self._best_monitored}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_score, self.best_epoch, self.state = state["best_score"], state["best_epoch"], state["state"]
        self._best_monitored = state.get("best_monitored", self.best_score)  # checkpoints written before

    def on_fit_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self.state is not None:
            module.net.load_state_dict(self.state, strict=False)


class History(L.Callback):
    """Records, per epoch: wall time (training plus validation), train loss and validation metrics."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, Any]] = []
        self._start = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epochs = list(state["epochs"])

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        self.epochs.append({"epoch": trainer.current_epoch,
                            "epoch_seconds": time.perf_counter() - self._start, **metrics})
        if trainer.is_global_zero:
            log.info("%s", epoch_line(self.epochs[-1], trainer.max_epochs))


def epoch_line(record: dict[str, Any], max_epochs: int | None) -> str:
    """``epoch 3/20  train_loss 0.4120  val_score 0.9300  val/label/accuracy 0.9300  (1.2 s)``."""
    first = [k for k in ("train_loss", "val_score") if k in record]
    rest = [k for k in record if k not in ("epoch", "epoch_seconds", "select_score", *first)]  # its metric is shown
    shown = [f"{k} {record[k]:.4f}" for k in first + rest]
    budget = f"/{max_epochs}" if max_epochs and max_epochs > 0 else ""
    return f"epoch {record['epoch'] + 1}{budget}  {'  '.join(shown)}  ({record['epoch_seconds']:.1f} s)"


class CacheSwitch(L.Callback):
    """Once an input's features are all cached, stops decoding its files in later epochs; when the
    fit ends (or fails) every file is decoded again."""

    def __init__(self, datasets: dict[str, Any]) -> None:
        self.datasets = datasets  # stage -> TableDataset

    def _update(self, module: L.LightningModule) -> None:
        for stage, dataset in self.datasets.items():
            cache = module.caches.get(stage)
            if cache is not None:
                dataset.skip_inputs = {n for n in cache.names if cache.complete(n)}

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._update(module)

    def on_validation_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._update(module)

    def on_fit_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._reset()

    def on_exception(self, trainer: L.Trainer, module: L.LightningModule, exception: BaseException) -> None:
        self._reset()

    def _reset(self) -> None:
        for dataset in self.datasets.values():
            dataset.skip_inputs = set()
