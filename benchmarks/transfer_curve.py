"""Digits learning curve (issue 4, acceptance d): USPS test accuracy per labelled USPS images per
class, for training from scratch and for the transfer strategies from the MNIST source model.

Protocol: the seed-0 augmented MNIST source model of ``benchmarks.transfer_digits`` (run that
first; its folder is ``benchmarks/_work/transfer_digits/source_augmented_seed0``); shots drawn from USPS train with
``numpy.random.default_rng(0)`` per class (:func:`transmodal.experiments.learning_curve.sample_shots`); every
fit evaluated on USPS test (accuracy). With 1, 5 or 10 shots per class no rows are held out
(``holdout_fraction=0``: a holdout of 1-15 rows cannot pick an epoch; every fit trains its epoch
budget and keeps the last epoch); with 50 and all, each fit's best epoch is picked by log-loss on
its automatic holdout. Epochs shrink as the labelled set grows (the same for every strategy).

Run: ``.venv/bin/python -m benchmarks.transfer_curve [--shots 1 5 10 50 all]``; writes
``benchmarks/results/issue-4-learning-curve.csv`` and ``.png``.
"""

from __future__ import annotations

import argparse

import pandas as pd

from benchmarks._machine import RESULTS_DIR
from benchmarks.datasets.digits_transfer import build_digits_transfer
from benchmarks.datasets.tables import read_csv_with_absolute_paths
from benchmarks.transfer_digits import FEW_SHOT, source_folder

STRATEGIES = ["scratch", "linear_probe", "finetune", "lora", "l2sp"]
EPOCHS = {"1": 40, "5": 40, "10": 40, "50": 15, "all": 5}
NO_HOLDOUT = ("1", "5", "10")  # so few labels that none are held out: the whole epoch budget, last epoch kept


def main(argv: list[str] | None = None) -> None:
    from transmodal.experiments.learning_curve import learning_curve, plot_curve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", nargs="+", default=["1", "5", "10", "50", "all"])
    parser.add_argument("--strategies", nargs="+", default=STRATEGIES)
    args = parser.parse_args(argv)
    paths = build_digits_transfer()
    train, test = read_csv_with_absolute_paths(paths["usps_train"]), read_csv_with_absolute_paths(paths["usps_test"])
    parts = []
    for shots in args.shots:
        hp = {**FEW_SHOT, "max_epochs": EPOCHS.get(shots, 15), "batch_size": 16 if shots != "all" else 64,
              "holdout_fraction": 0.0 if shots in NO_HOLDOUT else 0.15}
        k = shots if shots == "all" else int(shots)
        part = learning_curve(train, test, "digit", [k], args.strategies, init_from=str(source_folder("augmented", 0)),
                              hyperparameters=hp, seed=0, metric="accuracy", eval_metric="log_loss")
        parts.append(part)
        print(part.to_string(index=False), flush=True)
        curve = pd.concat(parts, ignore_index=True)
        curve.to_csv(RESULTS_DIR / "issue-4-learning-curve.csv", index=False)
        plot_curve(curve, RESULTS_DIR / "issue-4-learning-curve.png")


if __name__ == "__main__":
    main()
