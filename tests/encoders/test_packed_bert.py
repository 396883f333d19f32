"""A BERT encoder's packed forward pass (``encoders/packed_bert.py``): the padding of a batch is never
computed, and the features are those of the model's own forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tinycheckpoints import BERT_WORDS, save_tiny_bert
from transmodal.encoders.base import build_encoder
from transmodal.encoders.hf_loading import masked_mean
from transmodal.encoders.packed_bert import can_pack, packed_layer_means, packed_padding


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    return save_tiny_bert(tmp_path_factory.mktemp("bert"))


def texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(BERT_WORDS, size=int(rng.integers(1, 40)))) for _ in range(n)]


def own_forward_means(model, batch, layers: int) -> torch.Tensor:
    """The Hugging Face forward pass, each of the last ``layers`` layers mean-pooled over the mask."""
    with torch.no_grad():
        states = model(**batch, output_hidden_states=True).hidden_states
    return torch.cat([masked_mean(h, batch["attention_mask"]) for h in states[-layers:]], dim=1)


@pytest.mark.parametrize("layers", [1, 2])
def test_packed_means_equal_the_models_own_forward_pass_on_a_padded_batch(tiny_bert, layers):
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})
    batch = encoder.prepare(texts(9))
    assert not bool(batch["attention_mask"].all())  # the batch has padding
    packed = packed_layer_means(encoder.model, batch["input_ids"], batch["attention_mask"], layers)
    assert packed.shape == (9, 32 * layers)
    torch.testing.assert_close(packed, own_forward_means(encoder.model, batch, layers), atol=1e-5, rtol=1e-5)


def test_the_linear_layers_see_the_real_tokens_only(tiny_bert):
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})
    batch = encoder.prepare(texts(6, seed=1))
    seen = []
    hook = encoder.model.encoder.layer[0].intermediate.dense.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].shape))
    try:
        packed_layer_means(encoder.model, batch["input_ids"], batch["attention_mask"], 1)
    finally:
        hook.remove()
    assert seen == [torch.Size([int(batch["attention_mask"].sum()), 32])]  # (N real tokens, hidden)
    assert int(batch["attention_mask"].sum()) < batch["attention_mask"].numel()


def test_an_int8_encoder_packs_within_the_block_and_stays_close_to_its_padded_features(tiny_bert):
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True,
                                     "quantize": "int8", "layers": "all"})
    batch = encoder.prepare(texts(12, seed=2))
    with torch.no_grad():
        padded = encoder(batch)
        assert not encoder.packs_padding
        with packed_padding():
            assert encoder.packs_padding
            packed = encoder(batch)
    assert packed.shape == padded.shape == (12, 64)
    assert torch.nn.functional.cosine_similarity(packed, padded).min() > 0.98
    fp32 = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True, "layers": "all"})
    with torch.no_grad():
        assert torch.nn.functional.cosine_similarity(packed, fp32(batch)).min() > 0.98


def test_within_the_block_every_batch_packs_and_outside_none(tiny_bert, monkeypatch):
    from transmodal.encoders import text_hf

    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})
    calls = []
    real = text_hf.packed_layer_means
    monkeypatch.setattr(text_hf, "packed_layer_means", lambda *a: calls.append(a[1].shape) or real(*a))
    one = encoder.prepare(["the cat sat"])
    with torch.no_grad():
        outside = encoder(one)
        assert not calls
        with packed_padding():
            inside = encoder(one)  # one text: no padding, the same forward pass as a batch's
            encoder(encoder.prepare(["the cat sat on the mat", "a dog"]))
    assert calls == [torch.Size([1, 5]), torch.Size([2, 8])]
    torch.testing.assert_close(inside, outside, atol=1e-5, rtol=1e-5)


def test_only_a_plain_bert_in_eval_mode_packs(tiny_bert):
    from transformers import BertConfig, BertModel

    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})
    assert can_pack(encoder.model)
    encoder.model.train()
    assert not can_pack(encoder.model)
    config = BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, is_decoder=True)
    assert not can_pack(BertModel(config).eval())
    assert not can_pack(torch.nn.Linear(2, 2))
