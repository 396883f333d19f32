"""The default fit against TF-IDF + logistic regression on the clothing reviews (the brief's main job).

Protocol of issue 2 (``benchmarks.datasets.clothing``: 8,000 sampled rows, ``random_state=0``, 6,000
train / 2,000 test); features Title, Review Text, Age, Positive Feedback Count, Division Name,
Department Name; labels ``Recommended IND`` (AUROC, accuracy, macro-F1) and ``Rating`` (accuracy,
macro-F1). In one process, per label:

- the DEFAULT fit: ``MultimodalPredictor(label=label).fit(train, seed=s)``, no hyperparameters, no
  preset, no eval metric (only ``progress_bar=False``, which changes nothing but the display), for
  each seed of ``--seeds`` (default 0);
- ``--reference``: the same with the earlier default text encoder (the last MiniLM layer only,
  ``encoders: {text: {layers: 1}}``), for comparison;
- the TF-IDF + LR baseline of ``benchmarks.clothing_core`` on the same rows.

The persistent embedding store is a new empty folder (``TRANSMODAL_CACHE``), so the first label's
default fit is a first-time user's (it encodes every text); the second label's fit reads the texts
from the store. Fit and evaluation (which encodes the 2,000 test rows once) are timed apart.

Run: ``python -m benchmarks.default_vs_tfidf [--reference] [--labels "Recommended IND" Rating]
[--seeds 0 1 2] [--commit SHA] [--out NAME] [--rows N]``; raw results in ``benchmarks/results/NAME.json``.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time

import pandas as pd

from benchmarks._machine import machine, save_json
from benchmarks.clothing_core import FEATURES, tfidf_baseline
from benchmarks.datasets.clothing import build_clothing

DISPLAY = {"progress_bar": False}  # no model setting: the progress bar's lines only
EARLIER_DEFAULT = {**DISPLAY, "encoders": {"text": {"layers": 1}}}  # the last MiniLM layer (before this change)


def fit_and_score(train: pd.DataFrame, test: pd.DataFrame, label: str, hyperparameters: dict, seed: int = 0) -> dict:
    """One fit of ``label`` as a user makes it; its test metrics, fit and evaluation seconds."""
    from transmodal import MultimodalPredictor

    start = time.perf_counter()
    predictor = MultimodalPredictor(label=label).fit(train[FEATURES + [label]], hyperparameters=hyperparameters,
                                                    seed=seed)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    metrics = predictor.evaluate(test[FEATURES + [label]])
    epochs = predictor.history_["epochs"]
    return {"hyperparameters": hyperparameters, "seed": seed, "fit_seconds": fit_seconds,
            "evaluate_seconds": time.perf_counter() - start, "metrics": metrics,
            "encoders": predictor.encoder_settings_, "eval_metric": predictor.eval_metric_,
            "epochs_run": len(epochs), "best_epoch": predictor.history_["best_epoch"],
            "tuning_score": predictor.history_["best_score"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", nargs="+", default=["Recommended IND", "Rating"])
    parser.add_argument("--reference", action="store_true", help="also fit the earlier default (last layer)")
    parser.add_argument("--commit", default=None, help="the commit of an export (no .git to read it from)")
    parser.add_argument("--out", default="default-vs-tfidf")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="fit seeds of the default (the first is cold)")
    parser.add_argument("--rows", type=int, default=None, help="smoke runs only: the first N train and test rows")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")  # the fits' status lines
    os.environ["TRANSMODAL_CACHE"] = tempfile.mkdtemp(prefix="transmodal-bench-default-")  # cold store
    paths = build_clothing()
    train, test = pd.read_csv(paths["train"]), pd.read_csv(paths["test"])
    if args.rows:
        train, test = train.head(args.rows), test.head(args.rows)
    info = machine()
    if args.commit:
        info["commit"] = args.commit
    results = {"machine": info, "load_average_start": os.getloadavg(), "labels": {}}
    for label in args.labels:
        entry = results["labels"][label] = {}
        for seed in args.seeds:
            entry["default" + (f"_seed{seed}" if seed else "")] = fit_and_score(train, test, label, DISPLAY, seed)
        entry["tfidf_logreg"] = tfidf_baseline(train, test, label)
        if args.reference:
            entry["earlier_default_last_layer"] = fit_and_score(train, test, label, EARLIER_DEFAULT)
        for name, run in entry.items():
            scores = run.get("metrics", run)
            shown = {k: round(float(scores[k]), 4) for k in ("roc_auc", "accuracy", "f1_macro") if k in scores}
            print(f"{label}: {name} {shown} fit {run['fit_seconds']:.1f}s", flush=True)
        results["load_average_end"] = os.getloadavg()
        save_json(args.out, results)
    print("saved", save_json(args.out, results))


if __name__ == "__main__":
    main()
