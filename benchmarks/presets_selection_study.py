"""How the ensemble weights of a binary preset run would fare with other selection methods, studied on
the saved scores of its selection rows only (``presets_clothing --tuning-out``; no refit, the test
rows never read). Issue 16 a.

Protocol: repeated stratified 5-fold splits of the selection rows; each method fits weights on 4/5 of
the rows and the weighted sum of the members' logits is scored (AUROC) on the 5th. Methods: ``greedy``
(the presets' forward selection with replacement, 60 rounds, logits averaged as ``blend: geometric``),
``bagged20`` (greedy on 20 random halves, weights averaged), ``equal`` (every member weight 1),
``lrC`` (logistic regression on the logits, L2 strength 1/C: stacking).

Run: ``python -m benchmarks.presets_selection_study benchmarks/results/X.tuning.npz [--reps 4]``.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import rankdata


def auc(y: np.ndarray, s: np.ndarray) -> float:
    """AUROC from ranks (Mann-Whitney)."""
    r = rankdata(s)
    n1 = y.sum()
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1)))


def greedy(logits: np.ndarray, y: np.ndarray, rounds: int = 60) -> np.ndarray:
    """Forward selection with replacement on the AUROC of the summed logits ``(N, M)``."""
    counts, total, best, kept = np.zeros(logits.shape[1]), np.zeros(len(y)), -1.0, None
    for _ in range(rounds):
        scores = [auc(y, total + logits[:, j]) for j in range(logits.shape[1])]
        j = int(np.argmax(scores))
        counts[j] += 1
        total += logits[:, j]
        if scores[j] > best + 1e-12:
            best, kept = scores[j], counts.copy()
    return kept / kept.sum()


def bagged(logits: np.ndarray, y: np.ndarray, bags: int = 20) -> np.ndarray:
    rng = np.random.default_rng(0)
    picks = [rng.choice(len(y), len(y) // 2, replace=False) for _ in range(bags)]
    return np.mean([greedy(logits[p], y[p]) for p in picks], axis=0)


def stacked(logits: np.ndarray, y: np.ndarray, c: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c).fit(logits, y).coef_[0]


def main(argv: list[str] | None = None) -> None:
    from sklearn.model_selection import StratifiedKFold

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores")
    parser.add_argument("--reps", type=int, default=4)
    args = parser.parse_args(argv)
    saved = np.load(args.scores)
    y = saved["targets"].astype(int)
    names = [n for n in saved.files if n != "targets"]
    p = np.stack([np.clip(saved[n][:, 1], 1e-7, 1 - 1e-7) for n in names], axis=1)  # (N, M)
    logits = np.log(p) - np.log1p(-p)
    print({n: round(auc(y, logits[:, i]), 4) for i, n in enumerate(names)})
    methods = {"greedy": lambda a: greedy(logits[a], y[a]), "bagged20": lambda a: bagged(logits[a], y[a]),
               "equal": lambda a: np.ones(len(names)), "lr0.01": lambda a: stacked(logits[a], y[a], 0.01),
               "lr0.1": lambda a: stacked(logits[a], y[a], 0.1)}
    held = {k: [] for k in methods}
    for rep in range(args.reps):
        for a, b in StratifiedKFold(5, shuffle=True, random_state=rep).split(y, y):
            for k, fit in methods.items():
                held[k].append(auc(y[b], logits[b] @ fit(a)))
    base = np.array(held["greedy"])
    for k, values in held.items():
        diff = np.array(values) - base
        print(f"{k:9s} {np.mean(values):.4f}  vs greedy {diff.mean():+.4f} +- {diff.std() / np.sqrt(len(diff)):.4f}")
    every = np.arange(len(y))
    for k in ("greedy", "bagged20", "lr0.01"):
        print(k, "weights on every row", dict(zip(names, np.round(methods[k](every), 3))))


if __name__ == "__main__":
    main()
