"""Fitting the members of a preset: a member that reads no column of the table is skipped with a
status that says why (not a library's error about an empty matrix)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from transmodal.ensemble.members.base import MemberContext
from transmodal.ensemble.presets import load_preset
from transmodal.ensemble.training import RESERVE, fit_members, make_splits
from transmodal.heads.task import TaskSpec


@pytest.fixture
def member_deadlines(monkeypatch) -> list[float]:
    """Every member's fit is a stub that scores 0.5 and records the seconds it was allowed (in order);
    ``best``'s refit_full has nothing fitted to refit."""
    import transmodal.ensemble.training as training

    allowed = []

    def fit_member(member, frame, y, splits, selection, deadline, must_fit=False):
        allowed.append(deadline - training.time.monotonic())
        return np.full(len(selection), 0.5), "ok"

    monkeypatch.setattr(training, "fit_member", fit_member)
    monkeypatch.setattr(training, "refit_member", lambda *args: "")
    return allowed


def test_classical_members_without_a_column_they_read_are_skipped_with_the_reason(tmp_path):
    frame = pd.DataFrame({"photo": [str(tmp_path / f"{i}.png") for i in range(40)], "y": [0, 1] * 20})
    y = frame["y"].to_numpy()
    context = MemberContext("y", TaskSpec("y", "binary", [0, 1]), {"photo": "image"}, "roc_auc")
    preset = load_preset("fast")
    splits, selection = make_splits(y, "binary", preset, 0)
    results = fit_members(preset, context, frame, y, splits, selection, 60.0, lambda p, rows: 0.5)
    assert [r.name for r in results] == ["tfidf_linear", "tfidf_nbsvm", "lightgbm"]
    for r in results:
        assert r.member is None and np.isnan(r.tuning_score)
        assert r.status.startswith("skipped: no column it reads"), r.status


def test_the_lora_text_member_is_skipped_on_a_table_without_text():
    from transmodal.ensemble.members.base import MEMBERS, NoFeatures

    plan = {m.name: m for m in load_preset("best").members}["neural_lora"]
    context = MemberContext("y", TaskSpec("y", "binary", [0, 1]), {"photo": "image", "clip": "audio"}, "roc_auc")
    member = MEMBERS.get("neural")(context, plan.options)
    # an empty transfer.inputs would mean every encoder: LoRA in randomly initialised CNNs
    with pytest.raises(NoFeatures, match="no text column"):
        member.prepare(pd.DataFrame({"photo": [], "clip": []}))


def test_a_member_that_cannot_read_the_table_leaves_its_share_to_the_members_that_run(tmp_path, member_deadlines):
    """AV-digits with ``best``: the LoRA text member comes after the frozen network and has most of
    the budget; on a table without text its share must not be lost (the fit used 127 s of 600).
    The members that read images (``only_with: [image]``) run there too."""
    frame = pd.DataFrame({"photo": [str(tmp_path / f"{i}.png") for i in range(40)], "y": [0, 1] * 20})
    y = frame["y"].to_numpy()
    context = MemberContext("y", TaskSpec("y", "binary", [0, 1]), {"photo": "image"}, "roc_auc")
    preset = load_preset("best")
    splits, selection = make_splits(y, "binary", preset, 0)
    results = {r.name: r for r in fit_members(preset, context, frame, y, splits, selection, 100.0,
                                              lambda p, rows: 0.5)}
    assert results["neural_lora"].status == "skipped: lora_text, and the table has no text column to adapt"
    assert results["tfidf_linear"].status.startswith("skipped: no column it reads")
    assert results["lightgbm"].status.startswith("skipped: no column it reads")
    # its embeddings option names text columns only: skipped before budgeting as well
    assert results["embed_linear"].status.startswith("skipped: no column it reads")
    ran = [name for name, r in results.items() if r.status == "ok"]
    assert ran == ["lightgbm_image", "lightgbm_photo_statistics", "neural_image", "neural_frozen"]
    budgets = {m.name: m.budget for m in preset.members}
    first = budgets["lightgbm_image"] / sum(budgets[name] for name in ran)  # the skipped shares are not counted
    assert member_deadlines[0] == pytest.approx(100.0 * (1 - RESERVE) * first, abs=1.0)
    assert member_deadlines[-1] > 100.0 * (1 - RESERVE) - 1.0  # each left its time unused: the last gets it all


