"""``unimodal_loss_weight``: each input alone through the fusion and heads as an extra loss."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from tabletools import TINY_HYPERPARAMETERS, write_table
from transmodal import MultimodalPredictor
from transmodal.errors import ConfigError
from transmodal.fitting.extensions.unimodal_loss import UnimodalTerm

WEIGHT = 0.7


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unimodal")
    frame = write_table(folder, n=48)[["image", "audio", "label"]]
    frame[["image", "audio"]] = frame[["image", "audio"]].map(lambda p: str(folder / p))
    hp = {**TINY_HYPERPARAMETERS, "max_epochs": 2, "fusion": "late", "unimodal_loss_weight": WEIGHT,
          "modality_dropout": 0.3}
    return MultimodalPredictor(label="label").fit(frame, hyperparameters=hp, seed=0), frame


def test_terms_are_logged_per_input(fitted):
    predictor, _ = fitted
    last = predictor.history_["epochs"][-1]
    assert {"train/unimodal/image", "train/unimodal/audio"} <= set(last)
    assert all(last[f"train/unimodal/{n}"] > 0 for n in ("image", "audio"))


def test_term_is_the_task_loss_with_only_that_input_present(fitted):
    """The term for ``image`` equals WEIGHT / 2 * cross-entropy of the full net run with audio masked."""
    from transmodal.engine.training import make_loader

    predictor, frame = fitted
    net = predictor.net_.eval()
    loader = make_loader(predictor.dataset(frame, with_targets=True), net, predictor.config_, shuffle=False)
    batch = next(iter(loader))
    masks = dict(batch["masks"])
    masks["audio"] = masks["audio"].clone()
    masks["audio"][:5] = False  # some rows lack audio: they still count for the image term only
    task = net.tasks[0].name
    module = SimpleNamespace(net=net, task_losses=lambda b, o: {
        "task": F.cross_entropy(o["outputs"][task], b["targets"][task])})
    with torch.no_grad():
        out = net(batch["inputs"], masks)
        terms = UnimodalTerm(WEIGHT)(module, batch, out)
        image_only = net(batch["inputs"], {"image": masks["image"], "audio": torch.zeros_like(masks["audio"])})
        audio_rows = masks["audio"]
        audio_only = net(batch["inputs"], {"image": torch.zeros_like(masks["image"]), "audio": masks["audio"]})
    targets = batch["targets"][task]
    expected_image = WEIGHT / 2 * F.cross_entropy(image_only["outputs"][task], targets)
    expected_audio = WEIGHT / 2 * F.cross_entropy(audio_only["outputs"][task][audio_rows], targets[audio_rows])
    torch.testing.assert_close(terms["unimodal/image"], expected_image)
    torch.testing.assert_close(terms["unimodal/audio"], expected_audio)


def test_single_input_is_refused(tmp_path):
    frame = write_table(tmp_path, n=12)[["image", "label"]]
    frame["image"] = [str(tmp_path / p) for p in frame["image"]]
    with pytest.raises(ConfigError, match="unimodal_loss_weight"):
        MultimodalPredictor(label="label").fit(
            frame, hyperparameters={**TINY_HYPERPARAMETERS, "max_epochs": 1, "unimodal_loss_weight": 1.0})
