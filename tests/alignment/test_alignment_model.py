"""AlignmentModel: fitting, locking, zero-shot, retrieval and save/load on a tiny image-text table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import write_table
from transmodal.alignment.model import AlignmentModel, is_alignment_folder
from transmodal.errors import ConfigError

TINY = {"max_epochs": 8, "batch_size": 16, "embed_dim": 16, "learning_rate": 5e-3, "patience": 8,
        "encoders": {"image": {"name": "cnn", "width": 8, "output_dim": 16},
                     "text": {"name": "builtin_text", "output_dim": 16}}}
COLORS = {"cat": "left stripe", "dog": "middle stripe", "eel": "right stripe"}


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("align")
    frame = write_table(folder, n=90)
    frame["caption"] = frame["label"].map(COLORS)
    frame.to_csv(folder / "pairs.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def aligned(pairs):
    return AlignmentModel(columns=("image", "caption"), hyperparameters=TINY).fit(str(pairs / "pairs.csv"), seed=0)


@pytest.mark.slow
def test_zero_shot_picks_the_right_class(aligned, pairs):
    frame = pd.read_csv(pairs / "pairs.csv")
    result = aligned.zero_shot(str(pairs / "pairs.csv"), "image", list(COLORS.values()))
    assert list(result.columns) == ["prediction", *COLORS.values()]
    np.testing.assert_allclose(result[list(COLORS.values())].sum(axis=1), 1.0, atol=1e-5)
    accuracy = (result["prediction"] == frame["caption"]).mean()
    assert accuracy > 0.9


def test_retrieval_counts_every_matching_row(aligned, pairs):
    path = str(pairs / "pairs.csv")
    by_label = aligned.evaluate_retrieval(path, "image", "caption", item_column="label")
    assert by_label["R@1"] > 0.9 and by_label["chance_R@1"] == pytest.approx(1 / 3, abs=0.01)
    indices, scores = aligned.retrieve(path, "image", path, "caption", k=5)
    assert indices.shape == (90, 5) and np.all(np.diff(scores, axis=1) <= 1e-6)


def test_save_load_round_trip(aligned, pairs, tmp_path):
    aligned.save(tmp_path / "m")
    assert is_alignment_folder(tmp_path / "m")
    assert len(pd.read_csv(tmp_path / "m" / "metrics.csv")) == len(aligned.history_["epochs"]) > 0
    assert "epoch" in (tmp_path / "m" / "fit.log").read_text(encoding="utf-8")
    loaded = AlignmentModel.load(tmp_path / "m")
    path = str(pairs / "pairs.csv")
    np.testing.assert_allclose(loaded.encode(path, "image"), aligned.encode(path, "image"), atol=1e-5)


def test_locked_tower_does_not_change(pairs, monkeypatch):
    import transmodal.alignment.training as training

    snapshots = {}
    original = training.fit_alignment

    def spy(net, *args, **kwargs):
        snapshots["before"] = {k: v.clone() for k, v in net.tower("caption").state_dict().items()}
        snapshots["image"] = {k: v.clone() for k, v in net.tower("image").state_dict().items()}
        return original(net, *args, **kwargs)

    monkeypatch.setattr(training, "fit_alignment", spy)
    model = AlignmentModel(columns=("image", "caption"), lock=("caption",), hyperparameters={**TINY, "max_epochs": 2})
    model.fit(str(pairs / "pairs.csv"), seed=0)
    tower = model.net_.tower("caption")
    assert tower.locked and all(not p.requires_grad for p in tower.parameters())
    after = tower.state_dict()
    assert all(torch.equal(snapshots["before"][k], after[k]) for k in after)
    image_after = model.net_.tower("image").state_dict()
    assert any(not torch.equal(snapshots["image"][k], image_after[k]) for k in image_after)


def test_bad_columns_raise():
    with pytest.raises(ConfigError):
        AlignmentModel(columns=("a",)).fit(pd.DataFrame({"a": ["x"]}))
    with pytest.raises(ConfigError):
        AlignmentModel(columns=("a", "b"), lock=("a", "b")).fit(pd.DataFrame({"a": ["x"], "b": ["y"]}))



def test_split_by_item_keeps_items_together_and_its_annotations_resolve():
    import typing
    from pathlib import Path

    from transmodal.alignment.training import split_by_item
    from transmodal.data.readers import Table

    assert typing.get_type_hints(split_by_item)["return"] == tuple[Table, Table]
    frame = pd.DataFrame({"item": [i // 2 for i in range(20)], "text": [f"t{i}" for i in range(20)]})
    train, tune = split_by_item(Table(frame, "<DataFrame>", Path(".")), "item", 0.3, seed=0)
    assert len(train.frame) + len(tune.frame) == 20
    assert not set(train.frame["item"]) & set(tune.frame["item"])

@pytest.mark.slow
def test_three_columns_pretrain_then_fine_tune(pairs, tmp_path):
    """Self-supervised pretraining over every column pair, then a predictor starts from the towers."""
    from tests.conftest import TINY_HYPERPARAMETERS
    from transmodal.predictor import MultimodalPredictor

    frame = pd.read_csv(pairs / "pairs.csv")
    for column in ("image", "audio"):
        frame[column] = [str(pairs / p) for p in frame[column]]
    encoders = {**TINY["encoders"], "audio": TINY_HYPERPARAMETERS["encoders"]["audio"]}
    model = AlignmentModel(columns=("image", "audio", "caption"),
                           hyperparameters={**TINY, "max_epochs": 2, "encoders": encoders})
    model.fit(frame.drop(columns=["label"]), seed=0).save(tmp_path / "pre")
    assert len(model.encode(frame, "audio")) == len(frame)
    predictor = MultimodalPredictor(label="label").fit(frame[["image", "audio", "label"]], init_from=str(tmp_path / "pre"),
                                                       hyperparameters={**TINY_HYPERPARAMETERS, "max_epochs": 1})
    assert predictor.history_["init_from_alignment"]["columns"] == ["image", "audio"]


def test_trainer_options_reach_the_trainer(pairs):
    hp = {**TINY, "max_epochs": 1, "accelerator": "cpu", "devices": 1, "precision": "bf16-mixed"}
    model = AlignmentModel(columns=("image", "caption"), hyperparameters=hp).fit(str(pairs / "pairs.csv"), seed=0)
    assert model.history_["trainer"] == {"accelerator": "CPUAccelerator", "devices": 1, "num_nodes": 1,
                                         "strategy": "SingleDeviceStrategy", "precision": "bf16-mixed",
                                         "device": "cpu"}
    assert model.history_["world_size"] == 1 and len(model.history_["epochs"]) == 1
    assert np.isfinite(model.encode(str(pairs / "pairs.csv"), "image")).all()


def test_unknown_accelerator_raises_lightnings_error(pairs):
    model = AlignmentModel(columns=("image", "caption"), hyperparameters={**TINY, "accelerator": "no-such-device"})
    with pytest.raises(ValueError, match="accelerator"):
        model.fit(str(pairs / "pairs.csv"), seed=0)


def test_locked_tower_encodes_each_row_once(pairs, monkeypatch):
    """The engine's embedding cache: a frozen encoder sees every training and tuning row once per fit."""
    from transmodal.encoders.text_builtin import BuiltinText

    seen = []
    original = BuiltinText.forward

    def counting_forward(self, inputs):
        seen.append(next(iter(inputs.values())).shape[0])
        return original(self, inputs)

    monkeypatch.setattr(BuiltinText, "forward", counting_forward)
    model = AlignmentModel(columns=("image", "caption"), lock=("caption",), hyperparameters={**TINY, "max_epochs": 3})
    model.fit(str(pairs / "pairs.csv"), seed=0)
    assert len(model.history_["epochs"]) == 3
    assert sum(seen) == 90  # 90 rows split into training and tuning rows, each encoded once
