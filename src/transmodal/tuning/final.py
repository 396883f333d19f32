"""The model a study keeps: :func:`final_model`; after trials scored on folds (``tune.cv_folds`` >= 2)
as ``tune.final_fit`` says.

The folds chose a configuration. ``final_fit="fold_models"`` keeps the chosen trial's k fold fits
(each saw (k-1)/k of the rows, its epoch chosen on its own fold's tuning rows): the caller holds them
as one model averaging their predictions (bagging; an ensemble, above this layer). Refitting them
when this process did not run the trial is exact: a fit is reproducible for its seed on CPU.
The other final fits make one network. ``final_fit="all_rows"`` fits the configuration on every training row, no rows
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
import optuna
from optuna.trial import TrialState

from transmodal.config import FitConfig
from transmodal.errors import TransmodalError
from transmodal.fitting.pipeline import FitResult, run_fit
from transmodal.tuning.space import with_values

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


def final_model(study: optuna.Study, objective) -> tuple[list[FitResult], FitConfig, bool, dict[str, Any]]:
    """The model's fits (one, or the k fold fits with ``final_fit="fold_models"``), the config they
    were fitted with, whether they had to be fitted again, and what the final fit was
    (:func:`final_fit_record`). The best complete trial's fit is kept when this process ran it
    (``objective.best``); it is fitted again when another process ran it (a fit is reproducible for
    its seed on CPU). After trials scored on folds, its configuration becomes the model as
    ``final_fit`` says: its fold fits (``fold_models``), one fit on every training row for its folds'
    mean best epoch (``all_rows``), or one on the training table with the tuning rows choosing its
    epoch (``holdout``).

    Args:
        study: The finished study.
        objective: The study's :class:`~transmodal.tuning.study.Objective` (request, tables, folds,
            settings, the best fits this process kept).

    Raises:
        TransmodalError: no trial completed (the first recorded error is shown).
    """
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        errors = [t.user_attrs["error"] for t in study.get_trials(deepcopy=False) if "error" in t.user_attrs]
        detail = f"; first error: {errors[0]}" if errors else " (every trial was pruned or none ran)"
        raise TransmodalError(f"no trial of the study completed{detail}")
    best = study.best_trial
    kind, epochs = objective.settings.final_fit or "all_rows", fold_epochs(best.user_attrs.get("fold_epochs"))
    kept = objective.best is not None and objective.best[0] == best.number
    if objective.folds is None:
        if kept:
            return objective.best[2], objective.best[3], False, {}
        LOG.info("refitting trial %d (run by another process) with its parameters", best.number)
        config = best_config(objective, best)
        return [run_fit(objective.request_for(config), objective.train, objective.tune)], config, True, {}
    if kind == "fold_models":
        if kept:
            return objective.best[2], objective.best[3], False, final_fit_record(kind, epochs, None)
        config = best_config(objective, best)
        LOG.info("fitting trial %d's configuration (best mean score over %d folds, %.4f) on its %d folds again "
                 "(run by another process): the fold models are the model", best.number, len(objective.folds),
                 best.value, len(objective.folds))
        results = [run_fit(objective.request_for(config), train, tune) for train, tune in objective.folds]
        return results, config, True, final_fit_record(kind, epochs, None)
    return one_final_fit(objective, best, kind, epochs)


def best_config(objective, best: optuna.trial.FrozenTrial) -> FitConfig:
    """The config of trial ``best``: the base config with the space's fixed values and its parameters."""
    return FitConfig.from_dict(with_values(objective.base, {**objective.space.fixed(), **best.params}))


def one_final_fit(objective, best: optuna.trial.FrozenTrial, kind: str,
                  epochs: list[int]) -> tuple[list[FitResult], FitConfig, bool, dict[str, Any]]:
    """Trial ``best``'s configuration fitted once more (``all_rows`` or ``holdout``), as
    :func:`final_model` returns it."""
    if kind == "all_rows" and not epochs:  # a study stored before fold epochs were recorded
        LOG.warning("trial %d recorded no fold epochs: its configuration is fitted with the holdout", best.number)
        kind = "holdout"
    request, where, count = objective.request_for(best_config(objective, best)), "the training table", None
    if kind == "all_rows":
        count = final_epochs(epochs)
        request, where = all_rows_request(request, count), f"every training row for {count} epoch(s) (folds: {epochs})"
    LOG.info("fitting trial %d's configuration (best mean score over %d folds, %.4f) on %s",
             best.number, len(objective.folds), best.value, where)
    result = run_fit(request, objective.train, None if kind == "all_rows" else objective.tune)
    # the config the model was fitted with (all rows: holdout_fraction 0; the epochs it trained are in the record)
    return [result], request.config, True, final_fit_record(kind, epochs, count)
