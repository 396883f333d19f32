"""The model a study keeps is the best trial's model at the epoch the study scored it by: evaluated
on its own tuning rows it gets the very score the study recorded for that trial (a last-epoch model,
another trial's model or a pruned trial's state would not)."""

from __future__ import annotations

import pytest

from transmodal import MultimodalPredictor
from transmodal.data.readers import Table
from transmodal.fitting.tables import holdout_split
from tunetools import SPACE, TRIAL_HYPERPARAMETERS, numbers_table

pytestmark = pytest.mark.slow

# enough epochs that the best epoch is not the last one, pruning on, several trials
HYPERPARAMETERS = {**TRIAL_HYPERPARAMETERS, "max_epochs": 8, "patience": 8}
TUNE = {"n_trials": 6, "search_space": SPACE, "pruner": "median", "startup_trials": 2, "warmup_epochs": 0}


def best_row(predictor: MultimodalPredictor) -> dict:
    rows = predictor.report_["tuning"]["trials"]
    best = max((r for r in rows if r["state"] == "complete"), key=lambda r: r["score"])
    assert best["number"] == predictor.history_["tuning"]["best_trial"]
    return best


def assert_scored_model(predictor: MultimodalPredictor, tuning_rows) -> None:
    best = best_row(predictor)
    epochs = predictor.history_["epochs"]
    assert predictor.history_["best_epoch"] == best["best_epoch"]
    # the kept epoch is not the last one, so a last-epoch model would score differently
    assert epochs[-1]["val_score"] != pytest.approx(best["score"], abs=1e-6)
    assert predictor.evaluate(tuning_rows)["roc_auc"] == pytest.approx(best["score"], abs=1e-6)


def test_the_kept_model_scores_on_given_tuning_rows_what_the_study_recorded():
    table = numbers_table(120, seed=3)
    train, tuning = table.iloc[:80].reset_index(drop=True), table.iloc[80:].reset_index(drop=True)
    predictor = MultimodalPredictor(label="label", eval_metric="roc_auc").fit(
        train, tuning, hyperparameters=HYPERPARAMETERS, seed=0, tune=TUNE)
    assert predictor.history_["tuning"]["states"]["pruned"] >= 1  # pruned trials ran and were not kept
    assert_scored_model(predictor, tuning)


def test_the_kept_model_scores_on_its_holdout_what_the_study_recorded():
    table = numbers_table(120, seed=3)
    predictor = MultimodalPredictor(label="label", eval_metric="roc_auc").fit(
        table, hyperparameters=HYPERPARAMETERS, seed=0, tune=TUNE)
    _, holdout = holdout_split(Table(table, "<table>", None), "label", 0.15, 0, "binary")
    assert_scored_model(predictor, holdout.frame)
