"""Clothing reviews, ``Recommended IND`` (issue 18, acceptance a): a 30-trial Optuna search with
pruning against the default configuration, frozen packaged MiniLM features.

Protocol: the split and features of issue 2 (``benchmarks.clothing_core``: 8,000 sampled rows, 6,000
train, 2,000 test; Title, Review Text, Age, Positive Feedback Count, Division Name, Department Name;
eval metric AUROC). The default configuration is that protocol's base hyperparameters
(``clothing_core.HYPERPARAMETERS``: concat fusion, hidden 256, dropout 0.2, lr 1e-3, batch 64, up to
30 epochs, patience 6). The study starts from the same hyperparameters and searches the packaged
``default`` space (learning rate, dropout, hidden size, fusion, weight decay, batch size, modality
dropout) with TPE and the median pruner, seed 0; its first trial is the default configuration
(``tune.base_trial``).

Trials are scored by 3-fold cross-validation over the 6,000 training rows (``tune.cv_folds``: each
trial is three fits, each tuned on 2,000 rows, scored by the mean of the folds' best AUROC; the
pruner watches the first fold's per-epoch AUROC). The chosen configuration's three fold models are
the model, their predictions averaged (``tune.final_fit="fold_models"``, ``AutoPredictor.tune``:
bagging, chosen as the default before this run because it removes one fit's seed and epoch-choice
variance, as AutoGluon's bagged models do). The study is stored in SQLite
(``benchmarks/_work/NAME.db``): a rerun resumes it, and reruns no finished trial. So that the reader
sees where a gain comes from, three models are evaluated on the test set (each once, after every
choice is made), plus each fold model alone (the single fits the averages are made of):

* ``default``: the default configuration as a plain fit (the automatic 15% holdout choosing its
  epoch), the protocol's model;
* ``default_fold_models``: the default configuration scored by the same 3 folds, its 3 fold models
  averaged (a one-trial study whose space fixes its values): the default under the same final fit;
* ``tuned``: the study's model (the chosen configuration's 3 fold models, averaged).

The default's 3-fold score is also the study's trial 0 (the base trial): the script checks both are
equal. Frozen MiniLM features come from the persistent embedding store of issue 15: a cold folder of
its own (emptied first, so the default fit encodes), or ``--store PATH``, a warm store copied into
the run's own folder (then the default fit reads the features instead of encoding them).

Run: ``flock /tmp/transmodal-bench.lock nice -n 0 .venv/bin/python -m benchmarks.tune_clothing
[--store PATH] [--name NAME]`` (earlier runs with ``final_fit`` ``all_rows`` and ``holdout``: RESULTS.md).
"""

from __future__ import annotations

import shutil
import time

import pandas as pd

from benchmarks._machine import RESULTS_DIR, machine, save_json
from benchmarks.clothing_core import FEATURES, HYPERPARAMETERS
from benchmarks.datasets.clothing import build_clothing

LABEL, METRIC = "Recommended IND", "roc_auc"
# the timeout only bounds the lock time on the shared machine: no trial starts after 45 minutes
TUNE = {"n_trials": 30, "timeout": 2700, "search_space": "default", "pruner": "median", "startup_trials": 5,
        "warmup_epochs": 1, "cv_folds": 3, "final_fit": "fold_models", "base_trial": True,
        "study_name": "issue-18-clothing"}
# the default configuration scored as a trial is: a space that changes nothing
DEFAULT_AS_TRIAL = {"n_trials": 1, "search_space": {"dropout": HYPERPARAMETERS["dropout"]}, "pruner": "none",
                    "cv_folds": TUNE["cv_folds"], "final_fit": TUNE["final_fit"], "study_name": "default-configuration"}
NAME = "issue-18-clothing-tune-folds"


def fit(train: pd.DataFrame):
    """The protocol's default model: one plain fit; returns the predictor and the wall time."""
    from transmodal import MultimodalPredictor

    start = time.perf_counter()
    predictor = MultimodalPredictor(label=LABEL, eval_metric=METRIC).fit(
        train[FEATURES + [LABEL]], hyperparameters=HYPERPARAMETERS, seed=0, column_types={"Age": "numeric"},
        feature_memo=True)
    return predictor, time.perf_counter() - start


