"""Choosing the default fit's settings on the clothing TRAINING rows only (never the test rows).

Stratified k-fold cross-validation (``random_state=0``) of the 6,000 training rows of the issue-2
split, label ``Recommended IND``: for each variant (settings over the default fit), one fit per fold
on the other folds (as a user's default fit: its own 15% holdout for the epoch), scored by AUROC,
accuracy and log-loss on the held-out fold. The test rows are not read.

Run: ``TRANSMODAL_CACHE=STORE python -m benchmarks.default_cv [--folds 3] [--out NAME]`` (a store
filled by ``benchmarks.default_vs_tfidf`` makes every fit a head fit); raw results in
``benchmarks/results/NAME.json``.
"""

from __future__ import annotations

import argparse
import logging
import os
import time

import numpy as np
import pandas as pd

from benchmarks._machine import machine, save_json
from benchmarks.clothing_core import FEATURES
from benchmarks.datasets.clothing import build_clothing

LABEL = "Recommended IND"
DISPLAY = {"progress_bar": False}
VARIANTS = {  # name -> (hyperparameters over the default, eval_metric)
    "default": ({}, None),
    "epoch_by_roc_auc": ({}, "roc_auc"),
    "epoch_by_log_loss": ({}, "log_loss"),
    "dropout_0.3": ({"dropout": 0.3}, None),
    "lr_3e-4": ({"learning_rate": 3e-4}, None),
}


def main() -> None:
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from transmodal import MultimodalPredictor

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--commit", default=None)
    parser.add_argument("--out", default="default-cv")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    train = pd.read_csv(build_clothing()["train"])[FEATURES + [LABEL]]
    info = machine()
    if args.commit:
        info["commit"] = args.commit
    results = {"machine": info, "load_average_start": os.getloadavg(), "folds": args.folds, "variants": {}}
    folds = list(StratifiedKFold(args.folds, shuffle=True, random_state=0).split(train, train[LABEL]))
    for name in args.variants:
        overrides, metric = VARIANTS[name]
        scores = []
        for fit_rows, held_rows in folds:
            start = time.perf_counter()
            predictor = MultimodalPredictor(label=LABEL, eval_metric=metric).fit(
                train.iloc[fit_rows], hyperparameters={**DISPLAY, **overrides})
            held = train.iloc[held_rows]
            proba = predictor.predict_proba(held.drop(columns=[LABEL])).to_numpy()[:, -1]  # classes 0, 1
            y = held[LABEL].to_numpy()
            scores.append({"roc_auc": roc_auc_score(y, proba), "accuracy": accuracy_score(y, proba > 0.5),
                           "log_loss": log_loss(y, np.clip(proba, 1e-7, 1 - 1e-7)),
                           "best_epoch": predictor.history_["best_epoch"], "seconds": time.perf_counter() - start})
        mean = {k: float(np.mean([s[k] for s in scores])) for k in ("roc_auc", "accuracy", "log_loss")}
        results["variants"][name] = {"overrides": overrides, "eval_metric": metric, "folds": scores, "mean": mean}
        print(name, {k: round(v, 4) for k, v in mean.items()}, [round(s["roc_auc"], 4) for s in scores], flush=True)
        results["load_average_end"] = os.getloadavg()
        save_json(args.out, results)


if __name__ == "__main__":
    main()
