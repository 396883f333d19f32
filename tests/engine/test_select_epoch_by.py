"""Which metric picks the kept epoch (``FitConfig.select_epoch_by``): by default the tuning loss for a
binary label when no eval metric is given, while reports keep the eval metric; model folders saved
before the setting existed load and predict unchanged."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from tabletools import TINY_HYPERPARAMETERS
from transmodal import MultimodalPredictor
from transmodal.config import FitConfig
from transmodal.errors import ConfigError
from transmodal.metrics.base import epoch_metric

HP = {**TINY_HYPERPARAMETERS, "max_epochs": 10, "patience": 10, "learning_rate": 1e-2}


def noisy(n: int, seed: int) -> pd.DataFrame:
    """A noisy binary table (label = sign of ``a`` plus noise)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] + 0.8 * rng.normal(size=n) > 0).astype(int)
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": y})


@pytest.fixture(scope="module")
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and tuning rows on which tuning accuracy and tuning log-loss prefer different epochs."""
    return noisy(200, 0), noisy(60, 1)


@pytest.mark.parametrize("choice, given, problem_type, expected", [
    ("auto", None, "binary", "log_loss"),
    ("auto", None, "multiclass", "accuracy"),  # log-loss cost accuracy and macro-F1 on the clothing ratings
    ("auto", None, "regression", "rmse"),
    ("auto", None, "multilabel", "f1_macro_multilabel"),
    ("auto", "roc_auc", "binary", "roc_auc"),  # a metric the user names picks the epoch, as before
    ("eval_metric", None, "binary", "accuracy"),  # the rule before the setting
    ("eval_metric", "f1_macro", "multiclass", "f1_macro"),
    ("roc_auc", "accuracy", "binary", "roc_auc"),
])
def test_the_epoch_metric_is_resolved_from_the_setting_and_the_eval_metric(choice, given, problem_type, expected):
    assert epoch_metric(choice, given, problem_type) == expected


def test_a_malformed_or_unknown_epoch_metric_is_a_clear_error(tables):
    with pytest.raises(ConfigError, match="select_epoch_by"):
        FitConfig(select_epoch_by="Log Loss")
    with pytest.raises(ConfigError, match=r"select_epoch_by.*log_loss"):  # before any training: did you mean
        MultimodalPredictor(label="label").fit(tables[0], hyperparameters={**HP, "select_epoch_by": "log_los"})


def _kept_epoch(history: dict, key: str, greater_is_better: bool) -> int:
    values = [epoch[key] for epoch in history["epochs"]]
    return int(np.argmax(values) if greater_is_better else np.argmin(values))


def test_a_default_fit_keeps_the_epoch_of_lowest_tuning_loss_and_reports_its_accuracy(tables):
    train, tune = tables
    predictor = MultimodalPredictor(label="label").fit(train, tuning_data=tune, hyperparameters=HP, seed=0)
    history = predictor.history_
    assert history["select_metric"] == "log_loss" and predictor.eval_metric_ == "accuracy"
    assert history["best_epoch"] == _kept_epoch(history, "val/label/log_loss", greater_is_better=False)
    kept = history["epochs"][history["best_epoch"]]
    assert history["best_score"] == pytest.approx(kept["val/label/accuracy"])  # the eval metric, as reported
    assert predictor.evaluate(tune)["log_loss"] == pytest.approx(kept["val/label/log_loss"], abs=1e-5)  # restored
    by_accuracy = MultimodalPredictor(label="label").fit(
        train, tuning_data=tune, hyperparameters={**HP, "select_epoch_by": "eval_metric"}, seed=0).history_
    assert by_accuracy["select_metric"] == "accuracy"
    assert by_accuracy["best_epoch"] == _kept_epoch(by_accuracy, "val/label/accuracy", greater_is_better=True)
    assert by_accuracy["best_epoch"] != history["best_epoch"]  # the two rules keep different epochs here


def test_a_given_eval_metric_still_picks_the_epoch(tables):
    history = MultimodalPredictor(label="label", eval_metric="roc_auc").fit(
        tables[0], tuning_data=tables[1], hyperparameters=HP).history_
    assert history["select_metric"] == "roc_auc"
    assert history["best_epoch"] == _kept_epoch(history, "val/label/roc_auc", greater_is_better=True)


def test_early_stopping_watches_the_epoch_metric(tables):
    history = MultimodalPredictor(label="label").fit(
        tables[0], tuning_data=tables[1], hyperparameters={**HP, "patience": 1}).history_
    losses = [epoch["val/label/log_loss"] for epoch in history["epochs"]]
    assert len(losses) < HP["max_epochs"]  # stopped: the last epoch's loss is no better than the one before
    assert losses[-1] >= min(losses[:-1])


def test_a_folder_saved_before_the_setting_loads_and_predicts_identically(tables, tmp_path, monkeypatch):
    """A folder as a fit before ``select_epoch_by`` wrote it: no such key in its fit config, no
    ``select_metric`` in its history."""
    table = tables[0]
    predictor = MultimodalPredictor(label="label").fit(table, hyperparameters={**HP, "max_epochs": 2}, seed=0)
    predictor.history_.pop("select_metric")
    with monkeypatch.context() as patch:
        patch.setattr(FitConfig, "to_dict", lambda self: {k: v for k, v in dataclasses.asdict(self).items()
                                                          if k != "select_epoch_by"})
        folder = predictor.save(tmp_path / "old")
    saved = json.loads((folder / "config.json").read_text())
    assert "select_epoch_by" not in saved["fit_config"] and "select_metric" not in saved["history"]
    loaded = MultimodalPredictor.load(folder)
    assert loaded.config_.select_epoch_by == "auto"
    pd.testing.assert_frame_equal(loaded.predict_proba(table), predictor.predict_proba(table))
