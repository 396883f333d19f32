"""Retrieval in an aligned space: top-k search and evaluation with several matching gallery rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from transmodal.data.readers import Table
from transmodal.errors import DataError


def top_k(queries: np.ndarray, gallery: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine scores (Q, k) of the ``k`` most similar gallery rows, best first.

    Args:
        queries: Unit embeddings (Q, D); NaN rows (missing cells) score NaN everywhere.
        gallery: Unit embeddings (G, D); NaN rows are never returned.
    """
    similarity = np.nan_to_num(queries, nan=0.0) @ np.nan_to_num(gallery, nan=0.0).T  # (Q, G)
    similarity[:, np.isnan(gallery).any(axis=1)] = -np.inf
    k = min(int(k), gallery.shape[0])
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]  # (Q, k)
    scores = np.take_along_axis(similarity, order, axis=1)
    scores[np.isnan(queries).any(axis=1)] = np.nan
    return order, scores


def relevance(frame: pd.DataFrame, item_column: str | None) -> np.ndarray:
    """(N, N) bool: gallery row j answers query row i when they share ``item_column``'s value, or
    when i == j if it is None."""
    if item_column is None:
        return np.eye(len(frame), dtype=bool)
    if item_column not in frame.columns:
        raise DataError(f"item column {item_column!r} is not in the table")
    items = pd.factorize(frame[item_column].astype(str))[0]
    return items[:, None] == items[None, :]


def evaluate_table(model, table: Table, query_column: str, gallery_column: str,
                   item_column: str | None) -> dict[str, float]:
    """Retrieval metrics over the rows of ``table`` that have both cells (see ``retrieval_metrics``)."""
    from transmodal.metrics.retrieval import chance_recall, retrieval_metrics

    queries = model.encode(table, query_column)
    gallery = model.encode(table, gallery_column)
    keep = ~np.isnan(queries).any(axis=1) & ~np.isnan(gallery).any(axis=1)
    if keep.sum() < 2:
        raise DataError(f"{table.source}: fewer than two rows have both {query_column!r} and {gallery_column!r}")
    relevant = relevance(table.frame, item_column)[keep][:, keep]
    metrics = retrieval_metrics(queries[keep] @ gallery[keep].T, relevant)
    metrics.update({f"chance_R@{k}": chance_recall(relevant, k) for k in (1, 5, 10)})
    return metrics
