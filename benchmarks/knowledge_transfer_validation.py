"""Issue 17 d), choosing settings without the test speaker: the knowledge-transfer network on the
AV-digits held-out-speaker tables with one more speaker (``--speaker``, default george) taken out of
training and used as a validation speaker: its train and tuning clips are the validation rows, the
other four speakers' are the training and tuning rows. The alignment is trained on those four
speakers only (so the validation speaker's audio is new to it, as theo's is to the benchmark's); the
clean-image teacher of ``benchmarks.knowledge_transfer_trust --keep DIR`` is reused (its Z for the
validation rows' images is training-quality: the images-present numbers here are optimistic).

Reports, per seed and ``transfer_from`` setting, the validation accuracy with images present and
with the image column emptied, and the audio-only predictor's. Theo's test rows are not read.

Run: ``OMP_NUM_THREADS=1 flock /tmp/transmodal-bench.lock nice -n 0 .venv/bin/python -m
benchmarks.knowledge_transfer_validation --keep /tmp/i17/kt_work --work /tmp/i17/val_work [--seeds 0]
[--setting NAME=JSON ...]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.cross_modal_av_digits import ALIGN_HP, HP, fit, table
from benchmarks.datasets.av_digits import build_av_digits

BOTH = ["image", "audio", "digit"]


def split(speaker: str) -> dict[str, pd.DataFrame]:
    """Training, tuning and validation rows (image, audio, digit) without theo and ``speaker`` in training."""
    tables = build_av_digits(degrade=False, speaker_holdout="theo")
    frames = {name: table(tables[name], BOTH + ["speaker"]) for name in ("train", "tuning")}
    held = pd.concat([f[f["speaker"] == speaker] for f in frames.values()], ignore_index=True)
    out = {name: f[f["speaker"] != speaker][BOTH].reset_index(drop=True) for name, f in frames.items()}
    return {**out, "validation": held[BOTH]}


def alignment(rows: dict[str, pd.DataFrame], folder: Path) -> None:
    """The image-audio alignment of the four training speakers, saved to ``folder`` (skipped if there)."""
    from transmodal.alignment.model import AlignmentModel

    if (folder / "manifest.json").exists() or any(folder.glob("*.json")):
        return
    model = AlignmentModel(columns=("image", "audio"), hyperparameters=ALIGN_HP).fit(
        rows["train"][["image", "audio"]], tuning_data=rows["tuning"][["image", "audio"]], seed=0)
    model.save(folder)


VIEWS_WITH_Z = [("full",), ("source_alone",), ("query_alone",), ("full", "source_alone"),
                ("full", "source_alone", "query_alone")]
VIEWS_WITH_ESTIMATE = [("full",), ("query_alone",), ("full", "query_alone")]


def views(network, val: pd.DataFrame, every: bool = True) -> dict:
    """Accuracy with images present / emptied as the model predicts, and (with an alone share) for
    each way of averaging the row's views (``every``; otherwise only the full view with images and
    Y alone without: 2 more evaluations instead of 8)."""
    fusion = network.net_.fusion
    emptied = val.assign(image=np.nan)
    out = {"val_scores": [round(e.get("val_score", 0), 4) for e in network.history_["epochs"]],
           "best_epoch": network.history_.get("best_epoch"),
           "with_images": network.evaluate(val)["accuracy"], "images_emptied": network.evaluate(emptied)["accuracy"]}
    if getattr(fusion, "alone_share", 0) <= 0:
        return out
    trained = fusion.views_with_z, fusion.views_with_estimate
    for chosen in VIEWS_WITH_Z if every else [("full",)]:
        fusion.views_with_z = chosen
        out["with_images " + "+".join(chosen)] = network.evaluate(val)["accuracy"]
    fusion.views_with_z = trained[0]
    for chosen in VIEWS_WITH_ESTIMATE if every else [("query_alone",)]:
        fusion.views_with_estimate = chosen
        out["images_emptied " + "+".join(chosen)] = network.evaluate(emptied)["accuracy"]
    fusion.views_with_z, fusion.views_with_estimate = trained
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, required=True, help="Folder with the kept teacher.")
    parser.add_argument("--work", type=Path, required=True, help="Folder for the validation alignment.")
    parser.add_argument("--speaker", default="george")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--audio-only", action="store_true", help="Also fit the audio-only predictor.")
    parser.add_argument("--setting", nargs="*", default=[],
                        help="NAME=JSON of transfer_from options (and the hyperparameter select_epoch).")
    parser.add_argument("--few-views", action="store_true", help="Evaluate 4 views, not 10.")
    args = parser.parse_args(argv)
    rows = split(args.speaker)
    print({k: len(v) for k, v in rows.items()}, flush=True)
    alignment(rows, args.work / "align")
    val = rows["validation"]
    for seed in args.seeds:
        if args.audio_only:
            audio, _ = fit(rows["train"][["audio", "digit"]], rows["tuning"][["audio", "digit"]], seed)
            print(json.dumps({"seed": seed, "audio_only": audio.evaluate(val[["audio", "digit"]])["accuracy"],
                              "val_scores": [round(e.get("val_score", 0), 4) for e in audio.history_["epochs"]],
                              "best_epoch": audio.history_.get("best_epoch")}), flush=True)
        for item in args.setting:
            name, options = item.split("=", 1)
            options = json.loads(options)
            top = {k: options.pop(k) for k in ("select_epoch",) if k in options}  # hyperparameters
            hp = {**HP, **top, "transfer_from": {"column": "image", "model": str(args.keep / "teacher"),
                                                 "align": str(args.work / "align"), **options}}
            network, _ = fit(rows["train"], rows["tuning"], seed, hp)
            print(json.dumps({"seed": seed, "setting": name, **views(network, val, not args.few_views)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
