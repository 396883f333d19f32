"""Greedy forward selection with replacement (Caruana et al.)."""

from __future__ import annotations

import numpy as np
import pytest

from transmodal.ensemble.selection import greedy_weights


def accuracy_of(y):
    return lambda p: float((p.argmax(axis=1) == y).mean())


def test_weights_sum_to_one_and_the_best_member_leads():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    good = np.eye(2)[y] * 0.6 + 0.2
    noise = rng.random((200, 2))
    weights, score = greedy_weights([noise, good], accuracy_of(y), rounds=10)
    assert np.isclose(weights.sum(), 1.0) and weights[1] > weights[0] and score == 1.0


def test_two_complementary_members_beat_either_alone():
    # member a is right on the first half, b on the second; each is unsure where the other is right
    y = np.array([0, 1] * 50)
    right, unsure = np.eye(2)[y] * 0.9 + 0.05, np.full((100, 2), 0.5) + np.eye(2)[1 - y] * 0.02
    a = np.where(np.arange(100)[:, None] < 50, right, unsure)
    b = np.where(np.arange(100)[:, None] >= 50, right, unsure)
    score = accuracy_of(y)
    weights, best = greedy_weights([a, b], score, rounds=10)
    assert best == 1.0 > max(score(a), score(b))
    assert weights[0] > 0 and weights[1] > 0


def test_regression_scores_by_negative_error():
    y = np.linspace(0, 1, 50)
    weights, score = greedy_weights([y + 0.5, y - 0.5, y + 3], lambda p: -float(np.abs(p - y).mean()), rounds=8)
    assert np.allclose(weights, [0.5, 0.5, 0.0]) and np.isclose(score, 0.0)


def test_geometric_blend_of_a_binary_label_averages_the_logits():
    from transmodal.ensemble.selection import blend_scores

    logit = lambda p: np.log(p[:, 1] / p[:, 0])  # noqa: E731
    a = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    b = np.array([[0.6, 0.4], [0.01, 0.99], [0.3, 0.7]])
    mixed = blend_scores([a, b], [0.25, 0.75], "geometric")
    assert np.allclose(mixed.sum(axis=1), 1.0)
    assert np.allclose(logit(mixed), 0.25 * logit(a) + 0.75 * logit(b))
    assert np.allclose(blend_scores([a, b], [0.25, 0.75], "mean"), 0.25 * a + 0.75 * b)
    values = np.array([1.0, -2.0])
    assert np.allclose(blend_scores([values, 3 * values], [0.5, 0.5], "geometric"), 2 * values)  # regression


def test_geometric_selection_scores_the_renormalised_mix_and_refuses_unknown_blends():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    members = [np.eye(3)[np.where(rng.random(300) < q, y, rng.integers(0, 3, 300))] * 0.7 + 0.1 for q in (0.6, 0.8)]
    seen = []
    weights, best = greedy_weights(members, lambda p: seen.append(p) or accuracy_of(y)(p), rounds=6, blend="geometric")
    assert np.isclose(weights.sum(), 1.0) and weights[1] >= weights[0]
    assert all(np.allclose(p.sum(axis=1), 1.0) and (p > 0).all() for p in seen)  # probabilities, not logs
    with pytest.raises(ValueError, match="blend"):
        greedy_weights(members, accuracy_of(y), blend="median")


def test_stacked_weights_favour_the_informative_member_and_sum_to_one():
    from transmodal.ensemble.selection import stacked_weights

    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 400)
    sure = 1 / (1 + np.exp(-(3.0 * (2 * y - 1) + rng.normal(0, 1.5, 400))))  # informative logits
    noise = rng.random(400)
    members = [np.stack([1 - p, p], axis=1) for p in (noise, sure)]
    weights = stacked_weights(members, y, c=1.0)
    assert np.isclose(weights.sum(), 1.0) and (weights >= 0).all()
    assert weights[1] > 0.9


def test_stacked_weights_shrink_towards_each_other_as_c_falls():
    from transmodal.ensemble.selection import stacked_weights

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 600)
    signal = 2 * y - 1
    strong, weak = (1 / (1 + np.exp(-(k * signal + rng.normal(0, 1.5, 600)))) for k in (3.0, 1.0))
    members = [np.stack([1 - p, p], axis=1) for p in (strong, weak)]
    loose, tight = stacked_weights(members, y, c=10.0), stacked_weights(members, y, c=0.001)
    assert loose[0] > loose[1] and tight[0] > tight[1]  # the strong member leads either way
    assert tight[0] - tight[1] < loose[0] - loose[1]


def test_stacked_weights_fall_back_to_the_best_ranking_member_and_refuse_multiclass():
    from transmodal.ensemble.selection import stacked_weights

    y = np.array([0, 1] * 20)
    wrong = np.stack([np.where(y == 1, 0.8, 0.2), np.where(y == 1, 0.2, 0.8)], axis=1)  # every row ranked backwards
    weights = stacked_weights([wrong, wrong.copy()], y, c=1.0)  # both anti-informative: every coefficient < 0
    assert np.allclose(weights, [1.0, 0.0])
    with pytest.raises(ValueError, match="binary"):
        stacked_weights([np.full((4, 3), 1 / 3)], np.array([0, 1, 2, 0]), c=1.0)
    with pytest.raises(ValueError, match="both classes"):
        stacked_weights([np.full((4, 2), 0.5)], np.zeros(4), c=1.0)
