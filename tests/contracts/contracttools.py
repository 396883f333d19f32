"""Helpers of the registry contract suites (imported as ``from contracttools import ...``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from tabletools import TINY_HYPERPARAMETERS


def tiny_hyperparameters(**extra):
    """The shared tiny hyperparameters, two epochs, with ``extra`` sections on top."""
    return {**TINY_HYPERPARAMETERS, "max_epochs": 2, **extra}


def saved_config(folder) -> dict:
    """The ``config.json`` of a saved model folder."""
    return json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))


def fit_two_labels(table, folder, multitask: dict):
    """A predictor of ``label`` and ``big`` fitted with the ``multitask`` section and saved to
    ``folder``: ``(predictor, saved folder, the saved history's multitask record)``."""
    from transmodal.predictor import MultimodalPredictor

    predictor = MultimodalPredictor(label=["label", "big"]).fit(
        table, hyperparameters=tiny_hyperparameters(multitask=multitask), seed=0)
    saved = predictor.save(folder)
    return predictor, saved, saved_config(saved)["history"]["multitask"]


def saved_weight_names(folder) -> set[str]:
    """Names of the tensors in a saved model folder's safetensors file(s)."""
    from safetensors import safe_open

    names = set()
    for path in Path(folder).glob("*.safetensors"):
        with safe_open(str(path), "pt") as handle:
            names |= set(handle.keys())
    return names


def probabilities(predictor, data) -> np.ndarray:
    """``predict_proba`` as one array (tasks side by side when there are several)."""
    proba = predictor.predict_proba(data)
    if isinstance(proba, dict):
        return np.concatenate([proba[k].to_numpy(dtype=float) for k in sorted(proba)], axis=1)
    return proba.to_numpy(dtype=float)


def assert_reloads_identically(predictor, folder, data) -> None:
    """A saved predictor loads and predicts what the fitted one predicts."""
    from transmodal.predictor import MultimodalPredictor

    before = probabilities(predictor, data)
    after = probabilities(MultimodalPredictor.load(folder), data)
    assert before.shape == after.shape
    assert np.isfinite(before).all()
    np.testing.assert_allclose(after, before, atol=1e-5)


def encoder_state(predictor, name: str) -> dict[str, torch.Tensor]:
    """A copy of the state of the encoder of input ``name`` of a fitted predictor."""
    return {k: v.detach().clone() for k, v in predictor.net_.encoder(name).state_dict().items()}


def encoder_parameters(predictor, name: str) -> dict[str, torch.Tensor]:
    """A copy of the learnable parameters (not the buffers) of the encoder of input ``name``."""
    return {k: v.detach().clone() for k, v in predictor.net_.encoder(name).named_parameters()}
