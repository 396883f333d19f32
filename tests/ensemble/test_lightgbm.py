"""``lightgbm``: frozen embeddings as their principal components (``embedding_components``)."""

from __future__ import annotations

import numpy as np
import pytest
from ensembletools import tiny_frame

from transmodal.ensemble.members.base import MEMBERS, MemberContext
from transmodal.ensemble.members.lightgbm import principal_components
from transmodal.heads.task import TaskSpec

COLUMNS = {"review": "text", "size": "numeric", "color": "categorical"}


def test_principal_components_keep_the_directions_that_vary_most():
    rng = np.random.default_rng(0)
    direction = np.array([3.0, 4.0, 0.0, 0.0]) / 5.0
    features = (rng.normal(0, 10, (200, 1)) * direction + rng.normal(0, 0.1, (200, 4)) + 7.0).astype(np.float32)
    mean, components = principal_components(features, 1)
    assert components.shape == (1, 4) and mean.shape == (4,)
    np.testing.assert_allclose(np.abs(components[0]), direction, atol=0.02)
    np.testing.assert_allclose(mean, features.mean(axis=0), atol=1e-4)
    for k in (0, 4, 9):  # none asked, or not fewer than the features: they are used as they are
        assert principal_components(features, k)[1].size == 0


@pytest.mark.slow
def test_embedding_components_replace_the_frozen_features_and_survive_save_and_load(tmp_path):
    from transmodal.ensemble.auto import AutoPredictor

    frame = tiny_frame(120)
    encoder = {"text": {"name": "builtin_text", "output_dim": 8}}
    context = MemberContext("label", TaskSpec("label", "binary", ["no", "yes"]), COLUMNS, "roc_auc")
    member = MEMBERS.get("lightgbm")(context, {"svd_components": 0, "embeddings": encoder, "embedding_components": 3})
    member.prepare(frame)
    x = member.features(frame)
    assert x.shape == (120, 1 + 1 + 3)  # size, colour code, 3 components of the 8 embedding features
    embedded = member.embeddings.transform(frame)
    mean, components = member.projection
    np.testing.assert_allclose(x[:, -3:], (embedded - mean) @ components.T, atol=1e-5)

    options = {"lightgbm": {"svd_components": 4, "embeddings": encoder, "embedding_components": 3}}
    auto = AutoPredictor(label="label").fit(frame.iloc[:100], presets="fast", time_limit=120, hyperparameters=options)
    auto.weights_ = {name: 1 / len(auto.members_) for name in auto.members_}
    loaded = AutoPredictor.load(auto.save(tmp_path / "model"))
    test = frame.iloc[100:]
    np.testing.assert_array_equal(loaded.members_["lightgbm"].predict(test), auto.members_["lightgbm"].predict(test))
    assert loaded.members_["lightgbm"].projection[1].shape == (3, 8)
