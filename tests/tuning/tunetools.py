"""A tiny numeric table and settings that make a tuning trial take a second or two.

Imported by the tuning tests as ``from tunetools import ...`` (a unique module name).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

# a two-layer MLP over two numbers: a trial is a couple of short epochs
TRIAL_HYPERPARAMETERS = {"max_epochs": 2, "batch_size": 16, "hidden_dim": 8, "progress_bar": False,
                         "encoders": {"tabular": {"name": "mlp", "output_dim": 8}}}
SPACE = {"learning_rate": {"low": 1.0e-4, "high": 1.0e-1, "log": True}, "dropout": {"low": 0.0, "high": 0.5}}


def numbers_table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """``x1``, ``x2`` and a binary ``label`` that mostly follows ``x1``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    label = np.where(x[:, 0] + 0.7 * rng.normal(size=n) > 0, "yes", "no")
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "label": label})


def tuned_on_numbers(hyperparameters: dict, tune: dict, n: int = 90):
    """A ``MultimodalPredictor`` (AUROC) fitted with ``tune`` on :func:`numbers_table` of ``n`` rows."""
    from transmodal import MultimodalPredictor

    return MultimodalPredictor(label="label", eval_metric="roc_auc").fit(
        numbers_table(n), hyperparameters=hyperparameters, seed=0, tune=tune)


def write_numbers(folder: Path, n: int = 60) -> Path:
    """Write :func:`numbers_table` as ``folder/numbers.csv`` and the test space as ``folder/space.yaml``."""
    path = folder / "numbers.csv"
    numbers_table(n).to_csv(path, index=False)
    (folder / "space.yaml").write_text("learning_rate: {low: 1.0e-4, high: 1.0e-1, log: true}\n"
                                       "dropout: {low: 0.0, high: 0.5}\n", encoding="utf-8")
    return path
