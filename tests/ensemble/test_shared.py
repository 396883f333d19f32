"""Members of one fit share the TF-IDF of the text columns: fitted once, applied once to the
training rows, with the same predictions as members that each build their own."""

from __future__ import annotations

import numpy as np

from ensembletools import tiny_frame

from transmodal.ensemble import auto as auto_module
from transmodal.ensemble.auto import AutoPredictor
from transmodal.ensemble.members import features, shared


def _fit(frame):
    return AutoPredictor(label="label").fit(frame, presets="fast", time_limit=600)


def test_tfidf_is_fitted_once_per_fit_and_predictions_are_unchanged(monkeypatch):
    frame = tiny_frame(120)
    calls = {"fit": 0, "transform": 0}
    fit, transform = features.TextTfidf.fit, features.TextTfidf.transform

    def counted_fit(self, rows):
        calls["fit"] += 1
        return fit(self, rows)

    def counted_transform(self, rows):
        calls["transform"] += len(rows) == len(frame)  # the training rows (not a fold's rows)
        return transform(self, rows)

    monkeypatch.setattr(features.TextTfidf, "fit", counted_fit)
    monkeypatch.setattr(features.TextTfidf, "transform", counted_transform)
    together = _fit(frame)
    assert set(together.members_) == {"tfidf_linear", "tfidf_nbsvm", "lightgbm"}
    assert calls == {"fit": 1, "transform": 1}
    assert together.members_["tfidf_linear"].text is together.members_["lightgbm"].text

    monkeypatch.setattr(shared, "open_memo", lambda context: None)  # each member builds its own
    alone = _fit(frame)
    assert calls["fit"] == 4
    np.testing.assert_allclose(together.predict_proba(frame).to_numpy(), alone.predict_proba(frame).to_numpy(),
                               atol=1e-6)


def test_the_memo_is_closed_after_the_fit_and_holds_no_rows(monkeypatch):
    memos = []
    original = auto_module.AutoPredictor.fit

    class Recording(shared.FitMemo):
        def __init__(self):
            super().__init__()
            memos.append(self)

    monkeypatch.setattr(shared, "FitMemo", Recording)
    model = original(AutoPredictor(label="label"), tiny_frame(60), presets="fast", time_limit=600)
    (memo,) = memos
    assert not memo.active and len(memo) == 0
    model.predict(tiny_frame(20, seed=1))
    assert len(memo) == 0  # prediction never fills it


def test_members_with_the_same_embeddings_share_them_and_read_the_training_rows_once(monkeypatch):
    from transmodal.ensemble.members import embeddings

    frame = tiny_frame(120)
    encoder = {"text": {"name": "builtin_text", "output_dim": 8}}
    calls = {"fit": 0, "read": 0}
    fit, read = embeddings.FrozenEmbeddings.fit, embeddings.FrozenEmbeddings._features

    def counted_fit(self, rows):
        calls["fit"] += bool(self.columns)  # not the empty ones of members without embeddings
        return fit(self, rows)

    def counted_read(self, rows):
        calls["read"] += len(rows) == len(frame)  # the training rows
        return read(self, rows)

    monkeypatch.setattr(embeddings.FrozenEmbeddings, "fit", counted_fit)
    monkeypatch.setattr(embeddings.FrozenEmbeddings, "_features", counted_read)
    options = {"tfidf_linear": {"embeddings": encoder}, "lightgbm": {"embeddings": encoder, "embedding_components": 3}}
    together = AutoPredictor(label="label").fit(frame, presets="fast", time_limit=600, hyperparameters=options)
    members = together.members_
    assert calls == {"fit": 1, "read": 1}  # fitted once, its features of the training rows read once
    assert members["tfidf_linear"].embeddings is members["lightgbm"].embeddings
    together.predict_proba(frame)
    assert calls["read"] == 3  # prediction reads them again: once per member with embeddings (no memo)
