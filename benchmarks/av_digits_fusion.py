"""AV-digits (issue 3): every fusion strategy, modality dropout, robustness curves, modality importance.

Protocol: ``benchmarks.datasets.av_digits`` (degraded MNIST test images paired with FSDD clips;
train 7,000 / tuning 1,000 / test 2,000), read from PNG/WAV files through CSV tables. Built-in
image CNN and audio CNN (their defaults), the same hyperparameters for every strategy (below).

Parts (each resumable: finished runs are kept in ``benchmarks/results/issue-3-runs.csv`` and the
fitted models in ``benchmarks/_work/av_digits_fusion/``):

- ``fits``: test accuracy of every strategy, and of image-only / audio-only (the other column
  dropped), per seed (acceptance a).
- ``dropout``: the strategies again with ``modality_dropout=0.3``; test accuracy clean, with the
  audio column emptied and with the image column emptied (acceptance b).
- ``robustness``: audio white noise and image gaussian noise, levels 0..1 step 0.1, on the seed-0
  models of ``late``, ``concat``, ``lowrank``, ``attention`` (no dropout); relative and effective
  robustness (vs ``late``); a PNG plot (acceptance c).
- ``importance``: mask and permutation importance of the seed-0 models (acceptance d).
- ``report``: print the tables (markdown) from the CSV/JSON files.

``--scale full`` (default) is the acceptance protocol. ``--scale quick`` is a reduced run for a
busy machine, NOT the protocol: the first 1,500 train / 300 tuning / 500 test rows, smaller encoders
(width 8, 64-d outputs, audio at 8 kHz with 32 mel bands), 6 epochs, patience 2; its files carry
``quick`` in their names.

Run: ``nice -n 5 .venv/bin/python -m benchmarks.av_digits_fusion --part fits --seeds 0 1 2``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.av_digits_core import HYPERPARAMETERS as CORE_HYPERPARAMETERS
from benchmarks.datasets.av_digits import build_av_digits
from benchmarks.datasets.tables import read_csv_with_absolute_paths

RESULTS = Path(__file__).resolve().parent / "results"
WORK = Path(__file__).resolve().parent / "_work"
RUNS_CSV = CURVES_JSON = IMPORTANCE_JSON = PLOT = MODELS = Path()  # set by use_scale()

FUSIONS = ["concat", "late", "hierarchical", "tensor", "lowrank", "attention", "gated"]
SINGLE = {"image_only": ["image", "digit"], "audio_only": ["audio", "digit"]}
BOTH = ["image", "audio", "digit"]
CURVE_FUSIONS = ["late", "concat", "lowrank", "attention"]
LEVELS = [round(0.1 * i, 1) for i in range(11)]
# the same for every strategy: the AV-digits protocol settings of benchmarks/av_digits_core.py, so
# that the seed-0 models saved here are the seed-0 models of the accuracy table
HYPERPARAMETERS = dict(CORE_HYPERPARAMETERS)
QUICK = {
    "rows": {"train": 1500, "tuning": 300, "test": 500},
    "hyperparameters": {
        "max_epochs": 6, "patience": 2,
        "encoders": {"image": {"name": "cnn", "width": 8, "output_dim": 64},
                     "audio": {"name": "cnn", "width": 8, "output_dim": 64, "sample_rate": 8000, "n_mels": 32}},
    },
}
SCALE = {"name": "full", "rows": {}}


def use_scale(name: str) -> None:
    """Point the result files at the ``full`` or ``quick`` run and set its hyperparameters."""
    global RUNS_CSV, CURVES_JSON, IMPORTANCE_JSON, PLOT, MODELS
    suffix = "" if name == "full" else f"-{name}"
    RUNS_CSV = RESULTS / f"issue-3{suffix}-runs.csv"
    CURVES_JSON = RESULTS / f"issue-3{suffix}-robustness.json"
    IMPORTANCE_JSON = RESULTS / f"issue-3{suffix}-importance.json"
    PLOT = RESULTS / f"issue-3{suffix}-robustness.png"
    MODELS = WORK / f"av_digits_fusion{suffix}"
    SCALE.update(name=name, rows=QUICK["rows"] if name == "quick" else {})
    if name == "quick":
        HYPERPARAMETERS.update(QUICK["hyperparameters"])


def table(path: Path, columns: list[str]) -> pd.DataFrame:
    """The CSV's chosen columns with file paths made absolute (first rows only in a quick run)."""
    return read_csv_with_absolute_paths(path, columns, SCALE["rows"].get(path.stem))


