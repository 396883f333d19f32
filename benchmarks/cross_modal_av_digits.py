"""Issue 5, acceptance b) c) d): cross-modal distillation, retrieval and the knowledge-transfer
network on AV-digits (``benchmarks.datasets.av_digits``, images NOT degraded).

- ``distill`` (b): teacher = image predictor trained with labels (clean variant, train + tuning);
  student = audio predictor trained on the train pairs with NO labels (``teacher=``,
  ``student_column="audio"``, KL on the teacher's probabilities plus its hard labels); against a
  supervised audio predictor with the same hyperparameters; test accuracy per seed.
- ``retrieval`` (c): ``AlignmentModel(columns=("image", "audio"))`` trained on the train pairs only
  (tuning pairs for early stopping, no labels); on the test pairs R@1/R@10 image->audio and
  audio->image, a hit being any gallery row with the same digit.
- ``transfer`` (d): held-out-speaker variant (train from five speakers, test = theo). Audio-only
  predictor vs the knowledge-transfer network (``transfer_from``: Z from the clean-image teacher's
  encoder, neighbours from an image-audio alignment of the train pairs), evaluated with the test
  images present and with the image column emptied.

Run: ``.venv/bin/python -m benchmarks.cross_modal_av_digits [--parts distill retrieval transfer] [--seeds 0 1 2]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._machine import machine, save_json
from benchmarks.av_digits_core import HYPERPARAMETERS
from benchmarks.datasets.av_digits import build_av_digits
from benchmarks.datasets.tables import read_csv_with_absolute_paths

# the AV-digits protocol settings (benchmarks/av_digits_core.py) and the default built-in encoders
# (image CNN width 16; audio CNN, 40 mel bands at the clips' rate) for every predictor
HP = dict(HYPERPARAMETERS)
TEACHER_HP = HP
ALIGN_HP = {"max_epochs": 8, "patience": 3, "batch_size": 128, "learning_rate": 2e-3, "embed_dim": 128}
RESULTS = "issue-5-av-digits"


ROWS: dict[str, int | None] = {"train": None, "tuning": None}  # --train-rows / --tuning-rows (quick runs)


def table(path: Path, columns: list[str]) -> pd.DataFrame:
    """The CSV's chosen columns with absolute paths (the first ``ROWS[split]`` rows when set)."""
    return read_csv_with_absolute_paths(path, columns, ROWS.get(path.stem))


def fit(train, tuning, seed, hp=HP, **options):
    from transmodal import MultimodalPredictor

    start = time.perf_counter()
    predictor = MultimodalPredictor(label="digit").fit(train, tuning_data=tuning, hyperparameters=hp, seed=seed, **options)
    return predictor, time.perf_counter() - start


def teacher(tables, folder: Path) -> dict:
    """Train the clean-image teacher with labels and save it to ``folder``."""
    cols = ["image", "digit"]
    predictor, seconds = fit(table(tables["train"], cols), table(tables["tuning"], cols), 0, TEACHER_HP)
    predictor.save(folder)
    return {"test_accuracy": predictor.evaluate(table(tables["test"], cols))["accuracy"], "fit_seconds": seconds}


def distill(tables, seeds, work: Path) -> dict:
    out = {"teacher": teacher(tables, work / "teacher"), "supervised": [], "student": []}
    print("teacher", out["teacher"], flush=True)
    test = table(tables["test"], ["audio", "digit"])
    pairs_train = table(tables["train"], ["image", "audio"])  # no labels
    pairs_tune = table(tables["tuning"], ["image", "audio"])
    for seed in seeds:
        sup, s1 = fit(table(tables["train"], ["audio", "digit"]), table(tables["tuning"], ["audio", "digit"]), seed)
        out["supervised"].append({"seed": seed, "accuracy": sup.evaluate(test)["accuracy"], "fit_seconds": s1})
        student, s2 = fit(pairs_train, pairs_tune, seed, teacher=str(work / "teacher"), student_column="audio",
                          distill_loss="kl")
        out["student"].append({"seed": seed, "accuracy": student.evaluate(test)["accuracy"], "fit_seconds": s2})
        print("seed", seed, out["supervised"][-1], out["student"][-1], flush=True)
    for key in ("supervised", "student"):
        accuracies = [r["accuracy"] for r in out[key]]
        out[f"{key}_mean"], out[f"{key}_spread"] = float(np.mean(accuracies)), float(np.ptp(accuracies))
    out["ratio"] = out["student_mean"] / out["supervised_mean"]
    return out


def align(tables, seed: int, folder: Path | None = None):
    from transmodal.alignment.model import AlignmentModel

    start = time.perf_counter()
    model = AlignmentModel(columns=("image", "audio"), hyperparameters=ALIGN_HP).fit(
        table(tables["train"], ["image", "audio"]), tuning_data=table(tables["tuning"], ["image", "audio"]), seed=seed)
    seconds = time.perf_counter() - start
    if folder is not None:
        model.save(folder)
    return model, seconds


def retrieval(tables, seed: int) -> dict:
    model, seconds = align(tables, seed)
    test = table(tables["test"], ["image", "audio", "digit"])
    return {"fit_seconds": seconds, "epochs": len(model.history_["epochs"]),
            "image_to_audio": model.evaluate_retrieval(test, "image", "audio", item_column="digit"),
            "audio_to_image": model.evaluate_retrieval(test, "audio", "image", item_column="digit")}


def transfer(seeds, work: Path) -> dict:
    tables = build_av_digits(degrade=False, speaker_holdout="theo")
    out = {"teacher": teacher(tables, work / "teacher_theo"), "runs": []}
    _, align_seconds = align(tables, 0, work / "align_theo")
    out["align_fit_seconds"] = align_seconds
    both = ["image", "audio", "digit"]
    test = table(tables["test"], both)
    for seed in seeds:
        audio_only, _ = fit(table(tables["train"], ["audio", "digit"]), table(tables["tuning"], ["audio", "digit"]), seed)
        hp = {**HP, "transfer_from": {"column": "image", "model": str(work / "teacher_theo"),
                                      "align": str(work / "align_theo")}}
        network, seconds = fit(table(tables["train"], both), table(tables["tuning"], both), seed, hp)
        run = {"seed": seed, "audio_only": audio_only.evaluate(test[["audio", "digit"]])["accuracy"],
               "transfer_with_images": network.evaluate(test)["accuracy"],
               "transfer_images_emptied": network.evaluate(test.assign(image=np.nan))["accuracy"],
               "fit_seconds": seconds}
        out["runs"].append(run)
        print("transfer", run, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["distill", "retrieval", "transfer"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--train-rows", type=int, default=None, help="Use only the first N train pairs.")
    parser.add_argument("--tuning-rows", type=int, default=None, help="Use only the first N tuning pairs.")
    args = parser.parse_args(argv)
    ROWS.update({"train": args.train_rows, "tuning": args.tuning_rows})
    tables = build_av_digits(degrade=False)
    results = {"machine": machine(), "rows": dict(ROWS), "hyperparameters": {"predictor": HP, "teacher": TEACHER_HP, "align": ALIGN_HP}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for part in args.parts:
            if part == "distill":
                results["distill"] = distill(tables, args.seeds, work)
            elif part == "retrieval":
                results["retrieval"] = retrieval(tables, 0)
            elif part == "transfer":
                results["transfer"] = transfer(args.seeds, work)
            print(part, results[part], flush=True)
            save_json(f"{RESULTS}-{'-'.join(args.parts)}", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
