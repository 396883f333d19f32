"""A study's trials as rows (``trials.csv``, the run report) and its parameter importances."""

from __future__ import annotations

from typing import Any

import optuna


def trial_row(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """One trial: number, state, tuning score (the mean over folds with ``tune.cv_folds`` >= 2, each
    fold's score in ``fold_scores``), seconds, epochs (of all its fits), the last score reported to
    the pruner (the first fold's), error, then one ``params.<key>`` per parameter (the columns of
    ``trials.csv``)."""
    seconds = None
    if trial.datetime_start is not None and trial.datetime_complete is not None:
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
    steps = trial.intermediate_values
    return {
        "number": trial.number,
        "state": trial.state.name.lower(),
        "score": trial.value,
        "seconds": seconds,
        "epochs": trial.user_attrs.get("epochs", (max(steps) + 1) if steps else None),
        "last_reported": steps[max(steps)] if steps else None,  # best score so far at the last epoch reported
        "best_epoch": trial.user_attrs.get("best_epoch"),  # the first fold's with folds
        "fold_scores": trial.user_attrs.get("fold_scores"),  # "0.9412 0.9388 0.9450" with folds, else None
        "fold_epochs": trial.user_attrs.get("fold_epochs"),  # each fold's best epoch count ("3 2 4") with folds
        "encoded_cells": trial.user_attrs.get("encoded_cells"),  # frozen-encoder cells not found in the store
        "started": trial.datetime_start.isoformat(timespec="seconds") if trial.datetime_start else None,
        "error": trial.user_attrs.get("error"),
        "worker": trial.user_attrs.get("worker"),  # host:pid of the process that ran it
        **{f"params.{key}": value for key, value in trial.params.items()},
    }


def param_importances(study: optuna.Study, seed: int) -> dict[str, float]:
    """fANOVA importance of each parameter for the tuning score (Optuna's evaluator, seeded); empty
    when fewer than two complete trials or no parameter varied."""
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return {}
    try:
        return {k: float(v) for k, v in get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=seed)).items()}
    except (ValueError, RuntimeError, ZeroDivisionError):
        return {}
