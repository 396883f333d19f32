"""Issue 6 benchmark: AV-digits with two tasks, ``digit`` and ``speaker``, single- vs multi-task.

Core protocol (degraded images, train/tuning/test from :mod:`benchmarks.datasets.av_digits`); the
features are the ``image`` and ``audio`` columns; ``speaker`` (6 FSDD speakers, from the paired
clip) is a second target instead of metadata. Trains one single-task model per task and one
multi-task model per architecture (equal weighting) on the same rows with the same budget, and
reports test accuracy per task, delta_m and wall times.

Run from the repo root::

    nice -n 5 .venv/bin/python -m benchmarks.multitask_av_digits --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from benchmarks.datasets.tables import read_csv_with_absolute_paths

TASKS = {"digit": "multiclass", "speaker": "multiclass"}
METRICS = {"digit": "accuracy", "speaker": "accuracy"}
RESULTS = Path(__file__).parent / "results"


def hyperparameters(args: argparse.Namespace, multitask: dict | None = None) -> dict:
    """The AV-digits protocol settings (``benchmarks/av_digits_core.py``, default built-in CNN
    encoders), the same budget for every model."""
    from benchmarks.av_digits_core import HYPERPARAMETERS

    return {**HYPERPARAMETERS, "max_epochs": args.max_epochs, "multitask": multitask or {}}


def run(label, tables: dict[str, Path], args, hp, seed) -> tuple[dict, float]:
    """Fit on train (early stopping on tuning), evaluate on test; metrics per task and fit seconds."""
    from transmodal.predictor import MultimodalPredictor

    labels = label if isinstance(label, list) else [label]
    others = [t for t in TASKS if t not in labels]
    train, tune, test = (read_csv_with_absolute_paths(tables[split], limit=args.rows or None).drop(columns=others)
                         for split in ("train", "tuning", "test"))
    start = time.perf_counter()
    predictor = MultimodalPredictor(label=label, problem_type={t: TASKS[t] for t in labels}).fit(
        train, tuning_data=tune, hyperparameters=hp, seed=seed)
    seconds = time.perf_counter() - start
    metrics = predictor.evaluate(test)
    return (metrics if isinstance(label, list) else {label: metrics}), seconds


def main(argv: list[str] | None = None) -> int:
    from benchmarks.datasets.av_digits import build_av_digits
    from transmodal.multitask.report import delta_m

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-epochs", type=int, default=6)
    parser.add_argument("--rows", type=int, default=0, help="first rows of each split only (0: all)")
    parser.add_argument("--architectures", nargs="+", default=["hard", "mmoe"])
    parser.add_argument("--csv", type=Path, default=RESULTS / "issue-6-av-digits.csv")
    args = parser.parse_args(argv)
    tables = build_av_digits()
    rows = []
    for seed in args.seeds:
        single, single_seconds = {}, 0.0
        for task in TASKS:
            metrics, seconds = run(task, tables, args, hyperparameters(args), seed)
            single[task], single_seconds = metrics[task], single_seconds + seconds
            rows.append({"seed": seed, "model": f"single:{task}", "fit_seconds": seconds,
                         f"{task}/accuracy": metrics[task]["accuracy"]})
            print(json.dumps(rows[-1]), flush=True)
        rows.append({"seed": seed, "model": "single:both", "fit_seconds": single_seconds})
        for arch in args.architectures:
            hp = hyperparameters(args, {"architecture": arch, "weighting": "equal"})
            metrics, seconds = run(list(TASKS), tables, args, hp, seed)
            rows.append({"seed": seed, "model": f"{arch}+equal", "fit_seconds": seconds,
                         **{f"{t}/accuracy": metrics[t]["accuracy"] for t in TASKS},
                         "delta_m": delta_m(metrics, single, METRICS)})
            print(json.dumps(rows[-1]), flush=True)
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(args.csv, index=False)
    from benchmarks.multitask_clothing import summarize

    summarize(pd.DataFrame(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
