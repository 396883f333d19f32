"""Ensemble selection (Caruana et al. 2004): greedy forward selection with replacement.

Starting from the best single member, each step adds (again, possibly) the member whose addition
gives the best eval-metric score of the averaged predictions; the weights are how often each
member was added, at the step with the best score.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def greedy_weights(predictions: Sequence[np.ndarray], score: Callable[[np.ndarray], float],
                   rounds: int = 50) -> tuple[np.ndarray, float]:
    """Member weights (summing to 1) and the ensemble's score (higher is better).

    Args:
        predictions: One array per member, same shape: ``(N, C)`` probabilities or ``(N,)`` values
            for the selection rows.
        score: Higher-is-better score of an averaged prediction.
        rounds: Selection steps (the first picks the best single member).
    """
    if not predictions:
        raise ValueError("no member to select from")
    counts = np.zeros(len(predictions), dtype=int)
    total = np.zeros_like(np.asarray(predictions[0], dtype=np.float64))
    best_counts, best_score = None, -np.inf
    for step in range(1, rounds + 1):
        scores = [score((total + p) / step) for p in predictions]
        pick = int(np.nanargmax(scores)) if not np.all(np.isnan(scores)) else 0
        counts[pick] += 1
        total = total + predictions[pick]
        if scores[pick] > best_score + 1e-12:
            best_counts, best_score = counts.copy(), float(scores[pick])
    if best_counts is None:  # every score NaN: the first member alone
        best_counts = np.eye(len(predictions), dtype=int)[0]
    return best_counts / best_counts.sum(), best_score
