"""``lightgbm``'s ``stack_linear``: the trees read a ridge's out-of-fold predictions of their
training rows and the ridge fitted on every training row for other rows; saved and loaded."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from ensembletools import tiny_frame

from transmodal.ensemble.members.base import MEMBERS, MemberContext
from transmodal.ensemble.members.stacking import (StackRows, Stacked, fit_ridge, out_of_fold, ridge_scores,
                                                  ridge_targets)
from transmodal.heads.task import TaskSpec

COLUMNS = {"review": "text", "size": "numeric", "color": "categorical"}


def test_out_of_fold_predictions_come_from_ridges_that_did_not_see_the_row():
    """A row whose own features alone carry a huge target is fitted well in-sample but cannot be
    predicted by a ridge trained without it."""
    rng = np.random.default_rng(0)
    x = sp.csr_matrix(np.hstack([rng.normal(size=(60, 3)), np.eye(60)]).astype(np.float32))  # a private column per row
    y = (x[:, :3] @ np.array([1.0, -2.0, 0.5])).reshape(-1, 1)
    y[7] += 50.0
    coef, intercept = fit_ridge(x, y, 0.01)
    assert ridge_scores(coef, intercept, x[7])[0, 0] > 40  # in-sample: its private column learned it
    held = out_of_fold(x, y, 0.01, folds=5, seed=0)
    assert held.shape == (60, 1) and held[7, 0] < 10
    rows = StackRows(np.zeros((60, 2), dtype=np.float32), x)[np.arange(10, 20)]
    assert rows.dense.shape == (10, 2) and rows.linear.shape == (10, 63) and rows.shape == (10, 3)


def test_ridge_targets_are_the_target_or_the_class_indicators():
    y = np.array([0, 2, 1, 2])
    np.testing.assert_array_equal(ridge_targets(y, "multiclass", 3)[1], [0.0, 0.0, 1.0])
    assert ridge_targets(np.array([0.5, -1.0]), "regression", 0).shape == (2, 1)
    assert ridge_targets(np.array([0, 1, 1]), "binary", 2).shape == (3, 1)


@pytest.mark.parametrize("problem_type", ["regression", "multiclass"])
def test_a_stacked_lightgbm_member_fits_refits_and_survives_save_and_load(problem_type):
    frame = tiny_frame(160, classes=3, regression=problem_type == "regression")
    if problem_type == "regression":
        task, metric = TaskSpec("label", "regression"), "r2"
        y = frame["label"].to_numpy()
        y = (y - y.mean()) / y.std()
    else:
        task, metric = TaskSpec("label", "multiclass", ["maybe", "no", "yes"]), "log_loss"
        y = frame["label"].map({"maybe": 0, "no": 1, "yes": 2}).to_numpy()
    context = MemberContext("label", task, COLUMNS, metric)
    options = {"svd_components": 2, "num_boost_round": 30, "stack_linear": {"alpha": 1.0, "folds": 3}}
    member = MEMBERS.get("lightgbm")(context, options)
    member.prepare(frame)
    x = member.features(frame)
    assert isinstance(x, StackRows) and x.dense.shape == (160, 1 + 1 + 2)
    outputs = 1 if problem_type == "regression" else 3
    ridge_features = x.linear.shape[1]
    assert ridge_features == member.text.transform(frame).shape[1] + 3 + 2 + 1  # n-grams, colours, size+flag, log size

    model = member.fit_model(x[:120], y[:120], x[120:], y[120:], None)
    assert isinstance(model, Stacked) and model.coef.shape == (outputs, ridge_features)
    assert model.booster.num_feature() == 4 + outputs
    member.models = [model]
    scores = member.model_scores(model, x[120:])
    if problem_type == "regression":
        assert np.corrcoef(scores, y[120:])[0, 1] > 0.5
    else:
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6)
        assert (scores.argmax(axis=1) == y[120:]).mean() > 0.5
    member.models = [member.refit_model(x, y, None)]
    assert isinstance(member.models[0], Stacked)

    loaded = type(member).load(context, options, member.save())
    np.testing.assert_array_equal(loaded.predict(frame), member.predict(frame))
    assert isinstance(loaded.models[0], Stacked)


def test_without_stack_linear_the_member_reads_a_plain_matrix():
    frame = tiny_frame(60, regression=True)
    member = MEMBERS.get("lightgbm")(MemberContext("label", TaskSpec("label", "regression"), COLUMNS, "r2"),
                                     {"svd_components": 2})
    member.prepare(frame)
    assert isinstance(member.features(frame), np.ndarray)
    assert member.log_numbers.columns == []