def test_only_with_members_are_skipped_on_a_text_table_and_leave_the_budget_as_before(tmp_path, member_deadlines):
    """Clothing-like table (text, numbers, categories): ``best`` fits its text-table members only,
    and the image members' shares are not counted."""
    frame = pd.DataFrame({"review": ["good"] * 40, "age": range(40), "y": [0, 1] * 20})
    y = frame["y"].to_numpy()
    context = MemberContext("y", TaskSpec("y", "binary", [0, 1]), {"review": "text", "age": "numeric"}, "roc_auc")
    preset = load_preset("best")
    splits, selection = make_splits(y, "binary", preset, 0)
    results = fit_members(preset, context, frame, y, splits, selection, 100.0, lambda p, rows: 0.5)
    ran = ["tfidf_linear", "tfidf_nbsvm", "lightgbm", "embed_linear", "neural_lora"]
    assert [r.name for r in results if r.status == "ok"] == ran
    assert {r.name: r.status for r in results}["lightgbm_image"].startswith("skipped: only_with image")
    budgets = {m.name: m.budget for m in preset.members}
    share = budgets["tfidf_linear"] / sum(budgets[name] for name in ran)
    assert member_deadlines[0] == pytest.approx(100.0 * (1 - RESERVE) * share, abs=1.0)


def test_best_fits_its_regression_members_on_a_regression_label_and_its_classification_ones_otherwise(member_deadlines):
    """``only_for``: on a book-price-like table (text, numbers, categories, a regression label)
    ``best`` fits ridge on the n-grams, the trees stacked on it and kernel ridge on the frozen embeddings
    and the n-grams (no neural member); the classification members' shares are not counted there, and
    the regression members' shares are not counted on a binary label (the clothing test above: its
    members and budgets as before)."""
    frame = pd.DataFrame({"title": ["a book"] * 40, "pages": range(40), "y": np.linspace(0.0, 1.0, 40)})
    y = frame["y"].to_numpy()
    context = MemberContext("y", TaskSpec("y", "regression"), {"title": "text", "pages": "numeric"}, "r2")
    preset = load_preset("best")
    splits, selection = make_splits(y, "regression", preset, 0)
    results = {r.name: r for r in fit_members(preset, context, frame, y, splits, selection, 100.0, lambda p, rows: 0.5)}
    ran = [name for name, r in results.items() if r.status == "ok"]
    assert ran == ["tfidf_ridge", "lightgbm_stacked", "kernel_ridge"]  # no neural member on a regression label
    assert results["lightgbm"].status.startswith("skipped: only_for binary/multiclass")
    assert results["neural_lora"].status.startswith("skipped: only_for binary/multiclass")
    assert results["tfidf_linear"].status == "skipped: only_for binary/multiclass, and the label is regression"
    assert results["embed_linear"].status.startswith("skipped: only_for binary/multiclass")
    plans = {m.name: m for m in preset.members}
    assert plans["tfidf_ridge"].options["alpha"] == [1.0, 2.0, 4.0] and plans["tfidf_ridge"].options["log_numbers"]
    assert plans["lightgbm_stacked"].options["stack_linear"]["alpha"] == 2.0
    assert not plans["lightgbm"].options.get("stack_linear")  # classification: the trees as before
    assert plans["kernel_ridge"].options["embeddings"] == plans["embed_linear"].options["embeddings"]  # one encoding
    assert plans["kernel_ridge"].options["linear"]["squared"] > 0 and plans["kernel_ridge"].options["centre"]
    budgets = {m.name: m.budget for m in preset.members}
    share = budgets["tfidf_ridge"] / sum(budgets[name] for name in ran)
    assert member_deadlines[0] == pytest.approx(100.0 * (1 - RESERVE) * share, abs=1.0)
