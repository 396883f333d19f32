"""``transfer.top_layers``: LoRA adapters only in the top transformer layers (peft's
``layers_to_transform``), the frozen lower layers of a text encoder run once per row during the fit."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: never download

import numpy as np
import pandas as pd
import pytest

from tinycheckpoints import BERT_WORDS, save_tiny_bert
from transmodal.encoders.adapters import adapter_spec, inject
from transmodal.encoders.base import build_encoder
from transmodal.encoders.hf_loading import layer_number
from transmodal.errors import ConfigError


@pytest.fixture(scope="module")
def bert4(tmp_path_factory: pytest.TempPathFactory) -> str:
    return save_tiny_bert(tmp_path_factory.mktemp("bert4"), layers=4)


def _adapted_layers(encoder) -> set[int]:
    return {layer_number(name) for name, _ in encoder.named_parameters() if "lora_" in name}


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2"])
def test_top_layers_must_be_a_positive_whole_number(bad):
    with pytest.raises(ConfigError, match="top_layers"):
        adapter_spec({"top_layers": bad})


def test_top_layers_is_for_lora_and_absent_from_the_spec_when_not_set():
    with pytest.raises(ConfigError, match="top_layers"):
        adapter_spec({"method": "ia3", "top_layers": 2})
    assert "top_layers" not in adapter_spec({})  # saved specs of every-layer adapters stay as they were
    assert adapter_spec({"top_layers": 2})["top_layers"] == 2


def test_adapters_go_only_into_the_top_layers(bert4):
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": bert4, "frozen": True})
    assert inject(encoder, adapter_spec({"r": 2, "top_layers": 2, "train_norms": False}))
    assert _adapted_layers(encoder) == {2, 3}
    trainable = {layer_number(n) for n, p in encoder.named_parameters() if p.requires_grad}
    assert trainable == {2, 3}
    every = build_encoder("text", {"name": "hf_text", "checkpoint": bert4, "frozen": True})
    inject(every, adapter_spec({"r": 2}))
    assert _adapted_layers(every) == {0, 1, 2, 3, None}  # the pooler too


def test_top_layers_needs_numbered_layers():
    encoder = build_encoder("text", {"name": "builtin_text"})
    encoder.fit_settings(["a b"], {})
    with pytest.raises(ConfigError, match="top_layers"):
        inject(encoder, adapter_spec({"top_layers": 1}))


def test_the_lora_strategy_caches_only_the_lower_layers_the_encoder_accepts(bert4):
    """``lower_layers`` asks the encoder (``can_cache_lower_layers``, the one range check) how many
    frozen layers below the top ``top`` it can keep: none when no layer is below them, when the pooled
    layers reach below them, when a lower layer trains, or for an encoder without numbered layers."""
    from transmodal.transfer.lora import lower_layers

    def encoder(**settings):
        return build_encoder("text", {"name": "hf_text", "checkpoint": bert4, "frozen": True, **settings})

    frozen = encoder()
    assert [lower_layers(frozen, top) for top in (1, 3, 4, 5)] == [3, 1, None, None]  # 4 layers
    assert [frozen.can_cache_lower_layers(below) for below in (-1, 0, 1, 3, 4)] == [False, False, True, True, False]
    assert not frozen.cache_lower_layers(0) and not frozen.cache_lower_layers(4)  # the cache refuses the same
    assert lower_layers(encoder(layers=3), 2) == 2 and lower_layers(encoder(layers=4), 2) is None  # pooled 1-4
    trains = encoder()
    trains.model.encoder.layer[0].attention.self.query.weight.requires_grad_(True)
    assert lower_layers(trains, 2) is None
    builtin = build_encoder("text", {"name": "builtin_text"})
    builtin.fit_settings(["a b"], {})
    assert lower_layers(builtin, 1) is None


def _table(n: int = 48) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(BERT_WORDS, size=int(rng.integers(2, 9)))) for _ in range(n)]
    return pd.DataFrame({"review": texts, "label": ["yes" if "cat" in t else "no" for t in texts]})


@pytest.mark.slow
def test_a_fit_with_top_layers_caches_the_lower_layers_and_predicts_as_its_loaded_copy(bert4, tmp_path, monkeypatch):
    from transmodal.encoders.layer_cache import LowerLayerCache
    from transmodal.predictor import MultimodalPredictor

    calls = []
    original = LowerLayerCache.hidden_states
    monkeypatch.setattr(LowerLayerCache, "hidden_states",
                        lambda self, *a: calls.append(self.below) or original(self, *a))
    table = _table()
    hp = {"max_epochs": 2, "batch_size": 8, "hidden_dim": 16, "progress_bar": False,
          "encoders": {"text": {"name": "hf_text", "checkpoint": bert4, "frozen": True}},
          "transfer": {"strategy": "lora", "r": 2, "top_layers": 1, "inference_quantize": None}}
    predictor = MultimodalPredictor(label="label").fit(table.iloc[:36], tuning_data=table.iloc[36:],
                                                       hyperparameters=hp, seed=0)
    assert calls and set(calls) == {3}  # training and validation passes ran the top layer only
    encoder = predictor.net_.encoder("review")
    assert "_lower_cache" not in encoder.__dict__  # switched off after the fit
    assert _adapted_layers(encoder) == {3}
    kept = np.asarray(predictor.tuning_scores_["label"], dtype=np.float64)
    now = predictor.predict_proba(table.iloc[36:]).to_numpy()
    np.testing.assert_allclose(kept, now, atol=1e-5)  # the cached validation pass == every layer run
    loaded = MultimodalPredictor.load(predictor.save(tmp_path / "model"))
    assert loaded.spec_.adapters["review"]["top_layers"] == 1
    assert _adapted_layers(loaded.net_.encoder("review")) == {3}
    np.testing.assert_allclose(loaded.predict_proba(table).to_numpy(), predictor.predict_proba(table).to_numpy(),
                               atol=1e-5)
