"""Frozen encoders encode each row once per fit, however many epochs run."""

from __future__ import annotations

import pytest
import torch

from tabletools import TINY_HYPERPARAMETERS
from transmodal.engine.cache import EmbeddingCache
from transmodal.predictor import MultimodalPredictor


def test_cache_lookup_only_when_every_row_is_filled():
    cache = EmbeddingCache(4, {"text": 2})
    index = torch.tensor([0, 2])
    assert cache.lookup("text", index) is None
    cache.store("text", index, torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert torch.equal(cache.lookup("text", index), torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert cache.lookup("text", torch.tensor([0, 1])) is None
    assert not cache.complete("text")


@pytest.mark.slow
def test_frozen_encoder_sees_each_row_once(table_dir, monkeypatch):
    from transmodal.encoders.text_builtin import BuiltinText as BuiltinTextEncoder

    seen = []
    original = BuiltinTextEncoder.forward

    def counting_forward(self, inputs):
        seen.append(next(iter(inputs.values())).shape[0])
        return original(self, inputs)

    monkeypatch.setattr(BuiltinTextEncoder, "forward", counting_forward)
    hp = {**TINY_HYPERPARAMETERS, "max_epochs": 4, "patience": 10,
          "encoders": {**TINY_HYPERPARAMETERS["encoders"], "text": {"name": "builtin_text", "frozen": True, "output_dim": 16}}}
    predictor = MultimodalPredictor(label="label").fit(str(table_dir / "table.csv"), hyperparameters=hp)
    assert len(predictor.history_["epochs"]) == 4
    # train + tuning rows once each, up front (not once per epoch); the run report's passes over the
    # tuning rows read them from the embedding store (the test session's own folder)
    rows = predictor.report_["rows"]
    assert rows["train"] + rows["tuning"] == 60
    assert sum(seen) == rows["train"] + rows["tuning"], str(seen)
    assert not any(p.requires_grad for p in predictor.net_.encoder("review").parameters())
