"""Trials scored by cross-validation (``tune.cv_folds``): folds, settings, and a study on a tiny table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from transmodal import MultimodalPredictor
from transmodal.data.readers import Table
from transmodal.errors import ConfigError
from transmodal.tuning.folds import fold_tables
from transmodal.tuning.settings import TuneSettings
from tunetools import SPACE, TRIAL_HYPERPARAMETERS, numbers_table, tuned_on_numbers


def table(n: int = 60) -> Table:
    return Table(numbers_table(n), "numbers.csv", None)


def test_every_row_tunes_exactly_one_fold_and_folds_are_stratified():
    source = table(60)
    folds = fold_tables(source, "label", "binary", 3, seed=0)
    assert len(folds) == 3
    tuned = pd.concat([tune.frame for _, tune in folds])
    assert sorted(map(tuple, tuned[["x1", "x2"]].to_numpy())) == sorted(map(tuple, source.frame[["x1", "x2"]].to_numpy()))
    share = (source.frame["label"] == "yes").mean()
    for train, tune in folds:
        assert len(train.frame) + len(tune.frame) == 60
        assert not set(train.frame["x1"]) & set(tune.frame["x1"])
        assert abs((tune.frame["label"] == "yes").mean() - share) < 0.06
    again = fold_tables(source, "label", "binary", 3, seed=0)
    other = fold_tables(source, "label", "binary", 3, seed=1)
    assert all(a[1].frame.equals(b[1].frame) for a, b in zip(folds, again))
    assert not all(a[1].frame.equals(b[1].frame) for a, b in zip(folds, other))


def test_regression_labels_are_folded_without_stratifying():
    source = Table(pd.DataFrame({"x": np.arange(20.0), "y": np.arange(20.0)}), "t.csv", None)
    folds = fold_tables(source, "y", "regression", 4, seed=0)
    assert sorted(len(tune.frame) for _, tune in folds) == [5, 5, 5, 5]


def test_too_few_rows_for_the_folds_is_a_config_error():
    with pytest.raises(ConfigError, match=r"tune\.cv_folds=5 needs at least 10 training rows.*numbers\.csv has 8"):
        fold_tables(table(8), "label", "binary", 5, seed=0)


@pytest.mark.parametrize("values, message", [
    ({"cv_folds": 0}, r"tune\.cv_folds=0 is out of range"),
    ({"cv_folds": "3"}, r"tune\.cv_folds must be"),
    ({"cv_fold": 3}, r"'tune\.cv_fold'.*did you mean 'tune\.cv_folds'"),
])
def test_cv_folds_is_checked(values, message):
    with pytest.raises(ConfigError, match=message):
        TuneSettings.from_dict(values)


FOLD_TUNE = {"n_trials": 4, "search_space": SPACE, "cv_folds": 3, "pruner": "median", "startup_trials": 1,
             "warmup_epochs": 0, "final_fit": "holdout"}
HYPERPARAMETERS = {**TRIAL_HYPERPARAMETERS, "max_epochs": 4, "patience": 4}


@pytest.fixture(scope="module")
def folded() -> MultimodalPredictor:
    return tuned_on_numbers(HYPERPARAMETERS, FOLD_TUNE)


@pytest.mark.slow
def test_a_trial_scores_the_mean_of_its_folds_and_pruning_watches_the_first(folded):
    summary, rows = folded.history_["tuning"], folded.report_["tuning"]["trials"]
    assert summary["cv_folds"] == 3 and summary["refit"] is True
    complete = [r for r in rows if r["state"] == "complete"]
    assert complete
    for row in complete:
        folds = [float(v) for v in row["fold_scores"].split()]
        assert len(folds) == 3 and row["score"] == pytest.approx(np.mean(folds), abs=1e-4)
        assert row["last_reported"] == pytest.approx(folds[0], abs=1e-4)  # the pruner saw the first fold
    for row in rows:
        if row["state"] == "pruned":  # stopped in its first fold: no other fold ran
            assert row["fold_scores"] is None and row["epochs"] <= HYPERPARAMETERS["max_epochs"]
    best = max(complete, key=lambda r: r["score"])
    assert summary["best_trial"] == best["number"] and summary["best_score"] == pytest.approx(best["score"])


@pytest.mark.slow
def test_with_final_fit_holdout_the_chosen_configuration_is_fitted_again_as_a_plain_fit(folded):
    best = folded.history_["tuning"]["best_params"]
    assert folded.config_.learning_rate == pytest.approx(best["learning_rate"])
    assert folded.config_.dropout == pytest.approx(best["dropout"])
    plain = MultimodalPredictor(label="label", eval_metric="roc_auc").fit(
        numbers_table(90), hyperparameters={**HYPERPARAMETERS, **best}, seed=0)
    rows = numbers_table(30, seed=9)
    np.testing.assert_allclose(folded.predict_proba(rows).to_numpy(), plain.predict_proba(rows).to_numpy(), atol=1e-6)
    assert folded.history_["best_score"] == pytest.approx(plain.history_["best_score"])
    assert folded.history_["tuning"]["final_fit"] == "holdout" and folded.history_["tuning"]["final_epochs"] is None


@pytest.mark.slow
def test_folds_need_no_holdout():
    predictor = MultimodalPredictor(label="label").fit(
        numbers_table(60), hyperparameters={**TRIAL_HYPERPARAMETERS, "holdout_fraction": 0.0}, seed=0,
        tune={"n_trials": 1, "search_space": SPACE, "cv_folds": 2, "pruner": "none", "final_fit": "holdout"})
    assert predictor.history_["tuning"]["states"]["complete"] == 1
    assert predictor.history_["epoch_selected"] is False  # the refit trains every epoch on every row
