"""Acceptance a) of issue 17: a pretrained CLIP, SigLIP or CLAP model mapped onto two columns scores
zero-shot and retrieval exactly as ``transformers``' own model and processor do (tiny random
checkpoints saved with ``save_pretrained``); it saves, loads, and fine-tunes (full, LiT, LoRA)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tinyaligned import CAPTIONS, CLASSES, TEMPLATES
from transmodal.alignment.model import AlignmentModel
from transmodal.errors import ConfigError


def _hf(folder: str):
    from transformers import AutoModel, AutoProcessor

    return AutoModel.from_pretrained(folder).eval(), AutoProcessor.from_pretrained(folder)


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True)


def _text_kwargs(family: str) -> dict:
    return {"padding": "max_length", "max_length": 16} if family == "siglip" else {"padding": True}


@torch.no_grad()
def _hf_image_text(family: str, folder: str, images, texts) -> torch.Tensor:
    """transformers' own logits_per_image (N, T) on the same images and texts."""
    model, processor = _hf(folder)
    inputs = processor(text=texts, images=images, return_tensors="pt", **_text_kwargs(family))
    return model(**inputs).logits_per_image


@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_image_text_zero_shot_equals_transformers(family, checkpoints, image_table):
    frame, images = image_table
    aligned = AlignmentModel.from_pretrained(checkpoints[family], columns=("image", "caption"))
    ours = aligned.zero_shot(frame, "image", CLASSES, ["a photo of {}"])
    logits = _hf_image_text(family, checkpoints[family], images, [f"a photo of {c}" for c in CLASSES])
    expected = torch.sigmoid(logits) if family == "siglip" else torch.softmax(logits, dim=-1)
    np.testing.assert_allclose(ours[CLASSES].to_numpy(dtype=np.float64), expected.numpy(), atol=1e-5)
    assert list(ours["prediction"]) == [CLASSES[i] for i in expected.argmax(dim=1).tolist()]


@pytest.mark.parametrize("family", ["clip", "siglip"])
@torch.no_grad()
def test_template_ensemble_equals_averaged_transformers_text_embeddings(family, checkpoints, image_table):
    frame, images = image_table
    aligned = AlignmentModel.from_pretrained(checkpoints[family], columns=("image", "caption"))
    ours = aligned.zero_shot(frame, "image", CLASSES, TEMPLATES)[CLASSES].to_numpy(dtype=np.float64)
    model, processor = _hf(checkpoints[family])
    prompts = [t.format(c) for c in CLASSES for t in TEMPLATES]
    text = processor(text=prompts, return_tensors="pt", **_text_kwargs(family))
    classes = _unit(_unit(model.get_text_features(**text).pooler_output).view(len(CLASSES), len(TEMPLATES), -1).mean(1))
    rows = _unit(model.get_image_features(**processor(images=images, return_tensors="pt")).pooler_output)
    logits = model.logit_scale.exp() * rows @ classes.t()
    expected = torch.sigmoid(logits + model.logit_bias) if family == "siglip" else torch.softmax(logits, dim=-1)
    np.testing.assert_allclose(ours, expected.numpy(), atol=1e-5)


@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_image_text_retrieval_rankings_equal_transformers(family, checkpoints, image_table):
    frame, images = image_table
    aligned = AlignmentModel.from_pretrained(checkpoints[family], columns=("image", "caption"))
    logits = _hf_image_text(family, checkpoints[family], images, CAPTIONS)  # (N images, N captions)
    indices, _ = aligned.retrieve(frame, "image", frame, "caption", k=len(CAPTIONS))
    np.testing.assert_array_equal(indices, torch.argsort(logits, dim=1, descending=True).numpy())
    indices, _ = aligned.retrieve(frame, "caption", frame, "image", k=len(CAPTIONS))
    np.testing.assert_array_equal(indices, torch.argsort(logits.t(), dim=1, descending=True).numpy())
    metrics = aligned.evaluate_retrieval(frame, "image", "caption")
    assert 0 <= metrics["R@1"] <= 1


