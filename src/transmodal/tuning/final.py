"""The model a study keeps after trials scored on folds (``tune.cv_folds`` >= 2, ``tune.final_fit``).

The folds chose a configuration; none of their fits is the model (each saw two thirds of the rows
with three folds). ``final_fit="all_rows"`` fits the configuration on every training row, no rows
held out, for the number of epochs its folds found best on average (each fold's best epoch was
chosen on that fold's own tuning rows, so the count is an honest estimate). The learning-rate
schedule keeps spanning ``max_epochs`` and the fit stops after that many epochs, so the final fit
follows the same schedule as the folds it was estimated on. ``final_fit="holdout"`` fits it as a
plain fit would be (the holdout or ``tuning_data`` choosing the epoch), on fewer rows.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import lightning as L

LOG = logging.getLogger("transmodal.tuning")


class StopAfterEpochs(L.Callback):
    """Stops a fit after ``epochs`` training epochs (the learning-rate schedule is not shortened).

    Args:
        epochs: Epochs to train (>= 1).
    """

    def __init__(self, epochs: int) -> None:
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        self.epochs = epochs

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.current_epoch + 1 >= self.epochs:
            trainer.should_stop = True


def fold_epochs(text: str | None) -> list[int]:
    """The epochs each fold of a trial kept (``trials.csv``'s ``fold_epochs``, "3 2 4") as numbers."""
    return [int(value) for value in (text or "").split()]


def final_epochs(epochs: list[int]) -> int:
    """Epochs of the final fit on every row: the folds' mean best epoch count, rounded (at least 1)."""
    if not epochs:
        raise ValueError("no fold recorded its best epoch")
    return max(1, round(sum(epochs) / len(epochs)))


def all_rows_request(request, epochs: int):
    """``request`` (a trial's refit request) changed to train on every row for ``epochs`` epochs:
    no holdout, the last epoch kept, :class:`StopAfterEpochs` added to its callbacks."""
    config = dataclasses.replace(request.config, holdout_fraction=0.0)
    options = dict(request.options)
    options["callbacks"] = [*(options.get("callbacks") or ()), StopAfterEpochs(epochs)]
    return dataclasses.replace(request, config=config, options=options)


def final_fit_record(kind: str, trial_epochs: list[int], epochs: int | None) -> dict[str, Any]:
    """What the summary says about the final fit: its kind, the best trial's fold epochs, the epochs
    the fit on every row trained (None for ``holdout``)."""
    return {"final_fit": kind, "fold_epochs": trial_epochs, "final_epochs": epochs}
