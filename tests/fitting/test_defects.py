"""Three wiring defects of the hook-based fit (issue 14), each reproduced on the commit before the
fit pipeline: with stages in one explicit order and the network built once, they cannot recur."""

from __future__ import annotations

import numpy as np
import pytest

from tabletools import TINY_HYPERPARAMETERS, write_table
from transmodal.predictor import MultimodalPredictor

pytestmark = pytest.mark.slow

HP = {**TINY_HYPERPARAMETERS, "max_epochs": 2}


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("defects")
    frame = write_table(folder, n=60, absolute=True)
    source = MultimodalPredictor(label="label").fit(frame[["image", "review", "label"]], hyperparameters=HP, seed=0)
    source.save(folder / "source")
    return folder, frame


def test_init_from_with_align_weight_trains_and_saves(tables, tmp_path):
    """(a) The transfer hook rebuilt the network after the alignment hook had attached its projection
    head to it, so the first training step failed looking for the head."""
    folder, frame = tables
    data = frame[["image", "review", "label"]]
    predictor = MultimodalPredictor(label="label").fit(
        data, init_from=str(folder / "source"), hyperparameters={**HP, "align_weight": 0.5}, seed=0)
    assert "train/align" in predictor.history_["epochs"][0]
    assert predictor.history_["transfer"]["inputs"] == ["image", "review"]
    predictor.save(tmp_path / "m")
    loaded = MultimodalPredictor.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(data).to_numpy(), predictor.predict_proba(data).to_numpy(),
                               atol=1e-5)


def test_distillation_record_reaches_the_saved_model(tables, tmp_path):
    """(b) The distillation hook wrote ``history["distillation"]`` before training, and the training
    history then replaced the whole dict, so the record never reached the saved model."""
    folder, frame = tables
    pairs = frame[["image", "audio", "review"]]
    student = MultimodalPredictor(label="label").fit(pairs, teacher=str(folder / "source"), student_column="audio",
                                                     hyperparameters=HP, seed=0)
    student.save(tmp_path / "student")
    record = MultimodalPredictor.load(tmp_path / "student").history_["distillation"]
    assert record["student_column"] == "audio" and record["teacher"] == str(folder / "source")


def test_transfer_from_record_reaches_the_saved_model(tables, tmp_path):
    """(b) The same for ``history["transfer_from"]`` of the knowledge-transfer network."""
    folder, frame = tables
    hp = {**HP, "transfer_from": {"column": "image", "model": str(folder / "source")}}
    predictor = MultimodalPredictor(label="label").fit(frame[["image", "review", "label"]], hyperparameters=hp, seed=0)
    predictor.save(tmp_path / "m")
    record = MultimodalPredictor.load(tmp_path / "m").history_["transfer_from"]
    assert record["column"] == "image" and record["query"] == "review"


def test_feature_memo_applies_to_the_network_that_trains(tables, tmp_path, monkeypatch):
    """(c) The memo was attached to the first network, which the transfer step then replaced: the
    trained network's frozen encoders silently encoded every row again."""
    folder, frame = tables
    # an empty store of this test's own: with every cell already stored, no encoder forward would run
    monkeypatch.setenv("TRANSMODAL_CACHE", str(tmp_path / "store"))
    hp = {**HP, "transfer": {"strategy": "linear_probe"}}
    predictor = MultimodalPredictor(label="label").fit(frame[["image", "review", "label"]], hyperparameters=hp,
                                                       init_from=str(folder / "source"), feature_memo=True, seed=0)
    for name in ("image", "review"):
        encoder = predictor.net_.encoder(name)
        assert encoder.frozen
        assert hasattr(encoder.forward, "memo") and len(encoder.forward.memo) > 0, name
