"""Issue 16 a, on the 900 selection rows only: would a second LoRA member of another kind help the
ensemble? Two ``presets_clothing --tuning-out`` files of ``best`` runs on the same split (the same
selection rows and the same cheap members' scores) each hold one LoRA member's scores; their
logits are weighted by ``best``'s stacking (L2 logistic regression on the logits, C 0.003, clipped
at 0) fitted on 4/5 of the rows and scored (AUROC) on the 5th, repeated stratified 5-fold x 4, for
the cheap members with either LoRA member or both. The test rows are never read.

Run: ``python -m benchmarks.presets_two_lora_study A.tuning.npz:neural_lora B.tuning.npz:neural_lora_top``.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.presets_selection_study import auc, stacked

CHEAP = ["embed_linear", "tfidf_linear", "tfidf_nbsvm", "lightgbm"]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p[:, 1], 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def main(argv: list[str] | None = None) -> None:
    from sklearn.model_selection import StratifiedKFold

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", help="FILE.npz:MEMBER")
    parser.add_argument("second", help="FILE.npz:MEMBER")
    args = parser.parse_args(argv)
    (path_a, lora_a), (path_b, lora_b) = (s.rsplit(":", 1) for s in (args.first, args.second))
    a, b = np.load(path_a), np.load(path_b)
    y = a["targets"].astype(int)
    if not (y == b["targets"]).all() or any(not np.allclose(a[n], b[n], atol=1e-6) for n in CHEAP):
        raise SystemExit("the two files do not hold the same selection rows and cheap members")
    logits = {n: _logit(a[n]) for n in CHEAP}
    logits["A:" + lora_a], logits["B:" + lora_b] = _logit(a[lora_a]), _logit(b[lora_b])
    correlation = float(np.corrcoef(logits["A:" + lora_a], logits["B:" + lora_b])[0, 1])
    print("selection-row AUROC:", {k: round(auc(y, v), 4) for k, v in logits.items()},
          "| correlation of the two LoRA logits:", round(correlation, 3))
    sets = {"cheap + A": CHEAP + ["A:" + lora_a], "cheap + B": CHEAP + ["B:" + lora_b],
            "cheap + A + B": CHEAP + ["A:" + lora_a, "B:" + lora_b], "A + B": ["A:" + lora_a, "B:" + lora_b]}
    scores = {k: [] for k in sets}
    for rep in range(4):
        for fit, held in StratifiedKFold(5, shuffle=True, random_state=rep).split(y, y):
            for k, names in sets.items():
                x = np.stack([logits[n] for n in names], axis=1)  # (900, M)
                w = np.clip(stacked(x[fit], y[fit], 0.003), 0, None)
                w = w / w.sum() if w.sum() > 0 else np.full(len(names), 1 / len(names))
                scores[k].append(auc(y[held], x[held] @ w))
    base = np.array(scores["cheap + A"])
    for k, values in scores.items():
        diff = np.array(values) - base
        error = diff.std() / np.sqrt(len(diff))
        print(f"{k:14s} {np.mean(values):.4f}  vs cheap + A {diff.mean():+.4f} +- {error:.4f}")


if __name__ == "__main__":
    main()
