"""The Lightning callback that writes resumable checkpoints every N steps and at each epoch end."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint


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
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0:
            self._save(trainer, batch_idx + 1)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
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
        """Restore the RNG states last, right before the first resumed batch."""
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
