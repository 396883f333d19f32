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

    monkeypatch.setattr(shared, "_open", lambda context: None)  # each member builds its own
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
