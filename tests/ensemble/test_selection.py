"""Greedy forward selection with replacement (Caruana et al.)."""

from __future__ import annotations

import numpy as np

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
