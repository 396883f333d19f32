"""fit(..., feature_memo=True): frozen features shared across fits give the same model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from tabletools import TINY_HYPERPARAMETERS, write_table
from transmodal.engine.feature_memo import MemoizedForward, clear_memo, row_keys
from transmodal.predictor import MultimodalPredictor


def test_row_keys_ignore_padding():
    a = {"input_ids": torch.tensor([[5, 6, 0, 0]]), "attention_mask": torch.tensor([[1, 1, 0, 0]])}
    b = {"input_ids": torch.tensor([[5, 6, 0]]), "attention_mask": torch.tensor([[1, 1, 0]])}
    c = {"input_ids": torch.tensor([[5, 7, 0]]), "attention_mask": torch.tensor([[1, 1, 0]])}
    assert row_keys(a) == row_keys(b) != row_keys(c)


def test_memo_encodes_each_row_once():
    calls = []

    def forward(inputs):
        calls.append(len(inputs["x"]))
        return inputs["x"].float() * 2  # (B, 3)

    memo = MemoizedForward(forward, {})
    x = torch.arange(12).view(4, 3)
    first = memo({"x": x})
    second = memo({"x": x[[2, 0]]})
    assert calls == [4]  # the second batch was all hits
    assert torch.equal(second, first[[2, 0]])


def test_memoised_fit_equals_a_plain_fit(tmp_path):
    frame = write_table(tmp_path, n=40)[["size", "color", "review", "label"]]
    hp = {**TINY_HYPERPARAMETERS, "max_epochs": 2,
          "encoders": {**TINY_HYPERPARAMETERS["encoders"], "text": {"name": "builtin_text", "output_dim": 16,
                                                                   "frozen": True}}}
    clear_memo()
    plain = MultimodalPredictor(label="label").fit(frame, hyperparameters=hp, seed=1)
    first = MultimodalPredictor(label="label").fit(frame, hyperparameters=hp, seed=1, feature_memo=True)
    again = MultimodalPredictor(label="label").fit(frame, hyperparameters=hp, seed=1, feature_memo=True)
    assert isinstance(again.net_.encoder("review").forward, MemoizedForward)
    for predictor in (first, again):
        np.testing.assert_allclose(predictor.predict_proba(frame).to_numpy(),
                                   plain.predict_proba(frame).to_numpy(), atol=1e-5)
    clear_memo()


def test_frozen_encoders_with_other_weights_do_not_share_rows(tmp_path):
    frame = write_table(tmp_path, n=30)[["size", "review", "label"]]
    hp = {**TINY_HYPERPARAMETERS, "max_epochs": 1,
          "encoders": {"text": {"name": "builtin_text", "output_dim": 16, "frozen": True}}}
    clear_memo()
    a = MultimodalPredictor(label="label").fit(frame, hyperparameters=hp, seed=1, feature_memo=True)
    b = MultimodalPredictor(label="label").fit(frame, hyperparameters=hp, seed=2, feature_memo=True)
    plain = MultimodalPredictor(label="label").fit(frame, hyperparameters=hp, seed=2)
    assert a.net_.encoder("review").forward.memo is not b.net_.encoder("review").forward.memo
    np.testing.assert_allclose(b.predict_proba(frame).to_numpy(), plain.predict_proba(frame).to_numpy(), atol=1e-5)
    clear_memo()
