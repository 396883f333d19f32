"""Length-grouped batches: a permutation of the rows whose batches pad less, reproducible per epoch."""

from __future__ import annotations

import pytest
import numpy as np
import pandas as pd

from transmodal import MultimodalPredictor
from transmodal.engine.sampler import EpochSampler


def batch_padding(order: list[int], lengths: np.ndarray, batch_size: int) -> int:
    """Padded cells when every batch pads to its longest row."""
    total = 0
    for start in range(0, len(order), batch_size):
        batch = lengths[order[start:start + batch_size]]
        total += int((batch.max() - batch).sum())
    return total


def test_grouped_order_is_a_permutation_that_pads_less_and_is_seeded_per_epoch():
    lengths = np.random.default_rng(0).integers(1, 500, 1003)
    plain = EpochSampler(1003, seed=1)
    grouped = EpochSampler(1003, seed=1, lengths=lengths, batch_size=16)
    order = list(grouped)
    assert sorted(order) == list(range(1003))
    assert batch_padding(order, lengths, 16) < 0.2 * batch_padding(list(plain), lengths, 16)
    assert list(EpochSampler(1003, seed=1, lengths=lengths, batch_size=16)) == order
    grouped.set_epoch(1)
    assert list(grouped) != order
    # the short batch (1003 = 62 * 16 + 11) comes last, so every other batch is full
    assert len(set(order[-11:]) & set(order[:-11])) == 0


def test_grouped_batches_are_not_sorted_across_the_epoch():
    lengths = np.arange(640)
    order = list(EpochSampler(640, seed=0, lengths=lengths, batch_size=8))
    firsts = [lengths[order[i]] for i in range(0, 640, 8)]
    assert firsts != sorted(firsts) and firsts != sorted(firsts, reverse=True)


@pytest.mark.slow
def test_fit_with_group_by_length_trains_on_text():
    rng = np.random.default_rng(0)
    words = ["great soft fabric", "awful seams ripped"]
    rows = [{"review": " ".join([words[i % 2]] * int(rng.integers(1, 6))), "label": ["yes", "no"][i % 2]}
            for i in range(80)]
    frame = pd.DataFrame(rows)
    hp = {"max_epochs": 8, "batch_size": 8, "group_by_length": True, "progress_bar": False,
          "learning_rate": 5e-3, "encoders": {"text": {"name": "builtin_text", "output_dim": 16}}}
    predictor = MultimodalPredictor(label="label").fit(frame, hyperparameters=hp, seed=0)
    assert predictor.config_.group_by_length
    assert predictor.evaluate(frame)["accuracy"] > 0.9
