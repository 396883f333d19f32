"""Retrieval metrics with one and with several relevant gallery items."""

from __future__ import annotations

import numpy as np
import pytest

from transmodal.metrics.retrieval import chance_recall, retrieval_metrics


def test_ranks_with_several_relevant_items():
    similarity = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8], [0.7, 0.6, 0.1]])
    relevant = np.array([[False, True, True], [True, False, False], [True, True, False]])
    # query 0: order 0, 2, 1 -> first relevant at rank 2; query 1: order 2, 1, 0 -> rank 3; query 2: rank 1
    metrics = retrieval_metrics(similarity, relevant, ks=(1, 2))
    assert metrics["R@1"] == pytest.approx(1 / 3)
    assert metrics["R@2"] == pytest.approx(2 / 3)
    assert metrics["median_rank"] == 2
    assert metrics["MRR"] == pytest.approx((1 / 2 + 1 / 3 + 1) / 3)


def test_chance_recall():
    relevant = np.eye(10, dtype=bool)
    assert chance_recall(relevant, 1) == pytest.approx(0.1)
    assert chance_recall(relevant, 5) == pytest.approx(0.5)
