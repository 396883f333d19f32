"""Clothing reviews, ``Recommended IND`` (issue 18): the seed-to-seed spread of the fold-model final
fit (``tune.final_fit="fold_models"``) of the default configuration and of the study's choice.

Reads ``benchmarks/results/issue-18-clothing-tune-folds.json`` (``benchmarks.tune_clothing``): the
default configuration and the study's best configuration, each scored by 3 folds and kept as its 3
fold models averaged (``AutoPredictor.tune`` with a one-trial study whose space fixes its values),
with seeds 1 and 2 (the seed draws the folds, the initialisation and the batch order; the
configurations are the ones chosen at seed 0, whose models the run itself measured). Features come
from that run's embedding store.

Run: ``flock /tmp/transmodal-bench.lock nice -n 0 .venv/bin/python -m benchmarks.tune_clothing_folds_seeds``
"""

from __future__ import annotations

import json
import os
import statistics

import pandas as pd

from benchmarks._machine import RESULTS_DIR, machine, save_json
from benchmarks.clothing_core import FEATURES, HYPERPARAMETERS
from benchmarks.datasets.clothing import build_clothing

LABEL, METRIC, SEEDS = "Recommended IND", "roc_auc", (1, 2)
SOURCE = "issue-18-clothing-tune-folds"
NAME = "issue-18-clothing-tune-folds-seeds"


def fold_models(train: pd.DataFrame, hyperparameters: dict, seed: int):
    """The configuration's 3 fold models, averaged (a one-trial study that changes nothing)."""
    from transmodal import AutoPredictor

    tune = {"n_trials": 1, "search_space": {"dropout": hyperparameters["dropout"]}, "pruner": "none", "cv_folds": 3,
            "final_fit": "fold_models", "study_name": f"seed-{seed}"}
    return AutoPredictor(LABEL, eval_metric=METRIC).tune(
        train[FEATURES + [LABEL]], hyperparameters=hyperparameters, seed=seed, column_types={"Age": "numeric"},
        feature_memo=True, tune=tune)


def main() -> None:
    os.environ["TRANSMODAL_CACHE"] = str(RESULTS_DIR.parent / "_work" / f"{SOURCE}-store")
    run = json.loads((RESULTS_DIR / f"{SOURCE}.json").read_text())
    paths = build_clothing()
    train, test = pd.read_csv(paths["train"]), pd.read_csv(paths["test"])
    configs = {"default": (HYPERPARAMETERS, run["default_fold_models"]),
               "tuned": ({**HYPERPARAMETERS, **run["tuned"]["summary"]["best_params"]}, run["tuned"])}
    results = {"machine": machine(), "load_start": os.getloadavg(), "source": SOURCE,
               "configs": {name: hp for name, (hp, _) in configs.items()}, "runs": []}
    for name, (hyperparameters, seed0) in configs.items():
        results["runs"].append({"config": name, "seed": 0, "cv_auroc": seed0["cv_auroc"],
                                "test_auroc": seed0["test"]["roc_auc"], "test_log_loss": seed0["test"]["log_loss"],
                                "fold_models_test_auroc": seed0["fold_models_test_auroc"], "from": SOURCE})
        for seed in SEEDS:
            auto = fold_models(train, hyperparameters, seed)
            scores = auto.evaluate(test)
            entry = {"config": name, "seed": seed, "cv_auroc": auto.tuning_score_, "test_auroc": scores["roc_auc"],
                     "test_log_loss": scores["log_loss"],
                     "fold_models_test_auroc": [p.evaluate(test)["roc_auc"] for p in auto.members_["neural"].models]}
            results["runs"].append(entry)
            print(entry, flush=True)
    for name in configs:
        runs = [r for r in results["runs"] if r["config"] == name]
        results[name] = {key: statistics.mean(r[key] for r in runs) for key in ("cv_auroc", "test_auroc", "test_log_loss")}
        results[name]["test_auroc_sd"] = statistics.stdev(r["test_auroc"] for r in runs)
        print(name, results[name], flush=True)
    results["load_end"] = os.getloadavg()
    print("saved", save_json(NAME, results), flush=True)


if __name__ == "__main__":
    main()
