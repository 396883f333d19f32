"""A time limit for the training loop that the whole training stage keeps, the last validation pass
included, with the learning-rate schedule fitted to the steps that fit in it.

Lightning's ``max_time`` only checks the time between training steps: the validation pass that runs
when it stops training (minutes through a LoRA-adapted transformer on a slow machine) comes on top,
and a warm-up + cosine schedule sized for ``max_epochs`` is cut off at a high learning rate.
:class:`TimeBudget` instead measures the wall time of a training step and of a validation pass as it
goes, stops training while one more step and the closing validation pass still fit before the
deadline, and tells the module how many steps that will be (``module.total_steps``, which the
schedule reads at every step; see :func:`transmodal.engine.optim.configure_adamw`), so that the
cosine decay ends when the time does (budgeted training: Li et al., ICLR 2020).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Callable

import lightning as L

log = logging.getLogger(__name__)

EVAL_COST = 0.6  # a validation batch before one is measured: this share of a training step (forward only)
MIN_STEPS = 10  # steps measured before the schedule follows the time


class TimeBudget(L.Callback):
    """Stops training so that training plus the closing validation pass end within ``seconds``.

    Args:
        seconds: Wall seconds from the start of training.
        val_batches: Batches of one validation pass (its cost is estimated from the training steps
            until a pass is measured).
        clock: Seconds now (monotonic).
    """

    def __init__(self, seconds: float, val_batches: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.seconds = float(seconds)
        self.val_batches = int(val_batches)
        self.deadline = math.inf
        self.scheduled = 0  # the module's own total_steps, never exceeded
        self.steps = 0  # training steps measured in this run
        self.first_step = 0.0
        self.train_seconds = 0.0
        self.val_seconds: float | None = None  # the last measured validation pass
        self._mark = 0.0
        self._val_start = 0.0
        self.stopped_early = False

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._mark = self.clock()
        self.deadline = self._mark + self.seconds
        self.scheduled = int(getattr(module, "total_steps", 0) or 0)

    def step_seconds(self) -> float:
        """Mean wall seconds of a training step (data loading included); the first step (the
        loader's and the kernels' warm-up, often many steps' time) counts only while it is alone."""
        if self.steps < 2:
            return self.train_seconds / max(self.steps, 1)
        return (self.train_seconds - self.first_step) / (self.steps - 1)

    def reserve(self) -> float:
        """Seconds kept for the validation pass that closes training."""
        if self.val_seconds is not None:
            return self.val_seconds
        return self.val_batches * EVAL_COST * self.step_seconds()

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, outputs, batch, batch_idx) -> None:
        now = self.clock()
        self.train_seconds += now - self._mark
        self._mark = now
        self.steps += 1
        if self.steps == 1:
            self.first_step = self.train_seconds
        step = self.step_seconds()
        left = self.deadline - now - self.reserve()
        measured = self.steps >= MIN_STEPS  # before: a guess from a few warm-up steps, stop only when out of time
        if self.scheduled and measured:  # the schedule ends where the time does
            reachable = trainer.global_step + int(max(left, 0.0) / step)
            module.total_steps = max(trainer.global_step, 1, min(self.scheduled, reachable))
        schedule_done = self.scheduled and measured and trainer.global_step >= module.total_steps
        stop = bool((left < step if measured else now >= self.deadline) or schedule_done)
        stop = trainer.strategy.broadcast(stop)
        if stop and not trainer.should_stop:
            self.stopped_early = trainer.global_step < self.scheduled or not self.scheduled
            trainer.should_stop = True
            if self.stopped_early:
                log.info("time limit: training stops after step %d of %d (%.2f s a step, %.1f s kept for the "
                         "validation pass, %.1f s left)", trainer.global_step, self.scheduled, step,
                         self.reserve(), self.deadline - now)

    def on_validation_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._val_start = self.clock()

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        now = self.clock()
        self.val_seconds = now - self._val_start
        self._mark = now  # the next training step's time starts here

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        # after the epoch's validation pass: not even one more step and a pass fit, so no next epoch
        if self.steps and self.deadline - self.clock() - self.reserve() < self.step_seconds():
            trainer.should_stop = True

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._mark = self.clock()  # the time between epochs is not a training step's
