"""Ensemble selection (Caruana et al. 2004): greedy forward selection with replacement.

Starting from the best single member, each step adds (again, possibly) the member whose addition
gives the best eval-metric score of the averaged predictions; the weights are how often each
member was added, at the step with the best score.

What is averaged is the preset's ``blend``: ``mean`` averages class probabilities (or regression
values); ``geometric`` averages log-probabilities and renormalises (a weighted geometric mean: for
a binary label, the average of the members' logits), so that a member with confident, sharp
probabilities does not override the ranking of a calibrated one wherever it is sure. Regression
values are averaged either way.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

BLENDS = ("mean", "geometric")
_FLOOR = 1e-7  # smallest probability a log is taken of


def to_blend_space(scores: np.ndarray, blend: str) -> np.ndarray:
    """A member's scores in the space they are averaged in: ``(N, C)`` probabilities -> their
    logs for ``geometric``; unchanged for ``mean`` and for ``(N,)`` regression values."""
    if blend == "geometric" and scores.ndim == 2:
        return np.log(np.clip(scores, _FLOOR, 1.0))
    return scores


def from_blend_space(mixed: np.ndarray, blend: str) -> np.ndarray:
    """Averaged scores back to probabilities (softmax of averaged log-probabilities for
    ``geometric``; unchanged otherwise)."""
    if blend == "geometric" and mixed.ndim == 2:
        from scipy.special import softmax

        return softmax(mixed, axis=1)
    return mixed


def blend_scores(scores: Sequence[np.ndarray], weights: Sequence[float], blend: str) -> np.ndarray:
    """The ensemble's scores: members' ``scores`` averaged with ``weights`` (summing to 1) in the
    ``blend`` space, as probabilities ``(N, C)`` or values ``(N,)``."""
    mixed = sum(w * to_blend_space(np.asarray(s, dtype=np.float64), blend) for s, w in zip(scores, weights))
    return from_blend_space(mixed, blend)


def greedy_weights(predictions: Sequence[np.ndarray], score: Callable[[np.ndarray], float],
                   rounds: int = 50, blend: str = "mean") -> tuple[np.ndarray, float]:
    """Member weights (summing to 1) and the ensemble's score (higher is better).

    Args:
        predictions: One array per member, same shape: ``(N, C)`` probabilities or ``(N,)`` values
            for the selection rows.
        score: Higher-is-better score of an averaged prediction (probabilities or values).
        rounds: Selection steps (the first picks the best single member).
        blend: ``mean`` or ``geometric`` (see the module doc).
    """
    if not predictions:
        raise ValueError("no member to select from")
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {BLENDS}, got {blend!r}")
    spaced = [to_blend_space(np.asarray(p, dtype=np.float64), blend) for p in predictions]
    counts = np.zeros(len(spaced), dtype=int)
    total = np.zeros_like(spaced[0])
    best_counts, best_score = None, -np.inf
    for step in range(1, rounds + 1):
        scores = [score(from_blend_space((total + p) / step, blend)) for p in spaced]
        pick = int(np.nanargmax(scores)) if not np.all(np.isnan(scores)) else 0
        counts[pick] += 1
        total = total + spaced[pick]
        if scores[pick] > best_score + 1e-12:
            best_counts, best_score = counts.copy(), float(scores[pick])
    if best_counts is None:  # every score NaN: the first member alone
        best_counts = np.eye(len(spaced), dtype=int)[0]
    return best_counts / best_counts.sum(), best_score