def _done() -> pd.DataFrame:
    return pd.read_csv(RUNS_CSV) if RUNS_CSV.is_file() else pd.DataFrame(columns=["config", "dropout", "seed"])


def _record(row: dict) -> None:
    frame = pd.concat([_done(), pd.DataFrame([row])], ignore_index=True)
    RESULTS.mkdir(exist_ok=True)
    frame.to_csv(RUNS_CSV, index=False)


def _model_dir(config: str, dropout: float, seed: int) -> Path:
    return MODELS / f"{config}_drop{dropout}_s{seed}"


def fit_one(tables: dict, config: str, dropout: float, seed: int) -> dict:
    """Fit one configuration, save it, and return its test accuracies (clean and emptied columns)."""
    from transmodal import MultimodalPredictor

    columns = SINGLE.get(config, BOTH)
    fusion = config if config in FUSIONS else "concat"
    hp = {**HYPERPARAMETERS, "fusion": fusion, "modality_dropout": dropout}
    start = time.perf_counter()
    predictor = MultimodalPredictor(label="digit", problem_type="multiclass").fit(
        table(tables["train"], columns), tuning_data=table(tables["tuning"], columns), hyperparameters=hp, seed=seed)
    seconds = time.perf_counter() - start
    predictor.save(_model_dir(config, dropout, seed))
    test = table(tables["test"], columns)
    row = {"config": config, "dropout": dropout, "seed": seed,
           "accuracy": predictor.evaluate(test, metrics=["accuracy"])["accuracy"],
           "fit_seconds": round(seconds, 1), "epochs": len(predictor.history_["epochs"]),
           "parameters": int(sum(p.numel() for p in predictor.net_.parameters()))}
    if config in FUSIONS:
        for column in ("audio", "image"):
            emptied = test.assign(**{column: None})
            row[f"accuracy_no_{column}"] = predictor.evaluate(emptied, metrics=["accuracy"])["accuracy"]
    return row


def run_fits(tables: dict, configs: list[str], dropout: float, seeds: list[int]) -> None:
    """Fit every (seed, config) not yet in the runs CSV; seeds outermost so every config gets seed 0 first."""
    for seed in seeds:
        for config in configs:
            done = _done()
            if ((done["config"] == config) & (done["dropout"] == dropout) & (done["seed"] == seed)).any():
                continue
            row = fit_one(tables, config, dropout, seed)
            _record(row)
            print(json.dumps(row), flush=True)


def run_robustness(tables: dict, seed: int = 0, rows: int | None = None) -> None:
    """Curves of the seed-``seed`` no-dropout models of CURVE_FUSIONS (on the first ``rows`` test
    rows when given); effective robustness vs late."""
    from transmodal import MultimodalPredictor
    from transmodal.experiments.robustness import effective_robustness, robustness_curves

    test = table(tables["test"], BOTH).iloc[:rows]
    curves = {}
    fitted = [f for f in CURVE_FUSIONS if _model_dir(f, 0.0, seed).is_dir()]  # a partial run has fewer
    for fusion in fitted:
        predictor = MultimodalPredictor.load(_model_dir(fusion, 0.0, seed))
        curves[fusion] = {
            "audio": robustness_curves(predictor, test, "audio", LEVELS, kind="white_noise", seed=0)["audio"],
            "image": robustness_curves(predictor, test, "image", LEVELS, kind="gaussian", seed=0)["image"],
        }
        print(fusion, {m: [round(s, 4) for s in c["scores"]] for m, c in curves[fusion].items()}, flush=True)
    for fusion in fitted:
        for modality, curve in curves[fusion].items():
            curve["effective_robustness"] = effective_robustness(
                curve["levels"], curve["scores"], curves["late"][modality]["scores"])
    CURVES_JSON.write_text(json.dumps(curves, indent=2))
    plot(curves)


