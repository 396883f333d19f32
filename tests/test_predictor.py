"""MultimodalPredictor: fit, predict, evaluate, embed, save and load."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tabletools import TINY_HYPERPARAMETERS
from transmodal.errors import DataError, ModelLoadError, NotFittedError
from transmodal.predictor import MultimodalPredictor


def test_fit_learns_and_follows_sklearn_conventions(fitted, table_dir):
    assert fitted.get_params()["label"] == "label"
    assert {s.modality for s in fitted.inputs_} == {"image", "audio", "text", "tabular"}
    metrics = fitted.evaluate(str(table_dir / "table.csv"))
    assert set(metrics) == {"accuracy", "balanced_accuracy", "precision_macro", "recall_macro",
                            "f1_macro", "log_loss", "roc_auc"}
    assert metrics["accuracy"] > 0.9  # every modality carries the class


def test_predict_proba_columns_and_rows_sum_to_one(fitted, table_dir):
    proba = fitted.predict_proba(str(table_dir / "table.csv"))
    assert list(proba.columns) == ["cat", "dog", "eel"]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    predictions = fitted.predict(str(table_dir / "table.csv"))
    assert (predictions.to_numpy() == proba.idxmax(axis=1).to_numpy()).all()
    assert fitted.embed(str(table_dir / "table.csv")).shape == (60, 32)


def test_save_load_predicts_identically(fitted, table_dir, tmp_path):
    fitted.save(tmp_path / "model")
    names = {p.name for p in (tmp_path / "model").iterdir()}
    assert names == {"config.json", "model.safetensors", "manifest.json", "report.json", "report.html", "fit.log",
                     "metrics.csv"}
    loaded = MultimodalPredictor.load(tmp_path / "model")
    table = str(table_dir / "table.csv")
    diff = np.abs(loaded.predict_proba(table).to_numpy() - fitted.predict_proba(table).to_numpy()).max()
    assert diff <= 1e-6


def test_load_refuses_a_pickle(fitted, tmp_path):
    import pickle

    folder = fitted.save(tmp_path / "model")
    (folder / "extra.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ModelLoadError, match="pickle"):
        MultimodalPredictor.load(folder)


def test_load_refuses_a_pickle_renamed_as_json(fitted, tmp_path):
    import pickle

    folder = fitted.save(tmp_path / "model")
    (folder / "notes.json").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ModelLoadError, match="pickle"):
        MultimodalPredictor.load(folder)


def test_load_refuses_tampered_weights(fitted, tmp_path):
    folder = fitted.save(tmp_path / "model")
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="changed after saving"):
        MultimodalPredictor.load(folder)


def test_load_refuses_remote_code_config(fitted, tmp_path):
    from transmodal.persistence import write_manifest

    folder = fitted.save(tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    config["encoders"]["review"]["trust_remote_code"] = True
    (folder / "config.json").write_text(json.dumps(config))
    write_manifest(folder)
    with pytest.raises(ModelLoadError, match="trust_remote_code"):
        MultimodalPredictor.load(folder)


def test_empty_image_cell_is_a_missing_modality(table_dir, tmp_path):
    frame = pd.read_csv(table_dir / "table.csv")
    frame.loc[[0, 5, 7], "image"] = ""
    path = table_dir / "with_empty.csv"
    frame.to_csv(path, index=False)
    predictor = MultimodalPredictor(label="label").fit(str(path), hyperparameters={**TINY_HYPERPARAMETERS, "max_epochs": 1})
    dataset = predictor.dataset(str(path))
    assert not dataset[0]["present"]["image"] and dataset[1]["present"]["image"]
    predictions = predictor.predict(str(path))
    assert len(predictions) == len(frame)  # the rows with no image are kept and predicted


def test_unseen_label_at_evaluation_lists_the_row(fitted, table_dir):
    frame = pd.read_csv(table_dir / "table.csv")
    frame.loc[4, "label"] = "fox"
    frame.to_csv(table_dir / "unseen.csv", index=False)
    with pytest.raises(DataError) as err:
        fitted.evaluate(str(table_dir / "unseen.csv"))
    assert err.value.bad_rows[0].row == 4 and err.value.bad_rows[0].column == "label"
    assert "fox" in str(err.value)


def test_not_fitted_raises():
    with pytest.raises(NotFittedError):
        MultimodalPredictor(label="y").predict(pd.DataFrame({"x": [1.0]}))


@pytest.mark.slow
def test_same_seed_gives_same_model(table_dir):
    path = str(table_dir / "table.csv")
    hp = {**TINY_HYPERPARAMETERS, "max_epochs": 1}
    a = MultimodalPredictor(label="label").fit(path, hyperparameters=hp, seed=3).predict_proba(path)
    b = MultimodalPredictor(label="label").fit(path, hyperparameters=hp, seed=3).predict_proba(path)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-6)


def test_regression_reports_regression_metrics(table_dir):
    frame = pd.read_csv(table_dir / "table.csv").drop(columns=["label"])
    frame["target"] = frame["size"] * 2.0 + 1.0 + np.linspace(0, 0.01, len(frame))
    predictor = MultimodalPredictor(label="target").fit(
        frame[["size", "color", "target"]], hyperparameters={**TINY_HYPERPARAMETERS, "max_epochs": 2})
    assert predictor.tasks_[0].problem_type == "regression"
    assert set(predictor.evaluate(frame[["size", "color", "target"]])) == {"rmse", "mae", "r2"}
