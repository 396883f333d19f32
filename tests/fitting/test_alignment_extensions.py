"""init_from=ALIGN_DIR, align_weight and the knowledge-transfer network on a tiny table."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import TINY_HYPERPARAMETERS, write_table
from transmodal.alignment.model import AlignmentModel
from transmodal.predictor import MultimodalPredictor

HP = {**TINY_HYPERPARAMETERS, "max_epochs": 5}
ALIGN_HP = {"max_epochs": 6, "batch_size": 16, "embed_dim": 16, "learning_rate": 5e-3,
            "encoders": TINY_HYPERPARAMETERS["encoders"]}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("transfer")
    frame = write_table(folder, n=90, absolute=True)
    frame = frame[["image", "audio", "label"]]
    AlignmentModel(columns=("image", "audio"), hyperparameters=ALIGN_HP).fit(frame, seed=0).save(folder / "align")
    teacher = MultimodalPredictor(label="label").fit(frame[["image", "label"]], hyperparameters=HP, seed=0)
    teacher.save(folder / "teacher")
    return folder, frame


@pytest.mark.slow
def test_init_from_alignment_loads_the_towers(setup):
    folder, frame = setup
    aligned = AlignmentModel.load(folder / "align")
    hp = {**HP, "encoders": {**HP["encoders"], "image": {"name": "cnn", "frozen": True}}}
    predictor = MultimodalPredictor(label="label").fit(frame, init_from=str(folder / "align"), hyperparameters=hp)
    assert predictor.history_["init_from_alignment"]["columns"] == ["image", "audio"]
    image = predictor.net_.encoder("image").state_dict()
    expected = aligned.net_.encoder("image").state_dict()
    assert all(torch.equal(image[k], expected[k]) for k in expected)  # frozen: unchanged by training


@pytest.mark.slow
def test_align_weight_adds_a_loss_and_saves_cleanly(setup, tmp_path):
    _, frame = setup
    predictor = MultimodalPredictor(label="label").fit(frame, hyperparameters={**HP, "align_weight": 0.5})
    assert "train/align" in predictor.history_["epochs"][0]
    predictor.save(tmp_path / "m")
    MultimodalPredictor.load(tmp_path / "m")


@pytest.mark.slow
def test_transfer_network_uses_neighbours_when_the_source_column_is_missing(setup, tmp_path):
    folder, frame = setup
    hp = {**HP, "transfer_from": {"column": "image", "model": str(folder / "teacher"), "align": str(folder / "align")}}
    predictor = MultimodalPredictor(label="label").fit(frame, hyperparameters=hp, seed=0)
    assert predictor.spec_.architecture.fusion == "transfer" and predictor.config_.fusion == "concat"
    assert predictor.net_.fusion.slot and predictor.net_.fusion.trust is None  # defaults: Zhat in its own slot
    assert predictor.net_.fusion.alone_share == 0.5  # and single views
    assert predictor.history_["transfer_from"]["query_alone_weight"] == 2.0  # and the Y-alone loss
    assert "train/transfer/query_alone" in predictor.history_["epochs"][0]
    without_image = frame.assign(image=np.nan)
    accuracy = (predictor.predict(without_image) == frame["label"]).mean()
    assert accuracy > 0.8
    # the bank and the aligned tower are saved: the loaded model imputes the same way
    predictor.save(tmp_path / "m")
    loaded = MultimodalPredictor.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(without_image).to_numpy(),
                               predictor.predict_proba(without_image).to_numpy(), atol=1e-5)



@pytest.mark.slow
def test_transfer_network_with_single_views_saves_and_loads(setup, tmp_path):
    """alone_share (issue 17): the fusion is built with it, rows with the image average the full view
    and the image alone, and the loaded model predicts the same with and without the image."""
    folder, frame = setup
    hp = {**HP, "transfer_from": {"column": "image", "model": str(folder / "teacher"), "align": str(folder / "align"),
                                  "alone_share": 0.5}}
    predictor = MultimodalPredictor(label="label").fit(frame, hyperparameters=hp, seed=0)
    fusion = predictor.net_.fusion
    assert predictor.spec_.architecture.fusion_options["alone_share"] == 0.5
    assert fusion.views_with_z == ("full", "source_alone") and fusion.views_with_estimate == ("full",)
    without_image = frame.assign(image=np.nan)
    assert (predictor.predict(without_image) == frame["label"]).mean() > 0.8
    assert (predictor.predict(frame) == frame["label"]).mean() > 0.8
    predictor.save(tmp_path / "m")
    loaded = MultimodalPredictor.load(tmp_path / "m")
    assert loaded.net_.fusion.alone_share == 0.5
    for rows in (frame, without_image):
        np.testing.assert_allclose(loaded.predict_proba(rows).to_numpy(), predictor.predict_proba(rows).to_numpy(),
                                   atol=1e-5)


@pytest.mark.slow
def test_transfer_network_with_a_query_alone_loss_saves_and_loads(setup, tmp_path):
    """query_alone_weight and average_query_alone (issue 17): the Y-alone term is trained and logged,
    rows without the image average the full view and Y alone, and the loaded model predicts the same."""
    folder, frame = setup
    hp = {**HP, "transfer_from": {"column": "image", "model": str(folder / "teacher"), "align": str(folder / "align"),
                                  "query_alone_weight": 1.0, "average_query_alone": True}}
    predictor = MultimodalPredictor(label="label").fit(frame, hyperparameters=hp, seed=0)
    assert all(epoch["train/transfer/query_alone"] > 0 for epoch in predictor.history_["epochs"])
    fusion = predictor.net_.fusion
    assert fusion.views_with_estimate == ("full", "query_alone")
    without_image = frame.assign(image=np.nan)
    assert (predictor.predict(without_image) == frame["label"]).mean() > 0.8
    predictor.save(tmp_path / "m")
    loaded = MultimodalPredictor.load(tmp_path / "m")
    assert loaded.net_.fusion.views_with_estimate == ("full", "query_alone")
    for rows in (frame, without_image):
        np.testing.assert_allclose(loaded.predict_proba(rows).to_numpy(), predictor.predict_proba(rows).to_numpy(),
                                   atol=1e-5)