def plot(curves: dict) -> None:
    """Accuracy vs noise level, one panel per corrupted modality."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = {"audio": "audio white noise (level = noise RMS / clip RMS)",
              "image": "image gaussian noise (std, 0..1 pixel units)"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, modality in zip(axes, ("audio", "image")):
        for fusion, per in curves.items():
            curve = per[modality]
            ax.plot(curve["levels"], curve["scores"], marker="o", label=f"{fusion} (RR {curve['relative_robustness']:.3f})")
        ax.set_title(titles[modality], fontsize=10)
        ax.set_xlabel("noise level")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("test accuracy")
    fig.suptitle(f"AV-digits (degraded images), seed 0, test split ({SCALE['name']} run)")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=120)


def run_importance(tables: dict, configs: list[str], seed: int = 0) -> None:
    """Mask and permutation importance of the seed-``seed`` no-dropout models."""
    from transmodal import MultimodalPredictor
    from transmodal.experiments.importance import modality_importance

    test = table(tables["test"], BOTH)
    result = json.loads(IMPORTANCE_JSON.read_text()) if IMPORTANCE_JSON.is_file() else {}
    for config in configs:
        predictor = MultimodalPredictor.load(_model_dir(config, 0.0, seed))
        result[config] = {method: modality_importance(predictor, test, method, repeats=3, seed=0)
                          for method in ("mask", "permutation")}
        print(config, result[config], flush=True)
        IMPORTANCE_JSON.write_text(json.dumps(result, indent=2))


def report() -> str:
    """Markdown tables of everything measured so far."""
    lines = []
    runs = _done()
    for dropout in sorted(runs["dropout"].unique()):
        part = runs[runs["dropout"] == dropout]
        lines += [f"\n### modality_dropout = {dropout}\n",
                  "| config | seeds | test accuracy mean | std | per seed | no audio | no image | fit s | params |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for config, group in part.groupby("config", sort=False):
            acc = group["accuracy"].to_numpy()
            empty = {c: (f"{group[f'accuracy_no_{c}'].mean():.4f}" if f"accuracy_no_{c}" in group
                         and group[f"accuracy_no_{c}"].notna().any() else "") for c in ("audio", "image")}
            lines.append(f"| {config} | {len(acc)} | {acc.mean():.4f} | {acc.std():.4f} | "
                         f"{', '.join(f'{a:.4f}' for a in acc)} | {empty['audio']} | {empty['image']} | "
                         f"{group['fit_seconds'].mean():.0f} | {int(group['parameters'].iloc[0]):,} |")
    if CURVES_JSON.is_file():
        curves = json.loads(CURVES_JSON.read_text())
        lines += ["\n### robustness (seed 0)\n",
                  "| fusion | noise | accuracy at 0, 0.1, ..., 1.0 | relative | effective (vs late) |", "|---|---|---|---|---|"]
        for fusion, per in curves.items():
            for modality, c in per.items():
                lines.append(f"| {fusion} | {modality} {c['kind']} | {', '.join(f'{s:.3f}' for s in c['scores'])} | "
                             f"{c['relative_robustness']:.4f} | {c['effective_robustness']:.4f} |")
    if IMPORTANCE_JSON.is_file():
        importance = json.loads(IMPORTANCE_JSON.read_text())
        lines += ["\n### modality importance (seed 0, drop of test accuracy)\n",
                  "| model | audio (mask) | image (mask) | audio (permutation) | image (permutation) |", "|---|---|---|---|---|"]
        for config, r in importance.items():
            lines.append(f"| {config} | {r['mask']['audio']:.4f} | {r['mask']['image']:.4f} | "
                         f"{r['permutation']['audio']:.4f} | {r['permutation']['image']:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["fits", "dropout", "robustness", "importance", "report"], required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--configs", nargs="+", default=None)
    parser.add_argument("--scale", choices=["full", "quick"], default="full")
    parser.add_argument("--rows", type=int, default=None, help="robustness: only the first ROWS test rows")
    args = parser.parse_args(argv)
    use_scale(args.scale)
    if args.part == "report":
        print(report())
        return
    tables = build_av_digits()
    if args.part == "fits":
        run_fits(tables, args.configs or FUSIONS + list(SINGLE), 0.0, args.seeds)
    elif args.part == "dropout":
        run_fits(tables, args.configs or FUSIONS, 0.3, args.seeds)
    elif args.part == "robustness":
        run_robustness(tables, rows=args.rows)
    else:
        run_importance(tables, args.configs or CURVE_FUSIONS)


if __name__ == "__main__":
    main()
