"""Contract of every ensemble member kind (parametrised over the registry): a member fits on a
holdout split of a tiny table for binary, multiclass and regression labels, returns scores of the
right shape (probabilities summing to 1), and save/load gives identical predictions; nothing saved
is a Python object (tensors, JSON data, text)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ensemble"))
from ensembletools import TINY_NEURAL, tiny_frame  # noqa: E402

from transmodal.ensemble.members.base import MEMBERS, MemberContext  # noqa: E402
from transmodal.ensemble.training import fit_member  # noqa: E402
from transmodal.heads.task import TaskSpec  # noqa: E402

COLUMNS = {"review": "text", "size": "numeric", "color": "categorical"}
OPTIONS = {"neural": TINY_NEURAL["neural_frozen"], "lightgbm": {"num_boost_round": 20, "svd_components": 4},
           "kernel_ridge": {"embeddings": {"text": {"name": "builtin_text", "output_dim": 8}}, "components": 4}}


def test_registry_is_not_empty():
    assert {"tfidf_linear", "lightgbm", "neural"} <= set(MEMBERS.names())


@pytest.mark.parametrize("problem", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("kind", MEMBERS.names())
def test_member_fits_predicts_and_round_trips(kind, problem):
    frame = tiny_frame(60, classes=3 if problem == "multiclass" else 2, regression=problem == "regression")
    task = TaskSpec.from_series("label", frame["label"], problem)
    y, bad = task.encode(frame["label"], "tiny", allow_missing=False)
    assert not bad
    context = MemberContext("label", task, COLUMNS, "rmse" if problem == "regression" else "log_loss")
    reason = MEMBERS.get(kind).skip_reason(context, OPTIONS.get(kind, {}))
    if reason is not None:  # a member that does not learn this kind of label says so before it is fitted
        assert reason.startswith("skipped: ")
        pytest.skip(f"{kind} on a {problem} label: {reason}")
    member = MEMBERS.get(kind)(context, OPTIONS.get(kind, {}))
    rows = np.arange(len(frame))
    selection, status = fit_member(member, frame, y, [(rows[:45], rows[45:])], rows[45:], time.monotonic() + 120)
    assert status == "ok"
    scores = member.predict(frame.drop(columns=["label"]))
    if problem == "regression":
        assert selection.shape == (15,) and scores.shape == (60,)
    else:
        assert selection.shape == (15, len(task.classes)) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    files = member.save()
    json.dumps(files.meta)  # JSON data only
    assert all(isinstance(text, str) for text in files.texts.values())
    if kind != "neural" and "embeddings" not in OPTIONS.get(kind, {}):
        # a classical member reads its arrays with np.asarray (the folder gives torch tensors); one that
        # reads frozen embeddings also holds its encoders' network, whose state stays torch
        files.tensors = {k: np.asarray(v) for k, v in files.tensors.items()}
    loaded = MEMBERS.get(kind).load(context, OPTIONS.get(kind, {}), files)
    assert np.allclose(loaded.predict(frame), scores, atol=1e-6)


def test_unknown_option_is_refused():
    from transmodal.errors import ConfigError

    task = TaskSpec("label", "binary", ["no", "yes"])
    with pytest.raises(ConfigError, match="num_boost_rounds"):
        MEMBERS.get("lightgbm")(MemberContext("label", task, COLUMNS, "roc_auc"), {"num_boost_rounds": 3})
