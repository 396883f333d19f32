"""Multi-task predictors: partial labels, multilabel columns, every method in a fit, save and load."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tabletools import TINY_HYPERPARAMETERS, write_table
from transmodal.errors import ConfigError
from transmodal.multitask.architectures.base import ARCHITECTURES
from transmodal.multitask.weighting.base import WEIGHTINGS
from transmodal.predictor import MultimodalPredictor

LABELS = ["label", "big", "tags", "target"]


@pytest.fixture(scope="module")
def frame(tmp_path_factory) -> pd.DataFrame:
    """Text + numbers with four targets: multiclass, binary, multilabel and regression."""
    folder = tmp_path_factory.mktemp("mt")
    frame = write_table(folder, n=60).drop(columns=["image", "audio"])
    y = [i % 3 for i in range(len(frame))]
    frame["big"] = np.where(frame["size"] > 1.0, "yes", "no")
    frame["tags"] = [";".join(["warm"] * (c == 0) + ["loud"] * (c == 1) + ["item"]) for c in y]  # label sets
    frame["target"] = frame["size"] * 3.0 + 1.0
    return frame


def fit(frame, multitask=None, epochs=3, **kwargs):
    hp = {**TINY_HYPERPARAMETERS, "max_epochs": epochs, "learning_rate": 1e-2, "multitask": multitask or {}}
    return MultimodalPredictor(label=LABELS, problem_type={"tags": "multilabel"}).fit(
        frame, hyperparameters=hp, seed=0, **kwargs)


@pytest.fixture(scope="module")
def fitted(frame):
    return fit(frame, {"architecture": "mmoe"}, epochs=8)


@pytest.mark.slow
def test_tasks_have_mixed_types_and_evaluate_per_task(fitted, frame):
    assert [t.problem_type for t in fitted.tasks_] == ["multiclass", "binary", "multilabel", "regression"]
    metrics = fitted.evaluate(frame)
    assert set(metrics) == set(LABELS) | {"summary"}
    assert {"accuracy", "roc_auc", "log_loss"} <= set(metrics["label"])
    assert {"f1_micro", "subset_accuracy", "hamming_loss"} <= set(metrics["tags"])
    assert {"rmse", "mae", "r2"} == set(metrics["target"])
    assert metrics["label"]["accuracy"] > 0.9


def test_multilabel_column_predicts_label_sets(fitted, frame):
    predictions = fitted.predict(frame)
    assert list(predictions.columns) == LABELS
    assert fitted.tasks_[2].classes == ["item", "loud", "warm"]
    sets = [set(p.split(";")) - {""} for p in predictions["tags"]]
    truth = [set(t.split(";")) for t in frame["tags"]]
    assert np.mean([p == t for p, t in zip(sets, truth)]) > 0.8
    proba = fitted.predict_proba(frame)
    assert set(proba) == {"label", "big", "tags"}  # regression has no probabilities
    assert list(proba["tags"].columns) == ["item", "loud", "warm"]


def test_partial_labels_train_the_other_tasks(frame):
    partial = frame.copy()
    partial.loc[:29, "label"] = np.nan  # half the rows lack the multiclass label
    partial.loc[30:, "target"] = np.nan  # the other half lack the regression target
    predictor = fit(partial, epochs=4)
    assert len(predictor.bad_rows_) == 0  # no row dropped: each has some label
    dataset = predictor.dataset(partial, with_targets=True)
    assert (dataset.targets["label"] == -1).sum() == 30 and np.isnan(dataset.targets["target"]).sum() == 30
    metrics = predictor.evaluate(partial)  # unlabelled rows are left out per task
    assert metrics["label"]["accuracy"] > 0.8


def test_rows_without_any_label_are_reported(frame):
    broken = frame.copy()
    broken.loc[3, LABELS] = np.nan
    with pytest.raises(Exception, match="cannot be used"):
        fit(broken, epochs=1)


@pytest.mark.parametrize("weighting", WEIGHTINGS.names())
def test_every_weighting_trains_a_multitask_model(frame, weighting):
    predictor = fit(frame, {"weighting": weighting}, epochs=1)
    epochs = predictor.history_["epochs"]
    assert all(f"weight/{t}" in epochs[-1] for t in LABELS)
    assert predictor.history_["multitask"]["weighting"] == weighting
    assert np.isfinite(epochs[-1]["train_loss"])


@pytest.mark.parametrize("architecture", ARCHITECTURES.names())
def test_every_architecture_trains_a_multitask_model(frame, architecture):
    predictor = fit(frame, {"architecture": architecture, "weighting": "pcgrad"}, epochs=1)
    has_own = any(k.startswith("sharing.") for k in predictor.net_.state_dict())
    assert has_own == (architecture != "hard")
    assert predictor.predict(frame).shape == (len(frame), len(LABELS))


def test_saved_multitask_predictor_reloads_and_predicts_identically(fitted, frame, tmp_path):
    folder = fitted.save(tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    weights = config["history"]["multitask"]["weights"]
    assert set(weights) == set(LABELS) and all(w > 0 for w in weights.values())
    loaded = MultimodalPredictor.load(folder)
    pd.testing.assert_frame_equal(loaded.predict(frame), fitted.predict(frame))
    for task, probs in fitted.predict_proba(frame).items():
        np.testing.assert_allclose(loaded.predict_proba(frame)[task].to_numpy(), probs.to_numpy(), atol=1e-6)
    assert loaded.history_["multitask"] == fitted.history_["multitask"]


def test_unknown_multitask_settings_raise(frame):
    with pytest.raises(ConfigError, match="weighting"):
        fit(frame, {"weighting": "magic"}, epochs=1)
    with pytest.raises(ConfigError, match="unknown multitask setting"):
        fit(frame, {"weightings": "equal"}, epochs=1)
    with pytest.raises(ConfigError, match="unknown task"):
        fit(frame, {"weights": {"nope": 2.0}}, epochs=1)
