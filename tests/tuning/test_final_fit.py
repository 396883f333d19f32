"""The model a study keeps after trials scored on folds (``tune.final_fit``), and the base trial
(``tune.base_trial``)."""

from __future__ import annotations

import numpy as np
import pytest

from transmodal import MultimodalPredictor
from transmodal.config import FitConfig
from transmodal.tuning.final import StopAfterEpochs, final_epochs, fold_epochs
from tunetools import SPACE, TRIAL_HYPERPARAMETERS, numbers_table, tuned_on_numbers

HYPERPARAMETERS = {**TRIAL_HYPERPARAMETERS, "max_epochs": 6, "patience": 2}
FOLD_TUNE = {"n_trials": 3, "search_space": SPACE, "cv_folds": 3, "pruner": "none"}


def test_the_final_epochs_are_the_folds_mean_rounded():
    assert fold_epochs("3 2 5") == [3, 2, 5] and fold_epochs(None) == []
    assert final_epochs([3, 2, 5]) == 3 and final_epochs([1, 2]) == 2 and final_epochs([1, 1, 2]) == 1
    with pytest.raises(ValueError):
        final_epochs([])


@pytest.mark.slow
def test_stop_after_epochs_ends_a_fit_on_every_row_early():
    predictor = MultimodalPredictor(label="label").fit(
        numbers_table(60), hyperparameters={**HYPERPARAMETERS, "holdout_fraction": 0.0}, seed=0,
        callbacks=[StopAfterEpochs(2)])
    assert len(predictor.history_["epochs"]) == 2 and predictor.history_["epoch_selected"] is False


@pytest.fixture(scope="module")
def all_rows() -> MultimodalPredictor:
    return tuned_on_numbers(HYPERPARAMETERS, FOLD_TUNE)


@pytest.mark.slow
def test_the_chosen_configuration_is_fitted_on_every_row_for_its_folds_mean_best_epoch(all_rows):
    summary, rows = all_rows.history_["tuning"], all_rows.report_["tuning"]["trials"]
    best = next(r for r in rows if r["number"] == summary["best_trial"])
    epochs = fold_epochs(best["fold_epochs"])
    assert len(epochs) == 3 and all(1 <= e <= HYPERPARAMETERS["max_epochs"] for e in epochs)
    assert summary["final_fit"] == "all_rows" and summary["fold_epochs"] == epochs
    assert summary["final_epochs"] == final_epochs(epochs)
    assert len(all_rows.history_["epochs"]) == summary["final_epochs"]  # stopped after the folds' mean
    assert all_rows.history_["epoch_selected"] is False and all_rows.config_.holdout_fraction == 0.0
    assert all_rows.config_.max_epochs == HYPERPARAMETERS["max_epochs"]  # the schedule spans the folds' budget
    # the same model as a plain fit of the chosen values on all 90 rows, stopped after those epochs
    plain = MultimodalPredictor(label="label", eval_metric="roc_auc").fit(
        numbers_table(90), hyperparameters={**HYPERPARAMETERS, **summary["best_params"], "holdout_fraction": 0.0},
        seed=0, callbacks=[StopAfterEpochs(summary["final_epochs"])])
    new_rows = numbers_table(30, seed=9)
    np.testing.assert_allclose(all_rows.predict_proba(new_rows).to_numpy(), plain.predict_proba(new_rows).to_numpy(),
                               atol=1e-6)


@pytest.mark.slow
def test_the_first_trial_is_the_base_configuration(all_rows):
    rows = all_rows.report_["tuning"]["trials"]
    assert rows[0]["params.learning_rate"] == HYPERPARAMETERS.get("learning_rate", FitConfig().learning_rate)
    assert rows[0]["params.dropout"] == HYPERPARAMETERS.get("dropout", FitConfig().dropout)  # FitConfig's defaults
    assert all_rows.history_["tuning"]["best_score"] >= rows[0]["score"]
    assert rows[1]["params.learning_rate"] != rows[0]["params.learning_rate"]  # then the sampler draws


@pytest.mark.slow
def test_without_the_base_trial_or_outside_the_space_the_first_trial_is_drawn():
    def first(tune: dict) -> dict:
        predictor = MultimodalPredictor(label="label").fit(
            numbers_table(60), hyperparameters=TRIAL_HYPERPARAMETERS, seed=0,
            tune={"n_trials": 1, "pruner": "none", **tune})
        return predictor.report_["tuning"]["trials"][0]

    drawn = first({"search_space": SPACE, "base_trial": False})
    assert drawn["params.learning_rate"] != FitConfig().learning_rate and drawn["params.dropout"] != FitConfig().dropout
    # the base dropout (0.3) is outside this space: drawn; the base learning rate is in it: kept
    partly = first({"search_space": {**SPACE, "dropout": {"low": 0.35, "high": 0.5}}})
    assert partly["params.learning_rate"] == FitConfig().learning_rate and 0.35 <= partly["params.dropout"] <= 0.5
