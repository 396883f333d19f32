"""Choosing the default fit's settings on the clothing TRAINING rows only (never the test rows).

Stratified k-fold cross-validation (``random_state=0``) of the 6,000 training rows of the issue-2
split, label ``Recommended IND`` (or ``--label Rating``): for each variant (settings over the default
fit) and seed, one fit per fold on the other folds (as a user's default fit: its own 15% holdout for
the epoch), scored on the held-out fold by AUROC (binary), accuracy, macro-F1 and log-loss. The
test rows are not read.

Run: ``TRANSMODAL_CACHE=STORE python -m benchmarks.default_cv [--label L] [--folds 3] [--seeds 0 1]
[--variants ...] [--out NAME]`` (a store that holds the training texts' features makes every fit a
head fit); raw results in ``benchmarks/results/NAME.json``.
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

DISPLAY = {"progress_bar": False}
VARIANTS = {  # name -> (hyperparameters over the default, eval_metric)
    "default": ({}, None),
    "epoch_by_roc_auc": ({}, "roc_auc"),
    "epoch_by_log_loss": ({}, "log_loss"),
    "dropout_0.1": ({"dropout": 0.1}, None),
    "dropout_0.3": ({"dropout": 0.3}, None),
    "lr_3e-4": ({"learning_rate": 3e-4}, None),
    "lr_3e-4_by_log_loss": ({"learning_rate": 3e-4}, "log_loss"),
    "lr_3e-4_by_roc_auc": ({"learning_rate": 3e-4}, "roc_auc"),
    "dropout_0.5_by_log_loss": ({"dropout": 0.5}, "log_loss"),
    "smoothing_0.1_by_log_loss": ({"label_smoothing": 0.1}, "log_loss"),
    "wd_0.1_by_log_loss": ({"weight_decay": 0.1}, "log_loss"),
    "patience_10_by_log_loss": ({"patience": 10}, "log_loss"),
}


def fold_scores(predictor, held: pd.DataFrame, label: str) -> dict:
    """AUROC (binary), accuracy, macro-F1 and log-loss of ``predictor`` on the held-out rows."""
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

    proba = predictor.predict_proba(held.drop(columns=[label]))
    classes = list(proba.columns)
    y = held[label].to_numpy()
    values = proba.to_numpy()
    predicted = np.asarray(classes)[values.argmax(axis=1)]
    scores = {"accuracy": accuracy_score(y, predicted), "f1_macro": f1_score(y, predicted, average="macro"),
              "log_loss": log_loss(y, np.clip(values, 1e-7, 1 - 1e-7), labels=classes)}
    if len(classes) == 2:
        scores["roc_auc"] = roc_auc_score(y, values[:, 1])
    return scores


def main() -> None:
    from sklearn.model_selection import StratifiedKFold

    from transmodal import MultimodalPredictor

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="Recommended IND")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--commit", default=None)
    parser.add_argument("--out", default="default-cv")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    label = args.label
    train = pd.read_csv(build_clothing()["train"])[FEATURES + [label]]
    info = machine()
    if args.commit:
        info["commit"] = args.commit
    results = {"machine": info, "load_average_start": os.getloadavg(), "label": label, "folds": args.folds,
               "seeds": args.seeds, "variants": {}}
    folds = list(StratifiedKFold(args.folds, shuffle=True, random_state=0).split(train, train[label]))
    for name in args.variants:
        overrides, metric = VARIANTS[name]
        scores = []
        for seed in args.seeds:
            for fit_rows, held_rows in folds:
                start = time.perf_counter()
                predictor = MultimodalPredictor(label=label, eval_metric=metric).fit(
                    train.iloc[fit_rows], hyperparameters={**DISPLAY, **overrides}, seed=seed)
                scores.append({**fold_scores(predictor, train.iloc[held_rows], label), "seed": seed,
                               "best_epoch": predictor.history_["best_epoch"],
                               "epochs_run": len(predictor.history_["epochs"]),
                               "seconds": time.perf_counter() - start})
        keys = [k for k in ("roc_auc", "accuracy", "f1_macro", "log_loss") if k in scores[0]]
        mean = {k: float(np.mean([s[k] for s in scores])) for k in keys}
        results["variants"][name] = {"overrides": overrides, "eval_metric": metric, "folds": scores, "mean": mean}
        main_key = keys[0]
        print(name, {k: round(v, 4) for k, v in mean.items()}, [round(s[main_key], 4) for s in scores],
              "epochs", [s["best_epoch"] + 1 for s in scores], flush=True)
        results["load_average_end"] = os.getloadavg()
        save_json(args.out, results)


if __name__ == "__main__":
    main()
