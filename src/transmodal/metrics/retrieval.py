"""Retrieval metrics: recall at k, median rank and mean reciprocal rank, with several correct items.

A query's rank is the 1-based position of its first relevant gallery item when the gallery is sorted
by decreasing similarity (ties are broken by gallery order, as ``numpy.argsort`` with a stable sort).
"""

from __future__ import annotations

import numpy as np

from transmodal.errors import DataError

RECALL_AT = (1, 5, 10)


def first_relevant_rank(similarity: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Rank (1-based) of the best-placed relevant gallery item of each query.

    Args:
        similarity: (Q, G) scores, higher is more similar.
        relevant: (Q, G) bool, True where the gallery item answers the query.

    Raises:
        DataError: a query has no relevant gallery item.
    """
    if not relevant.any(axis=1).all():
        missing = int((~relevant.any(axis=1)).sum())
        raise DataError(f"{missing} retrieval query(ies) have no relevant gallery item")
    order = np.argsort(-similarity, axis=1, kind="stable")  # (Q, G) gallery indices, best first
    hits = np.take_along_axis(relevant, order, axis=1)  # (Q, G) relevance in ranked order
    return hits.argmax(axis=1) + 1  # (Q,)


def retrieval_metrics(similarity: np.ndarray, relevant: np.ndarray, ks=RECALL_AT) -> dict[str, float]:
    """``R@k`` (share of queries with a relevant item in the top k), ``median_rank`` and ``MRR``.

    Args:
        similarity: (Q, G) scores.
        relevant: (Q, G) bool.
        ks: The k of each recall.
    """
    ranks = first_relevant_rank(np.asarray(similarity), np.asarray(relevant, dtype=bool))
    metrics = {f"R@{k}": float((ranks <= k).mean()) for k in ks}
    metrics["median_rank"] = float(np.median(ranks))
    metrics["MRR"] = float((1.0 / ranks).mean())
    return metrics


def chance_recall(relevant: np.ndarray, k: int) -> float:
    """Expected R@k of a random ranking: mean over queries of ``1 - C(G-r, k) / C(G, k)``, with r the
    query's number of relevant items."""
    relevant = np.asarray(relevant, dtype=bool)
    gallery = relevant.shape[1]
    values = []
    for r in relevant.sum(axis=1):
        miss = 1.0
        for i in range(min(k, gallery)):
            miss *= max(gallery - r - i, 0) / (gallery - i)
        values.append(1.0 - miss)
    return float(np.mean(values))
