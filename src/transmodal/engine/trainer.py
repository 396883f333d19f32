"""The Lightning trainer every fit uses (predictor and alignment): hardware, callbacks, one run.

A fit reads top to bottom::

    start_run(seed)
    run = build_trainer(TrainerSettings.from_config(config), callbacks, time_limit)
    module = SomeModule(..., total_steps=run.total_steps(len(train), config.batch_size))
    history = run.fit(module, train_loader, tune_loader)
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import lightning as L

from transmodal.engine.callbacks import BestState, History

log = logging.getLogger(__name__)

# Lightning notices a user cannot act on: worker count (rows are prepared in the main process by
# design), frozen encoders in eval mode (they stay there on purpose), Lightning's own use of a
# deprecated torch API
LIGHTNING_NOTICES = (".*does not have many workers.*", r".*module\(s\) in eval mode at the start of training.*",
                     r".*isinstance\(treespec, LeafSpec\).*")


@contextlib.contextmanager
def lightning_notices_silenced():
    """A ``warnings.catch_warnings()`` block that hides :data:`LIGHTNING_NOTICES`; add more filters
    inside it."""
    with warnings.catch_warnings():
        for pattern in LIGHTNING_NOTICES:
            warnings.filterwarnings("ignore", pattern)
        yield


@dataclass(frozen=True)
class TrainerSettings:
    """What the trainer needs from a fit configuration (``FitConfig`` or ``AlignConfig``)."""

    max_epochs: int  # epoch budget
    patience: int  # epochs without a better val_score before early stopping
    gradient_clip: float | None  # max gradient norm; None does not clip
    accelerator: str = "cpu"  # Lightning accelerator: "cpu", "gpu", "mps", "auto"
    devices: int | str = 1  # devices per node (processes under DDP)
    strategy: str = "auto"  # "auto", "ddp", ...
    num_nodes: int = 1
    precision: str = "32-true"  # Lightning precision: "32-true", "bf16-mixed", "16-mixed", ...
    progress_bar: bool = False

    @classmethod
    def from_config(cls, config: Any) -> "TrainerSettings":
        """The settings of any configuration that has every field of this class."""
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(cls)})


def start_run(seed: int) -> None:
    """Quiet Lightning's info logs and seed every generator (workers included)."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    L.seed_everything(seed, workers=True, verbose=False)


@dataclass
class Run:
    """A built trainer and the callbacks whose results a fit returns."""

    trainer: L.Trainer
    best: BestState
    history: History
    settings: TrainerSettings
    ckpt_path: str | None = None  # a checkpoint to resume from

    def total_steps(self, num_rows: int, batch_size: int) -> int:
        """Optimizer steps of the whole run in each process: under DDP each process sees its share
        of the rows (the distributed sampler pads them to equal counts)."""
        rows_per_process = math.ceil(num_rows / self.trainer.world_size)
        return self.settings.max_epochs * math.ceil(rows_per_process / batch_size)

    def fit(self, module: L.LightningModule, train_loader, tune_loader) -> dict[str, Any]:
        """Train ``module`` (it has ``net`` and ``total_steps``), restore its best state
        (:class:`BestState`) and return the history: ``{"epochs": [...], "best_epoch",
        "best_score", "fit_seconds", "global_rank", "world_size", "scheduled_steps",
        "optimizer_steps", "tuning_scores"}`` (``tuning_scores``: the kept epoch's scores of the
        tuning rows per task, in row order, or None; not JSON, the fit pipeline takes it out)."""
        start = time.perf_counter()
        if self.trainer.is_global_zero:
            log.info("training on %s, up to %d epoch(s)%s", self.device_text(), self.settings.max_epochs,
                     " (resuming from a checkpoint)" if self.ckpt_path else "")
        with lightning_notices_silenced():
            warnings.filterwarnings("ignore", ".*deterministic.*")
            warnings.filterwarnings("ignore", ".*checkpoint that ended before the epoch ended.*")
            try:
                self.trainer.fit(module, train_loader, tune_loader, ckpt_path=self.ckpt_path)
            except SystemExit as stop:
                if not self.trainer.interrupted:
                    raise
                # Lightning turns Ctrl-C into sys.exit(1) with SIGINT ignored; the caller decides
                import signal
                import threading

                if threading.current_thread() is threading.main_thread():
                    signal.signal(signal.SIGINT, signal.default_int_handler)
                raise KeyboardInterrupt(*getattr(stop.__context__, "args", ())) from None  # the reason kept
        return {"epochs": self.history.epochs, "best_epoch": self.best.best_epoch, "best_score": self.best.best_score,
                "fit_seconds": time.perf_counter() - start, "global_rank": self.trainer.global_rank,
                "world_size": self.trainer.world_size, "scheduled_steps": module.total_steps,
                "optimizer_steps": self.trainer.global_step, "tuning_scores": self.best.scores}

    def hardware(self) -> dict[str, Any]:
        """What the trainer runs on: accelerator, devices per node, nodes, strategy, precision and
        the device (``cpu``, ``cuda:0 (NVIDIA ...)``, ``mps``)."""
        trainer = self.trainer
        return {"accelerator": type(trainer.accelerator).__name__, "devices": trainer.num_devices,
                "num_nodes": trainer.num_nodes, "strategy": type(trainer.strategy).__name__,
                "precision": trainer.precision, "device": self.device_text(with_count=False)}

    def device_text(self, with_count: bool = True) -> str:
        """The device this process trains on, e.g. ``cpu`` or ``cuda:0 (NVIDIA A10G), 2 devices``."""
        device = self.trainer.strategy.root_device
        text = str(device)
        if device.type == "cuda":
            import torch

            text += f" ({torch.cuda.get_device_name(device)})"
        count = self.trainer.num_devices * self.trainer.num_nodes
        return text + (f", {count} devices" if with_count and count > 1 else "")


