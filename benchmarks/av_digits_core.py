"""AV-digits (core issue, acceptance b): built-in image CNN and audio CNN, single modality vs fusion.

Protocol: ``benchmarks.datasets.av_digits`` (degraded MNIST test images paired with FSDD clips;
train 7,000 / tuning 1,000 / test 2,000), read from PNG/WAV files through CSV tables, as a user's
table would be. Configurations: image-only (the audio column dropped), audio-only (the image column
dropped), and every fusion strategy on both (issue 2 asks for ``concat`` and ``late``, issue 3 for
all, plus ``concat+dropout``/``late+dropout`` with modality dropout 0.3, and ``+dropout+unimodal``
with the per-input auxiliary loss ``unimodal_loss_weight=1`` as well); each with seeds 0, 1, 2;
test accuracy reported per seed and as the mean, and for fused models also with the image or the
audio column emptied at test time. Hyperparameters are the same for every configuration.

Run: ``.venv/bin/python -m benchmarks.av_digits_core [--seeds 0 1 2] [--configs image audio concat late ...]``
(results go to ``benchmarks/results/av_digits_core.json``; rename it between runs).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks._machine import machine, save_json
from benchmarks.datasets.av_digits import build_av_digits
from benchmarks.datasets.tables import read_csv_with_absolute_paths

HYPERPARAMETERS = {  # sized for a 2-core CPU: a few epochs of large batches
    "max_epochs": 6, "patience": 2, "batch_size": 128, "learning_rate": 3e-3, "hidden_dim": 256,
    "dropout": 0.2, "progress_bar": False,
}
BOTH = ["image", "audio", "digit"]
CONFIGS = {
    "image": {"columns": ["image", "digit"], "fusion": "concat"},
    "audio": {"columns": ["audio", "digit"], "fusion": "concat"},
    **{name: {"columns": BOTH, "fusion": name}
       for name in ("concat", "late", "hierarchical", "tensor", "lowrank", "attention", "gated")},
    # issue 3 b): modality dropout 0.3
    **{f"{name}+dropout": {"columns": BOTH, "fusion": name, "hp": {"modality_dropout": 0.3}}
       for name in ("concat", "late")},
    # issue 3 b), second recipe: modality dropout 0.3 plus each input alone through fusion and heads
    **{f"{name}+dropout+unimodal": {"columns": BOTH, "fusion": name,
                                    "hp": {"modality_dropout": 0.3, "unimodal_loss_weight": 1.0}}
       for name in ("concat", "late")},
}


def run(tables: dict, name: str, seed: int, hyperparameters: dict | None = None) -> dict:
    """Fit one configuration and return its test metrics and timings."""
    from transmodal import MultimodalPredictor

    config = CONFIGS[name]
    hp = {**HYPERPARAMETERS, **config.get("hp", {}), **(hyperparameters or {}), "fusion": config["fusion"]}
    columns = config["columns"]
    start = time.perf_counter()
    train, tune = (read_csv_with_absolute_paths(tables[split], columns) for split in ("train", "tuning"))
    predictor = MultimodalPredictor(label="digit").fit(train, tuning_data=tune, hyperparameters=hp, seed=seed)
    fit_seconds = time.perf_counter() - start
    test = read_csv_with_absolute_paths(tables["test"], columns)
    metrics = predictor.evaluate(test)
    emptied = {}
    if len(columns) == 3:  # both modalities: also with each column emptied at test time
        emptied = {f"accuracy_{c}_emptied": predictor.evaluate(test.assign(**{c: ""}))["accuracy"]
                   for c in ("image", "audio")}
    return {"accuracy": metrics["accuracy"], **emptied, "f1_macro": metrics["f1_macro"], "fit_seconds": fit_seconds,
            "epochs": len(predictor.history_["epochs"]), "best_epoch": predictor.history_["best_epoch"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    args = parser.parse_args(argv)
    tables = build_av_digits()
    results = {"machine": machine(), "hyperparameters": HYPERPARAMETERS, "runs": {}}
    for name in args.configs:
        runs = []
        for seed in args.seeds:
            runs.append(run(tables, name, seed))
            print(f"{name} seed {seed}: {runs[-1]}", flush=True)
        accuracies = [r["accuracy"] for r in runs]
        results["runs"][name] = {"seeds": args.seeds, "runs": runs, "mean_accuracy": float(np.mean(accuracies)),
                                 "std_accuracy": float(np.std(accuracies))}
        print(f"{name:<8} accuracy mean {np.mean(accuracies):.4f} (per seed {[round(a, 4) for a in accuracies]}) "
              f"fit s {[round(r['fit_seconds']) for r in runs]}", flush=True)
        save_json("av_digits_core", results)


if __name__ == "__main__":
    main()
