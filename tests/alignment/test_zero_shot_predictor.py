"""Acceptance b) of issue 17: ``MultimodalPredictor.from_zero_shot`` gives a predictor whose head is
the class prompts' embeddings; it predicts as the aligned model's zero-shot does, saves and loads
identically, and a few-shot ``fit`` from it changes the head and keeps the frozen tower."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tinyaligned import CLASSES, TEMPLATES
from transmodal.alignment.model import AlignmentModel
from transmodal.errors import ConfigError
from transmodal.fusion.base import module_key
from transmodal.predictor import MultimodalPredictor

SORTED = sorted(CLASSES)


@pytest.fixture(scope="module")
def aligned(checkpoints):
    return AlignmentModel.from_pretrained(checkpoints["clip"], columns=("image", "caption"))


@pytest.fixture(scope="module")
def labelled(image_table) -> pd.DataFrame:
    frame, _ = image_table
    return frame.assign(label=[CLASSES[i % 3] for i in range(len(frame))])


@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_predicts_the_aligned_models_zero_shot(family, checkpoints, labelled):
    model = AlignmentModel.from_pretrained(checkpoints[family], columns=("image", "caption"))
    predictor = MultimodalPredictor.from_zero_shot(model, column="image", classes=CLASSES, templates=TEMPLATES)
    proba = predictor.predict_proba(labelled)
    assert list(proba.columns) == SORTED and predictor.spec_.architecture.fusion == "aligned"
    zero_shot = model.zero_shot(labelled, "image", SORTED, TEMPLATES)[SORTED].to_numpy(dtype=np.float64)
    if family == "siglip":  # the predictor's softmax ranks as SigLIP's sigmoids do
        np.testing.assert_array_equal(proba.to_numpy().argmax(1), zero_shot.argmax(1))
    else:
        np.testing.assert_allclose(proba.to_numpy(), zero_shot, atol=1e-5)
    assert list(predictor.predict(labelled)) == [SORTED[i] for i in zero_shot.argmax(1)]
    metrics = predictor.evaluate(labelled)
    assert 0 <= metrics["accuracy"] <= 1


def test_saves_and_loads_identically(aligned, labelled, tmp_path):
    predictor = MultimodalPredictor.from_zero_shot(aligned, column="image", classes=CLASSES, templates=TEMPLATES)
    predictor.save(tmp_path / "zs")
    assert (tmp_path / "zs" / "model.safetensors").stat().st_size < 10_000  # the tower is kept by reference
    loaded = MultimodalPredictor.load(tmp_path / "zs")
    pd.testing.assert_frame_equal(loaded.predict_proba(labelled), predictor.predict_proba(labelled), atol=1e-6)
    pd.testing.assert_series_equal(loaded.predict(labelled), predictor.predict(labelled))
    assert loaded.history_["zero_shot"]["classes"] == SORTED


def test_few_shot_fit_changes_the_head_and_keeps_the_frozen_tower(aligned, labelled):
    predictor = MultimodalPredictor.from_zero_shot(aligned, column="image", classes=CLASSES, templates=TEMPLATES)
    head = predictor.net_.heads[module_key("label")].linear.weight.detach().clone()
    encoder = {k: v.clone() for k, v in predictor.net_.encoder("image").state_dict().items()}
    rows = pd.concat([labelled] * 3, ignore_index=True)
    predictor.fit(rows, hyperparameters={"max_epochs": 3, "holdout_fraction": 0.0, "batch_size": 6,
                                         "learning_rate": 0.05})
    assert predictor.history_["transfer"]["heads"] == ["label"]  # it started from the zero-shot head ...
    after = predictor.net_.heads[module_key("label")].linear.weight.detach()
    assert not torch.allclose(after, head)  # ... and trained it
    assert predictor.spec_.architecture.fusion == "aligned"
    assert all(torch.equal(v, encoder[k]) for k, v in predictor.net_.encoder("image").state_dict().items())
    start = head.norm(dim=1) / head.norm(dim=1).mean()
    assert torch.allclose(start, torch.ones_like(start), atol=1e-4)  # rows of one scale: unit prompts x logit scale


def test_a_trained_alignment_models_projection_is_kept(labelled, tmp_path):
    from tabletools import TINY_HYPERPARAMETERS

    pairs = pd.concat([labelled] * 4, ignore_index=True)
    encoders = {"image": TINY_HYPERPARAMETERS["encoders"]["image"], "text": {"name": "builtin_text", "output_dim": 16}}
    model = AlignmentModel(columns=("image", "caption"), hyperparameters={
        "max_epochs": 2, "batch_size": 8, "embed_dim": 8, "encoders": encoders}).fit(pairs, tuning_data=labelled)
    predictor = MultimodalPredictor.from_zero_shot(model, column="image", classes=CLASSES, label="kind")
    expected = model.zero_shot(labelled, "image", SORTED)[SORTED].to_numpy(dtype=np.float64)
    np.testing.assert_allclose(predictor.predict_proba(labelled).to_numpy(), expected, atol=1e-5)


def test_bad_requests_are_config_errors(aligned):
    with pytest.raises(ConfigError, match="two distinct"):
        MultimodalPredictor.from_zero_shot(aligned, column="image", classes=["cat", "cat"])
    with pytest.raises(ConfigError, match="aligned column"):
        MultimodalPredictor.from_zero_shot(aligned, column="photo", classes=CLASSES)
    with pytest.raises(ConfigError, match=r"\{\}"):
        MultimodalPredictor.from_zero_shot(aligned, column="image", classes=CLASSES, templates=["a photo"])
