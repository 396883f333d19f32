"""Ensemble selection (Caruana et al. 2004): greedy forward selection with replacement.

Starting from the best single member, each step adds (again, possibly) the member whose addition
gives the best eval-metric score of the averaged predictions; the weights are how often each
member was added, at the step with the best score.

What is averaged is the preset's ``blend``: ``mean`` averages class probabilities (or regression
values); ``geometric`` averages log-probabilities and renormalises (a weighted geometric mean: for
a binary label, the average of the members' logits), so that a member with confident, sharp
probabilities does not override the ranking of a calibrated one wherever it is sure. Regression
values are averaged either way.

:func:`stacked_weights` is the other way to fit the weights (a preset's ``selection: stacking``), for
a binary label with the geometric blend: an L2-penalised logistic regression of the label on the
members' logits, its coefficients clipped at 0 and normalised to sum to 1, so that the ensemble is
the same weighted mean of logits as greedy selection gives (saved and predicted the same way). The
strong penalty shrinks the weights towards each other: on a few hundred selection rows the greedy
steps chase the rows' noise when one member (a LoRA network) is much stronger than the rest.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

BLENDS = ("mean", "geometric")
SELECTIONS = ("greedy", "stacking")
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


def stacked_weights(predictions: Sequence[np.ndarray], targets: np.ndarray, c: float) -> np.ndarray:
    """Member weights (summing to 1) from a logistic regression on the members' logits.

    Args:
        predictions: One ``(N, 2)`` probability array per member (binary label).
        targets: ``(N,)`` class indices 0/1.
        c: Inverse L2 strength of the logistic regression (small: weights near each other).

    Returns:
        ``(M,)`` non-negative weights summing to 1 (the coefficients clipped at 0); when every
        coefficient is <= 0, weight 1 on the member whose logits rank the rows best (AUROC).

    Raises:
        ValueError: predictions that are not two-class probabilities, or a single class in ``targets``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    arrays = [np.asarray(p, dtype=np.float64) for p in predictions]
    if not arrays or any(p.ndim != 2 or p.shape[1] != 2 for p in arrays):
        raise ValueError("stacking needs (N, 2) probabilities of a binary label from every member")
    targets = np.asarray(targets).astype(int)
    if len(np.unique(targets)) < 2:
        raise ValueError("stacking needs both classes among the selection rows")
    logits = np.stack([np.diff(to_blend_space(p, "geometric"), axis=1)[:, 0] for p in arrays], axis=1)  # (N, M)
    coef = np.clip(LogisticRegression(C=c, max_iter=1000).fit(logits, targets).coef_[0], 0.0, None)
    if coef.sum() <= 0:
        coef = np.eye(len(arrays))[int(np.argmax([roc_auc_score(targets, z) for z in logits.T]))]
    return coef / coef.sum()
