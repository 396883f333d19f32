"""Fits that copy an encoder out of another model (``transfer_from`` a source predictor, ``init_from``
an alignment model) when that encoder carries LoRA adapters: the copy is a plain encoder holding the
adapted encoder's function (adapters folded in). Before, both raised a raw ``load_state_dict`` error
(the adapted state's ``base_layer``/``lora_*`` names do not exist in a plain encoder)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from tabletools import TINY_HYPERPARAMETERS, write_table
from tinyaligned import CAPTIONS, save_tiny_clip
from transmodal.predictor import MultimodalPredictor

pytestmark = pytest.mark.slow

HP = {**TINY_HYPERPARAMETERS, "max_epochs": 2}


def _encode(encoder, items) -> torch.Tensor:
    encoder.eval()
    with torch.no_grad():
        return encoder(encoder.prepare(items))  # (N, D)


def test_transfer_from_a_lora_source_copies_the_encoder_as_the_source_predicts(tmp_path):
    frame = write_table(tmp_path, n=60, absolute=True)
    data = frame[["image", "review", "label"]]
    source = MultimodalPredictor(label="label").fit(data, hyperparameters={**HP, "transfer": {"strategy": "lora", "r": 4}},
                                                    seed=0)
    source.save(tmp_path / "source")
    loaded = MultimodalPredictor.load(tmp_path / "source")  # adapters merged for prediction
    hp = {**HP, "transfer_from": {"column": "image", "model": str(tmp_path / "source")}}
    predictor = MultimodalPredictor(label="label").fit(data, hyperparameters=hp, seed=0)
    images = [Image.open(path).convert("RGB") for path in frame["image"][:8]]
    f = predictor.net_.encoder("image")
    assert not any("lora_" in key for key in f.state_dict())
    torch.testing.assert_close(_encode(f, images), _encode(loaded.net_.encoder("image"), images), rtol=1e-4, atol=1e-5)
    predictor.save(tmp_path / "m")
    np.testing.assert_allclose(MultimodalPredictor.load(tmp_path / "m").predict_proba(data).to_numpy(),
                               predictor.predict_proba(data).to_numpy(), atol=1e-5)


def test_init_from_an_alignment_model_with_a_lora_tower(tmp_path):
    from transmodal.alignment.model import AlignmentModel

    rng = np.random.default_rng(0)
    paths = []
    for i in range(len(CAPTIONS)):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), "RGB").save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    pairs = pd.DataFrame({"image": paths, "caption": CAPTIONS})
    aligned = AlignmentModel.from_pretrained(save_tiny_clip(tmp_path / "clip"), columns=("image", "caption"),
                                             lora=("image",), lora_options={"r": 2},
                                             hyperparameters={"max_epochs": 2, "batch_size": 4, "learning_rate": 1e-2})
    aligned.fit(pd.concat([pairs, pairs], ignore_index=True), seed=0)
    aligned.save(tmp_path / "align")
    table = pairs.assign(label=[i % 2 for i in range(len(pairs))])
    predictor = MultimodalPredictor(label="label").fit(
        pd.concat([table] * 3, ignore_index=True), init_from=str(tmp_path / "align"), column_types={"caption": "text"},
        hyperparameters={**HP, "encoders": {"image": {"frozen": True}, "caption": {"frozen": True}}}, seed=0)
    assert predictor.history_["init_from_alignment"]["columns"] == ["image", "caption"]
    images = [Image.open(path).convert("RGB") for path in paths]
    torch.testing.assert_close(_encode(predictor.net_.encoder("image"), images),
                               _encode(AlignmentModel.load(tmp_path / "align").net_.encoder("image"), images),
                               rtol=1e-4, atol=1e-5)