def tune(train: pd.DataFrame, settings: dict):
    """A study whose chosen configuration's fold models, averaged, are the model (an AutoPredictor)."""
    from transmodal import AutoPredictor

    start = time.perf_counter()
    auto = AutoPredictor(LABEL, eval_metric=METRIC).tune(
        train[FEATURES + [LABEL]], hyperparameters=HYPERPARAMETERS, seed=0, column_types={"Age": "numeric"},
        feature_memo=True, tune=settings)
    return auto, time.perf_counter() - start


def averaged(auto, test: pd.DataFrame, seconds: float) -> dict:
    """The fold-model average on test, each fold model alone on test, and the study's numbers."""
    folds = auto.members_["neural"].models
    summary = auto.tuning_
    return {"cv_auroc": summary["best_score"], "test": auto.evaluate(test), "seconds": seconds,
            "fold_models_test_auroc": [p.evaluate(test)["roc_auc"] for p in folds],
            "fold_models_tuning_auroc": [p.history_["best_score"] for p in folds],
            "fold_models_best_epoch": [p.history_["best_epoch"] for p in folds],
            "final_fit": summary.get("final_fit"), "fold_epochs": summary.get("fold_epochs")}


def arguments():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", default=None, help="a warm embedding store to copy and read (default: cold)")
    parser.add_argument("--name", default=NAME, help="results name: benchmarks/results/NAME.json, NAME-trials.csv")
    return parser.parse_args()


def main() -> None:
    import logging
    import os

    args = arguments()
    work = RESULTS_DIR.parent / "_work"
    store = work / f"{args.name}-store"
    if store.exists():
        shutil.rmtree(store)
    if args.store:
        shutil.copytree(args.store, store)  # warm: the default fit reads the features
    os.environ["TRANSMODAL_CACHE"] = str(store)  # cold: the default fit encodes, the trials read
    settings = {**TUNE, "storage": f"sqlite:///{work / (args.name + '.db')}"}  # resumable

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("transmodal.tuning").setLevel(logging.INFO)
    paths = build_clothing()
    train, test = pd.read_csv(paths["train"]), pd.read_csv(paths["test"])
    results = {"machine": machine(), "load_start": os.getloadavg(), "hyperparameters": HYPERPARAMETERS,
               "tune": settings, "store": f"copy of {args.store}" if args.store else "cold, own folder"}

    default, seconds = fit(train)
    epochs = [e["epoch_seconds"] for e in default.history_["epochs"]]
    results["default"] = {"tuning_auroc": default.history_["best_score"], "test": default.evaluate(test),
                          "fit_seconds": seconds, "first_epoch_seconds": epochs[0], "epochs": len(epochs),
                          "best_epoch": default.history_["best_epoch"], "encoding": default.history_.get("encoding")}
    print("default", results["default"], flush=True)

    scored, seconds = tune(train, DEFAULT_AS_TRIAL)
    results["default_fold_models"] = averaged(scored, test, seconds)
    print("default fold models", results["default_fold_models"], flush=True)

    tuned, seconds = tune(train, settings)
    summary, trials = tuned.tuning_, tuned.trials_
    results["tuned"] = {**averaged(tuned, test, seconds), "summary": summary}
    results["base_trial"] = {"score": trials[0]["score"], "fold_scores": trials[0]["fold_scores"],
                             "equals_default_cv": trials[0]["score"] == results["default_fold_models"]["cv_auroc"]}
    print("tuned", {k: v for k, v in results["tuned"].items() if k != "summary"}, flush=True)
    print("base trial", results["base_trial"], flush=True)
    print("summary", summary, flush=True)
    results["load_end"] = os.getloadavg()

    folder = work / args.name
    if folder.exists():
        shutil.rmtree(folder)
    tuned.save(folder)  # the study's model (an ensemble folder), with trials.csv and report.html
    shutil.copyfile(folder / "trials.csv", RESULTS_DIR / f"{args.name}-trials.csv")
    print("saved", save_json(args.name, results), flush=True)


if __name__ == "__main__":
    main()