@torch.no_grad()
def test_clap_zero_shot_and_retrieval_equal_transformers(checkpoints, audio_table):
    frame, waves = audio_table
    aligned = AlignmentModel.from_pretrained(checkpoints["clap"], columns=("audio", "text"))
    ours = aligned.zero_shot(frame, "audio", CLASSES, ["the sound of a {}"])
    model, processor = _hf(checkpoints["clap"])
    inputs = processor(text=[f"the sound of a {c}" for c in CLASSES], audio=waves, sampling_rate=16_000,
                       return_tensors="pt", padding=True)
    expected = model(**inputs).logits_per_audio.softmax(dim=-1)
    np.testing.assert_allclose(ours[CLASSES].to_numpy(dtype=np.float64), expected.numpy(), atol=1e-5)
    inputs = processor(text=CAPTIONS, audio=waves, sampling_rate=16_000, return_tensors="pt", padding=True)
    logits = model(**inputs).logits_per_audio  # (N clips, N texts)
    indices, _ = aligned.retrieve(frame, "audio", frame, "text", k=len(CAPTIONS))
    np.testing.assert_array_equal(indices, torch.argsort(logits, dim=1, descending=True).numpy())


def test_columns_must_fit_the_towers(checkpoints):
    with pytest.raises(ConfigError, match="towers"):
        AlignmentModel.from_pretrained(checkpoints["clip"], columns=("audio", "text"),
                                       column_types={"audio": "audio", "text": "text"})
    with pytest.raises(ConfigError, match="two distinct columns"):
        AlignmentModel.from_pretrained(checkpoints["clip"], columns=("image", "a", "b"))
    model = AlignmentModel.from_pretrained(checkpoints["clip"], columns=("caption", "photo"),
                                           column_types={"photo": "image"})
    assert model.column_types_ == {"caption": "text", "photo": "image"}


@pytest.mark.parametrize("base_weights", ["reference", "copy"])
def test_save_load_keeps_scores(base_weights, checkpoints, image_table, tmp_path):
    frame, _ = image_table
    aligned = AlignmentModel.from_pretrained(checkpoints["siglip"], columns=("image", "caption"))
    before = aligned.zero_shot(frame, "image", CLASSES, TEMPLATES)
    aligned.save(tmp_path / "m", base_weights=base_weights)
    size = (tmp_path / "m" / "model.safetensors").stat().st_size
    assert (size > 100_000) == (base_weights == "copy")  # by reference: only the temperature and bias
    loaded = AlignmentModel.load(tmp_path / "m")
    pd.testing.assert_frame_equal(loaded.zero_shot(frame, "image", CLASSES, TEMPLATES), before)
    assert loaded.logit_bias_ == pytest.approx(aligned.logit_bias_)


def test_copied_weights_do_not_read_the_checkpoint_weights(checkpoints, image_table, tmp_path):
    import shutil

    frame, _ = image_table
    base = shutil.copytree(checkpoints["clip"], tmp_path / "clip")
    aligned = AlignmentModel.from_pretrained(base, columns=("image", "caption"))
    before = aligned.encode(frame, "image")
    aligned.save(tmp_path / "m", base_weights="copy")
    (base / "model.safetensors").unlink()  # the config and processor files stay
    np.testing.assert_allclose(AlignmentModel.load(tmp_path / "m").encode(frame, "image"), before, atol=1e-6)


def test_reference_weights_are_checked_on_load(checkpoints, image_table, tmp_path):
    import shutil

    from transmodal.errors import ModelLoadError

    base = shutil.copytree(checkpoints["clip"], tmp_path / "clip")
    AlignmentModel.from_pretrained(base, columns=("image", "caption")).save(tmp_path / "m")
    from transformers import CLIPModel

    model = CLIPModel.from_pretrained(base)
    with torch.no_grad():
        model.logit_scale.add_(1.0)
    model.save_pretrained(base)
    with pytest.raises(ModelLoadError, match="changed"):
        AlignmentModel.load(tmp_path / "m")


def _encoder_state(model, column: str) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.net_.encoder(column).state_dict().items()}