def build_trainer(settings: TrainerSettings, callbacks: Sequence[L.Callback] = (), time_limit: float | None = None,
                  select_epoch: bool = True, trainer_options: dict[str, Any] | None = None,
                  val_batches: int = 0, monitor: str = "val_score") -> Run:
    """A Lightning trainer with the engine's callbacks, in this order: :class:`BestState`,
    :class:`History`, early stopping on ``monitor`` (when ``select_epoch``), then ``callbacks``.

    Args:
        settings: Hardware, budget and clipping.
        callbacks: More callbacks (e.g. :class:`~transmodal.engine.callbacks.CacheSwitch`).
        time_limit: Seconds of training, the closing validation pass included (None: no limit); a
            :class:`~transmodal.engine.budget.TimeBudget` keeps it and fits the schedule to it.
        select_epoch: Restore the best epoch by ``monitor`` and stop early; otherwise train the
            whole budget and keep the last epoch.
        trainer_options: Overrides of ``L.Trainer`` keyword arguments; ``ckpt_path`` is the
            checkpoint to resume from.
        val_batches: Batches of one validation pass (the time limit keeps room for it).
        monitor: The logged score (greater is better) that picks the kept epoch and stops early;
            the history's ``best_score`` is the kept epoch's ``val_score`` either way.
    """
    from transmodal.engine.budget import TimeBudget

    from lightning.pytorch.callbacks import Checkpoint, EarlyStopping

    options = dict(trainer_options or {})
    ckpt_path = options.pop("ckpt_path", None)
    best, history = BestState(keep_last=not select_epoch, monitor=monitor), History()
    stopping = [EarlyStopping(monitor, mode="max", patience=settings.patience)] if select_epoch else []
    budget = [TimeBudget(time_limit, val_batches)] if time_limit else []
    all_callbacks = [best, history, *stopping, *budget, *callbacks]
    arguments = dict(
        max_epochs=settings.max_epochs,
        accelerator=settings.accelerator, devices=settings.devices, strategy=settings.strategy,
        num_nodes=settings.num_nodes, precision=settings.precision,
        gradient_clip_val=settings.gradient_clip, callbacks=all_callbacks,
        enable_checkpointing=False, logger=False, enable_model_summary=False,
        enable_progress_bar=settings.progress_bar, num_sanity_val_steps=0, deterministic="warn",
    )
    arguments.update(options)
    arguments["enable_checkpointing"] = any(isinstance(c, Checkpoint) for c in all_callbacks)
    return Run(L.Trainer(**arguments), best, history, settings, ckpt_path)
