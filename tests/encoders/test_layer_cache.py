"""Tests of the lower-layer cache of ``hf_text`` (``transmodal.encoders.layer_cache``): a tiny
random 4-layer BERT, its lower layers run once per row, outputs as the plain forward pass."""

from __future__ import annotations

import copy
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: never download

import pytest
import torch

from tinycheckpoints import save_tiny_bert
from transmodal.encoders.base import build_encoder

TEXTS = ["the cat sat on the mat", "a dog", "the quiet dark mat sat on a loud bright item", "cat", None]


@pytest.fixture(scope="module")
def bert4(tmp_path_factory: pytest.TempPathFactory) -> str:
    return save_tiny_bert(tmp_path_factory.mktemp("bert4"), layers=4)


def _encoder(checkpoint: str, **settings):
    torch.manual_seed(0)
    return build_encoder("text", {"name": "hf_text", "checkpoint": checkpoint, "frozen": False, **settings})


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_cached_lower_layers_give_the_plain_forward_pass_outputs(bert4, layers):
    encoder = _encoder(bert4, layers=layers).eval()
    inputs = encoder.prepare(TEXTS)
    with torch.no_grad():
        plain = encoder(inputs)  # (5, layers * 32)
        assert encoder.cache_lower_layers(2)
        first = encoder(inputs)
        again = encoder(encoder.prepare(TEXTS[::-1]))  # other padding, other order: from the cache
    torch.testing.assert_close(first, plain, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(again, plain.flip(0), atol=1e-5, rtol=1e-4)


def test_the_lower_layers_run_once_per_row_and_only_the_top_ones_get_gradients(bert4):
    encoder = _encoder(bert4)
    for name, parameter in encoder.named_parameters():
        parameter.requires_grad_(".layer.2." in name or ".layer.3." in name)
    calls = []
    encoder.model.encoder.layer[0].register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    assert encoder.cache_lower_layers(2)
    encoder.train()
    encoder(encoder.prepare(TEXTS[:3])).sum().backward()
    encoder(encoder.prepare(TEXTS)).sum().backward()  # two new rows
    encoder(encoder.prepare(TEXTS[1:])).sum().backward()  # none new
    assert calls == [3, 2]  # rows through layer 0: each row once
    assert encoder.model.encoder.layer[0].training  # the encoder's own mode is left as it was
    assert encoder.model.encoder.layer[3].attention.self.query.weight.grad is not None
    assert encoder.model.encoder.layer[1].attention.self.query.weight.grad is None


def test_the_cache_is_refused_where_it_cannot_hold_and_a_copy_starts_empty(bert4):
    encoder = _encoder(bert4, layers=3)
    assert not encoder.cache_lower_layers(3)  # pooled layers 2-4 reach below layer 3
    assert not encoder.cache_lower_layers(4)  # nothing above the cached layers
    assert encoder.cache_lower_layers(1)
    encoder.eval()
    with torch.no_grad():
        encoder(encoder.prepare(TEXTS))
    assert len(encoder.__dict__["_lower_cache"].rows) == 5
    assert len(copy.deepcopy(encoder).__dict__["_lower_cache"].rows) == 0
    assert "_lower_cache" not in str(list(encoder.state_dict()))
    assert not encoder.cache_lower_layers(None) and "_lower_cache" not in encoder.__dict__
