"""Cheap members refitted on every row (``refit_full``): what is refitted, with what, what is kept
for selection, and that the refitted models are saved and loaded with identical predictions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ensembletools import tiny_frame

from transmodal.ensemble.auto import AutoPredictor
from transmodal.ensemble.members.base import MEMBERS, MemberContext
from transmodal.ensemble.presets import load_preset
from transmodal.ensemble.training import fit_members, make_splits, refit_member
from transmodal.heads.task import TaskSpec

COLUMNS = {"review": "text", "size": "numeric", "color": "categorical"}


def _context() -> MemberContext:
    return MemberContext("label", TaskSpec("label", "binary", ["no", "yes"]), COLUMNS, "roc_auc")


def _table(n: int = 300):
    frame = tiny_frame(n)
    return frame, (frame["label"] == "yes").to_numpy().astype(int)


def _fit(refit: bool, frame, y):
    """The fast preset's members on a holdout split (the table is above ``bag_max_rows``)."""
    preset = dataclasses.replace(load_preset("fast"), bag_max_rows=10, refit_full=refit).with_overrides(
        {"lightgbm": {"svd_components": 4}})
    splits, selection = make_splits(y, "binary", preset, 0)
    results = fit_members(preset, _context(), frame, y, splits, selection, 300.0, lambda p, rows: 0.5)
    return {r.name: r for r in results}, splits


def test_refit_replaces_the_split_models_by_one_model_on_every_row_and_keeps_the_selection_predictions():
    frame, y = _table()
    plain, splits = _fit(False, frame, y)
    refitted, _ = _fit(True, frame, y)
    (train_rows, _), = splits
    for name in ("tfidf_linear", "lightgbm"):
        assert len(refitted[name].member.models) == 1
        assert refitted[name].status == f"ok; refitted on all {len(y)} rows"
        assert plain[name].status == "ok"
        # the weights are chosen on the split models' predictions, with or without the refit
        np.testing.assert_array_equal(refitted[name].predictions, plain[name].predictions)
        assert not np.allclose(refitted[name].member.predict(frame), plain[name].member.predict(frame))
    linear = refitted["tfidf_linear"].member
    x = linear.features(frame)
    expected = linear._fit_one(x, y, float(linear.models[0]["value"][0]))  # the same model, on every row
    np.testing.assert_allclose(linear.models[0]["coef"], expected["coef"], atol=1e-6)
    assert len(train_rows) < len(y)
    booster = refitted["lightgbm"].member.models[0]
    split_booster = plain["lightgbm"].member.models[0]
    assert booster.num_trees() == split_booster.best_iteration  # the rounds early stopping kept


def test_a_member_is_not_refitted_without_time_or_when_its_kind_cannot_be():
    frame, y = _table(120)
    member = MEMBERS.get("tfidf_linear")(_context(), {})
    member.prepare(frame)
    x = member.features(frame)
    member.models, member.split_seconds = [member.fit_model(x[:80], y[:80], x[80:], y[80:], None)], [5.0]
    status = refit_member(member, frame, y, deadline=0.0)  # long past
    assert status.startswith("; not refitted on every row")
    assert len(member.models) == 1 and member.models[0]["coef"].shape[1] == x.shape[1]
    neural = MEMBERS.get("neural")(_context(), {})
    assert refit_member(neural, frame, y, deadline=float("inf")) == ""


@pytest.mark.slow
def test_refitted_members_are_saved_and_loaded_with_identical_predictions(tmp_path, monkeypatch):
    import transmodal.ensemble.presets as presets

    load = presets.load_preset
    monkeypatch.setattr(presets, "load_preset", lambda name: dataclasses.replace(load(name), bag_max_rows=10,
                                                                                   refit_full=True))
    frame = tiny_frame(360)
    train, test = frame.iloc[:300], frame.iloc[300:]
    auto = AutoPredictor(label="label").fit(train, presets="fast", time_limit=300,
                                            hyperparameters={"tfidf_linear": {"C": [0.5, 4.0]},
                                                             "lightgbm": {"svd_components": 4}})
    assert all("refitted on all 300 rows" in row["status"] for row in auto.results_)
    auto.weights_ = {name: 0.5 for name in auto.members_}
    loaded = AutoPredictor.load(auto.save(tmp_path / "model"))
    assert np.array_equal(loaded.predict_proba(test).to_numpy(), auto.predict_proba(test).to_numpy())
    for name, member in auto.members_.items():
        assert len(loaded.members_[name].models) == 1
        assert np.array_equal(loaded.members_[name].predict(test), member.predict(test))


def test_a_linear_member_with_a_grid_expects_its_refit_to_cost_one_fit_of_the_grid():
    """fast run 3: the grid's four fits per split made the refit look four times as long as it is,
    and tfidf_linear was not refitted with 3 s left."""
    import time

    frame, y = _table(120)
    member = MEMBERS.get("tfidf_linear")(_context(), {"C": [0.5, 1.0, 2.0, 4.0]})
    member.prepare(frame)
    x = member.features(frame)
    member.models, member.split_seconds = [member.fit_model(x[:80], y[:80], x[80:], y[80:], None)], [8.0]
    assert member.refit_seconds() == pytest.approx(2.0)
    assert refit_member(member, frame, y, deadline=time.monotonic() + 3.0) == "; refitted on all 120 rows"


@pytest.mark.slow
def test_a_classical_member_with_embeddings_stops_when_their_encoding_would_overrun(monkeypatch):
    """medium's embed_linear encodes its texts itself when the store is cold: that encoding keeps the
    member's deadline (EncodingTimeUp, a TimeoutError the fit reports as ``stopped``)."""
    import time

    from transmodal.encoders.text_builtin import BuiltinText
    from transmodal.engine.encoding import EncodingTimeUp
    from transmodal.ensemble.training import fit_member

    slow_forward = BuiltinText.forward

    def forward(self, inputs):
        time.sleep(0.3)  # a slow machine
        return slow_forward(self, inputs)

    monkeypatch.setattr(BuiltinText, "forward", forward)
    frame, y = _table(200)
    frame["review"] = [f"{text} cold {i}" for i, text in enumerate(frame["review"])]  # not in the store
    member = MEMBERS.get("tfidf_linear")(_context(), {"tfidf": False, "embeddings": {"text": "builtin_text"}})
    rows = np.arange(len(y))
    with pytest.raises(EncodingTimeUp):
        fit_member(member, frame, y, [(rows[:150], rows[150:])], rows[150:], time.monotonic() + 0.2)