def _changed(before: dict, after: dict, keys=None) -> bool:
    keys = keys if keys is not None else [k for k in before if k in after]
    return any(not torch.equal(before[k], after[k]) for k in keys)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["full", "lit", "lora"])
def test_fine_tuning_full_locked_or_lora(mode, checkpoints, image_table, tmp_path):
    from transmodal.losses.contrastive import InfoNCELoss

    frame, _ = image_table
    pairs = pd.concat([frame, frame], ignore_index=True)
    options = {"lit": {"lock": ("caption",)}, "lora": {"lora": ("image",), "lora_options": {"r": 2}}}.get(mode, {})
    model = AlignmentModel.from_pretrained(checkpoints["clip"], columns=("image", "caption"),
                                           hyperparameters={"max_epochs": 2, "batch_size": 4, "patience": 2,
                                                            "learning_rate": 1e-2, "encoder_learning_rate": 1e-2},
                                           **options)
    assert isinstance(model.net_.loss, InfoNCELoss)
    image, caption = _encoder_state(model, "image"), _encoder_state(model, "caption")
    scale = model.logit_scale_
    model.fit(pairs, tuning_data=frame)
    image_after, caption_after = _encoder_state(model, "image"), _encoder_state(model, "caption")
    assert model.logit_scale_ != scale  # the temperature trains in every mode
    assert _changed(caption, caption_after) == (mode != "lit")  # only a locked tower keeps its weights
    if mode == "lora":
        assert any("lora_" in k for k in image_after)
        base_after = {k.replace(".base_layer", ""): v for k, v in image_after.items() if "lora_" not in k}
        assert set(base_after) == set(image) and not _changed(image, base_after)  # the base weights stay
        assert _changed({k: v for k, v in image_after.items() if "lora_B" in k},
                        {k: torch.zeros_like(v) for k, v in image_after.items() if "lora_B" in k})
    else:
        assert _changed(image, image_after)
    before = model.encode(frame, "image")
    model.save(tmp_path / "m")
    loaded = AlignmentModel.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.encode(frame, "image"), before, atol=1e-5)
    np.testing.assert_allclose(loaded.encode(frame, "caption"), model.encode(frame, "caption"), atol=1e-5)


@pytest.mark.slow
def test_siglip_fine_tunes_with_the_sigmoid_loss(checkpoints, image_table):
    from transmodal.losses.contrastive import SigLIPLoss

    frame, _ = image_table
    model = AlignmentModel.from_pretrained(checkpoints["siglip"], columns=("image", "caption"), lock=("caption",),
                                           hyperparameters={"max_epochs": 1, "batch_size": 6})
    assert isinstance(model.net_.loss, SigLIPLoss) and model.loss == "siglip"
    bias = model.logit_bias_
    model.fit(pd.concat([frame, frame], ignore_index=True), tuning_data=frame)
    assert model.logit_bias_ != bias


@torch.no_grad()
def test_class_descriptions_average_every_description_and_template(checkpoints, image_table):
    frame, images = image_table
    aligned = AlignmentModel.from_pretrained(checkpoints["clip"], columns=("image", "caption"))
    descriptions = {"cat": ["red cat", "blue cat", "cat"], "dog": ["dog"]}  # bird: described by its name
    ours = aligned.zero_shot(frame, "image", CLASSES, TEMPLATES[:2], descriptions=descriptions)
    model, processor = _hf(checkpoints["clip"])
    classes = []
    for name in CLASSES:
        prompts = [t.format(d) for d in descriptions.get(name, [name]) for t in TEMPLATES[:2]]
        text = _unit(model.get_text_features(**processor(text=prompts, return_tensors="pt", padding=True)).pooler_output)
        classes.append(_unit(text.mean(0)))
    rows = _unit(model.get_image_features(**processor(images=images, return_tensors="pt")).pooler_output)
    expected = torch.softmax(model.logit_scale.exp() * rows @ torch.stack(classes).t(), dim=-1)
    np.testing.assert_allclose(ours[CLASSES].to_numpy(dtype=np.float64), expected.numpy(), atol=1e-5)
