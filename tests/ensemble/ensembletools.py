"""Tiny tables for ensemble tests: a text, a number and a category column whose values carry the label."""

from __future__ import annotations

import numpy as np
import pandas as pd

WORDS = {0: "calm quiet soft gentle", 1: "loud bright sharp strong", 2: "dark deep heavy slow"}
# the medium preset's neural and embedding members with a tiny text encoder (no download), so fits take seconds
TINY_NEURAL = {"neural_frozen": {"hyperparameters": {"max_epochs": 2, "batch_size": 16, "hidden_dim": 16,
                                                     "encoders": {"text": "builtin_text"}}},
               "embed_linear": {"embeddings": {"text": "builtin_text"}}}  # medium's linear model on embeddings


def tiny_frame(n: int = 80, classes: int = 2, seed: int = 0, regression: bool = False) -> pd.DataFrame:
    """``n`` rows of ``review`` (text), ``size`` (number), ``color`` (category) and ``label``; each
    feature agrees with the label most of the time."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        y = int(rng.integers(classes))
        shown = y if rng.random() < 0.8 else int(rng.integers(classes))
        rows.append({"review": f"{WORDS[shown]} item {i}", "size": y + rng.normal(0, 0.7),
                     "color": ["red", "green", "blue"][y if rng.random() < 0.7 else int(rng.integers(classes))],
                     "label": float(3 * y + rng.normal(0, 0.5)) if regression else ["no", "yes", "maybe"][y]})
    return pd.DataFrame(rows)
