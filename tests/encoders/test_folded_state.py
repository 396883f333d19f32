"""``folded_state``: an adapted encoder's state as the same encoder without adapters holds it, so that
an encoder built without adapters computes what the adapted one computes (a LoRA source predictor's
encoder copied into a knowledge-transfer network, a LoRA tower copied by ``init_from``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tinycheckpoints import save_tiny_bert
from transmodal.encoders.adapters import adapter_spec, folded_state, inject, merge_for_inference
from transmodal.encoders.base import build_encoder


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    return save_tiny_bert(tmp_path_factory.mktemp("bert"))


def _randomise_adapters(encoder: torch.nn.Module) -> None:
    """LoRA's B starts at zero (the adapted encoder equals the base): give it weights."""
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in encoder.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)


BUILT_IN = {"image": {"name": "cnn", "image_size": 32, "channels": 3}, "text": {"name": "builtin_text"}}


def _builtin(modality: str) -> torch.nn.Module:
    torch.manual_seed(1)
    return build_encoder(modality, {**BUILT_IN[modality], "frozen": False}).eval()


def _inputs(modality: str, encoder):
    if modality == "image":
        rng = np.random.default_rng(2)
        return encoder.prepare([Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)) for _ in range(3)])
    return encoder.prepare(["a red dress", "too small for me", "lovely"])


@pytest.mark.parametrize("modality", ["image", "text"])
@pytest.mark.parametrize("merged", [False, True])
def test_a_plain_encoder_with_the_folded_state_computes_what_the_adapted_one_computes(modality, merged):
    adapted, plain = _builtin(modality), _builtin(modality)
    inject(adapted, adapter_spec({"r": 2}))
    _randomise_adapters(adapted)
    if merged:  # a fitted predictor predicts with its adapters merged into the base weights
        merge_for_inference(adapted)
    batch = _inputs(modality, adapted)
    with torch.no_grad():
        expected = adapted(batch)
        base = plain(batch)
    state = folded_state(adapted)
    assert not any("lora_" in key or "base_layer" in key for key in state)
    plain.load_state_dict(state)  # strict: the names are the plain encoder's
    with torch.no_grad():
        got = plain(batch)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(got, base, atol=1e-3)  # the adapters changed the function
    assert any("lora_" in key for key in adapted.state_dict())  # the adapted encoder is left as it was


def test_a_transformers_encoder_folds_too(tiny_bert):
    settings = {"name": "hf_text", "checkpoint": tiny_bert, "frozen": False}
    adapted, plain = build_encoder("text", settings).eval(), build_encoder("text", settings).eval()
    inject(adapted, adapter_spec({"r": 2}))
    _randomise_adapters(adapted)
    batch = adapted.prepare(["a red dress", "too small"])
    with torch.no_grad():
        expected = adapted(batch)
    plain.load_state_dict(folded_state(adapted))
    with torch.no_grad():
        torch.testing.assert_close(plain(batch), expected, rtol=1e-4, atol=1e-5)
