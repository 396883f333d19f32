"""What a fit tells its user (issue 20): the inferred column types and the encoders before training,
a line when frozen encoders fill the embedding cache, one line per epoch and the device; the model folder keeps
them as ``fit.log`` and the epochs as ``metrics.csv`` (acceptance d)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from tabletools import TINY_HYPERPARAMETERS, write_small
from transmodal.predictor import MultimodalPredictor

HP = {**TINY_HYPERPARAMETERS, "max_epochs": 2,
      "encoders": {**TINY_HYPERPARAMETERS["encoders"], "image": {"name": "cnn", "width": 8, "output_dim": 16,
                                                                  "frozen": True}}}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("log")
    return MultimodalPredictor(label="label").fit(write_small(folder), hyperparameters=HP), folder


def _position(lines: list[str], text: str) -> int:
    return next(i for i, line in enumerate(lines) if text in line)


def test_the_log_tells_types_and_encoders_before_training(fitted):
    predictor, _ = fitted
    lines = predictor.fit_log_
    types = _position(lines, "column types")
    assert "image image, size numeric" in lines[types]
    assert _position(lines, "label label: multiclass, 3 classes") < _position(lines, "training on")
    encoders = _position(lines, "loading the encoders")
    assert "image cnn (frozen)" in lines[encoders] and "tabular mlp" in lines[encoders]
    assert types < encoders < _position(lines, "training on cpu") < _position(lines, "epoch 1/2")
    # the frozen image encoder's features are encoded once, before the first epoch (engine/encoding.py)
    assert _position(lines, "cell(s) of input 'image'") < _position(lines, "epoch 1/2")
    assert _position(lines, "epoch 2/2") < _position(lines, "kept (tuning accuracy")
    assert all(" INFO transmodal." in line for line in lines)  # timestamp, level, logger, message


def test_the_device_is_saved(fitted):
    predictor, _ = fitted
    assert predictor.history_["trainer"]["device"] == "cpu"
    assert predictor.history_["trainer"]["accelerator"] == "CPUAccelerator"


def test_the_model_folder_holds_fit_log_and_metrics_csv(fitted, tmp_path):
    predictor, _ = fitted
    folder = predictor.save(tmp_path / "model")
    assert (folder / "fit.log").read_text(encoding="utf-8").splitlines() == predictor.fit_log_
    metrics = pd.read_csv(folder / "metrics.csv")
    assert list(metrics["epoch"]) == [1, 2] and list(metrics.columns[:4]) == ["epoch", "epoch_seconds", "train_loss",
                                                                          "val_score"]
    assert list(metrics["val_score"]) == pytest.approx([e["val_score"] for e in predictor.history_["epochs"]])
    loaded = MultimodalPredictor.load(folder)  # the manifest lists both files
    assert loaded.history_["trainer"]["device"] == "cpu"


def test_python_callers_see_the_lines_through_logging(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="transmodal"):
        MultimodalPredictor(label="label").fit(write_small(tmp_path), hyperparameters={**HP, "max_epochs": 1})
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("transmodal.")]
    assert any(m.startswith("column types") for m in messages) and any(m.startswith("epoch 1/1") for m in messages)
    assert logging.getLogger("transmodal").level == logging.NOTSET  # a fit leaves the logger as it found it
    assert not logging.getLogger("transmodal").handlers
