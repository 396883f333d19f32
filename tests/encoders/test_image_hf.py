"""Tests of ``hf_image`` on tiny randomly initialised ViT, ResNet and CLIP checkpoints saved to disk."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: never download

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from transmodal.encoders.base import ENCODERS, build_encoder
from transmodal.encoders.image_hf import pool_vision_output

VIT = dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
           intermediate_size=64)


def _save_processor(folder: Path, size: int = 32) -> None:
    from transformers import ViTImageProcessor

    ViTImageProcessor(size={"height": size, "width": size}).save_pretrained(folder)


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory: pytest.TempPathFactory) -> str:
    from transformers import ViTConfig, ViTModel

    folder = tmp_path_factory.mktemp("tiny_vit")
    torch.manual_seed(0)
    ViTModel(ViTConfig(**VIT)).save_pretrained(folder)
    _save_processor(folder)
    return str(folder)


def _images() -> list[Image.Image | None]:
    rng = np.random.default_rng(0)
    colour = Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8), "RGB")
    grey = Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8), "L")
    return [colour, grey, None]


def test_registered() -> None:
    assert "hf_image" in ENCODERS["image"]


def test_vit_shapes_grey_and_none(tiny_vit: str) -> None:
    encoder = build_encoder("image", {"name": "hf_image", "checkpoint": tiny_vit})
    inputs = encoder.prepare(_images())
    assert list(inputs) == ["pixel_values"]
    assert isinstance(inputs["pixel_values"], torch.Tensor)
    assert inputs["pixel_values"].shape == (3, 3, 32, 32)
    out = encoder(inputs)
    assert encoder.output_dim == 32 and out.shape == (3, 32)
    assert torch.isfinite(out).all()
    assert not torch.allclose(out[0], out[1])
    assert encoder.use_pooler  # the ViT pooler was saved with the checkpoint


def test_frozen_and_layer_groups(tiny_vit: str) -> None:
    frozen = build_encoder("image", {"name": "hf_image", "checkpoint": tiny_vit})
    assert frozen.frozen and not any(p.requires_grad for p in frozen.parameters())
    assert type(frozen).weights_from_reference
    groups = frozen.layer_groups()
    assert len(groups) == 4  # embeddings, layer 0, layer 1, final norm + pooler
    flat = [id(p) for group in groups for p in group]
    assert len(flat) == len(set(flat)) == len(list(frozen.parameters()))

    trainable = build_encoder("image", {"name": "hf_image", "checkpoint": tiny_vit, "frozen": False})
    assert all(p.requires_grad for p in trainable.parameters())
    trainable(trainable.prepare(_images())).sum().backward()


def test_checkpoint_without_pooler_uses_mean_of_tokens(tmp_path: Path) -> None:
    """A ViT saved without pooler (as DINO is) must not use the randomly initialised one."""
    from transformers import ViTConfig, ViTModel

    ViTModel(ViTConfig(**VIT), add_pooling_layer=False).save_pretrained(tmp_path)
    _save_processor(tmp_path)
    encoder = build_encoder("image", {"name": "hf_image", "checkpoint": str(tmp_path)})
    assert not encoder.use_pooler
    inputs = encoder.prepare(_images())
    tokens = encoder.model(pixel_values=inputs["pixel_values"]).last_hidden_state
    assert torch.allclose(encoder(inputs), tokens.mean(dim=1), atol=1e-6)


def test_resnet_pooler_is_flattened(tmp_path: Path) -> None:
    from transformers import ResNetConfig, ResNetModel

    config = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")
    ResNetModel(config).save_pretrained(tmp_path)
    _save_processor(tmp_path)
    encoder = build_encoder("image", {"name": "hf_image", "checkpoint": str(tmp_path)})
    out = encoder(encoder.prepare(_images()))
    assert encoder.output_dim == 16 and out.shape == (3, 16)
    assert len(encoder.layer_groups()) >= 3  # stem, each residual layer


def test_clip_checkpoint_loads_vision_tower_only(tmp_path: Path) -> None:
    from transformers import CLIPConfig, CLIPModel, CLIPVisionModel

    config = CLIPConfig(
        text_config=dict(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=16),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=24, intermediate_size=48,
                           num_hidden_layers=2, num_attention_heads=2),
        projection_dim=8,
    )
    CLIPModel(config).save_pretrained(tmp_path)
    _save_processor(tmp_path)
    encoder = build_encoder("image", {"name": "hf_image", "checkpoint": str(tmp_path)})
    assert isinstance(encoder.model, CLIPVisionModel)
    assert encoder.output_dim == 24
    assert encoder(encoder.prepare(_images())).shape == (3, 24)


def test_trust_remote_code_only_when_asked(tiny_vit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    seen: list[object] = []
    for auto in (transformers.AutoModel, transformers.AutoImageProcessor, transformers.AutoConfig):
        original = auto.from_pretrained

        def spy(*args, _original=original, **kwargs):
            seen.append(kwargs.get("trust_remote_code", "missing"))
            return _original(*args, **kwargs)

        monkeypatch.setattr(auto, "from_pretrained", spy)
    build_encoder("image", {"name": "hf_image", "checkpoint": tiny_vit})
    assert seen and set(seen) == {False}
    seen.clear()
    build_encoder("image", {"name": "hf_image", "checkpoint": tiny_vit, "trust_remote_code": True})
    assert seen and set(seen) == {True}


def test_pool_vision_output_shapes() -> None:
    from types import SimpleNamespace

    tokens = torch.randn(2, 5, 7)
    assert pool_vision_output(SimpleNamespace(pooler_output=None, last_hidden_state=tokens)).shape == (2, 7)
    grid = torch.randn(2, 7, 3, 3)
    assert torch.allclose(pool_vision_output(SimpleNamespace(last_hidden_state=grid)), grid.mean((2, 3)))
    pooled = torch.randn(2, 7, 1, 1)
    assert pool_vision_output(SimpleNamespace(pooler_output=pooled, last_hidden_state=grid)).shape == (2, 7)
