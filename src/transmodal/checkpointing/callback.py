"""The Lightning callback that writes resumable checkpoints every N steps, at each epoch end and when
Ctrl-C stops a fit.

Ctrl-C (SIGINT) while training asks the fit to stop: the current batch ends, a checkpoint is written
at that batch boundary (the state a resumed fit continues from exactly), and the fit raises
``KeyboardInterrupt``; a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint

log = logging.getLogger(__name__)


class ResumeCheckpoint(Checkpoint):
    """Writes ``path`` (see :mod:`transmodal.checkpointing.io`) every ``every_n_steps`` optimizer
    steps, at the end of each epoch and when fitting ends.

    A checkpoint holds the model, optimizer and scheduler state, Lightning's loop counters, the data
    order (epoch and batches done, see :class:`~transmodal.engine.sampler.ResumableLoader`),
    every callback's state (early stopping, best weights, history) and the torch/numpy/python RNG
    states. Subclassing ``Checkpoint`` makes Lightning run it after the other callbacks, so their
    state of the current step is included.

    Args:
        path: The checkpoint file (overwritten atomically).
        every_n_steps: Steps between mid-epoch checkpoints (0: only at epoch ends).
    """

    def __init__(self, path: str | Path, every_n_steps: int = 0) -> None:
        self.path = Path(path)
        self.every_n_steps = int(every_n_steps)
        self.finished = False
        self._restored: dict[str, Any] | None = None
        self.stop_requested = False  # Ctrl-C: checkpoint at the end of this batch, then stop
        self._previous_handler: Any = None

    @property
    def state_key(self) -> str:
        return "ResumeCheckpoint"

    def _save(self, trainer, batches_done: int) -> None:
        self._trainer_should_stop = bool(trainer.should_stop)
        loader = trainer.train_dataloader
        if hasattr(loader, "batches_done"):
            loader.batches_done = batches_done
        trainer.save_checkpoint(self.path)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if batch_idx + 1 >= trainer.num_training_batches:
            # the epoch's last batch: its validation is still to run, and a checkpoint here would
            # resume past it (the epoch's scores, best weights and history lost); the epoch-end
            # checkpoint (and a Ctrl-C stop) comes after the validation, in on_train_epoch_end
            return
        if self.stop_requested:
            self._stop(trainer, batch_idx + 1)
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0:
            self._save(trainer, batch_idx + 1)

    def _stop(self, trainer, batches_done: int) -> None:
        """Save at this batch boundary and raise ``KeyboardInterrupt`` (a Ctrl-C stop)."""
        self._save(trainer, batches_done)
        where = f"epoch {trainer.current_epoch + 1}, batch {batches_done}"
        log.info("stopped at %s; checkpoint saved to %s", where, self.path)
        raise KeyboardInterrupt(f"stopped at {where}; the checkpoint in {self.path.parent} continues the fit "
                                "with resume=True and the same checkpoint_dir")

    def _on_sigint(self, signum, frame) -> None:
        if self.stop_requested:  # the second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.stop_requested = True
        log.warning("Ctrl-C: stopping after this batch and saving a checkpoint (Ctrl-C again stops at once)")

    def _catch_sigint(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGINT, self._on_sigint)

    def _release_sigint(self) -> None:
        if self._previous_handler is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._previous_handler)
        self._previous_handler = None

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._release_sigint()

    def on_train_end(self, trainer, pl_module) -> None:
        self._release_sigint()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.stop_requested:
            self._stop(trainer, int(trainer.num_training_batches))
        self._save(trainer, int(trainer.num_training_batches))

    def on_fit_end(self, trainer, pl_module) -> None:
        self.finished = True
        self._save(trainer, int(trainer.num_training_batches))

    def state_dict(self) -> dict[str, Any]:
        return {"rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
                "should_stop": bool(self._trainer_should_stop), "finished": self.finished}

    _trainer_should_stop = False  # early stopping's decision at the last save

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._restored = state

    def on_train_start(self, trainer, pl_module) -> None:
        """Catch Ctrl-C; restore the RNG states last, right before the first resumed batch."""
        self._catch_sigint()
        if self._restored is None:
            return
        rng = self._restored["rng"]
        torch.set_rng_state(rng["torch"])
        np.random.set_state(rng["numpy"])
        version, internal, gauss = rng["python"]
        random.setstate((version, tuple(internal), gauss))
        if self._restored.get("finished") or self._restored.get("should_stop"):
            trainer.should_stop = True
        self._restored = None
