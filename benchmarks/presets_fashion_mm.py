"""Presets on fashion_mm (issue 16, acceptance d): ``season`` and ``usage`` from photo + name + attributes.

Data: ``../shared/data/fashion_mm`` (``train.csv`` 7,664 / ``test.csv`` 1,917 rows; the photo
``image`` as a path resolved against the data folder). Features: gender, masterCategory,
subCategory, articleType, baseColour, year, productDisplayName (text), image; neither target is a
feature of the other. Rows whose label is missing are dropped from both tables (season: 21 rows in
all, usage: 317). One label and one preset per run, cold embedding store (``--store DIR``: a
kept store, e.g. one that already holds the photos' frozen EfficientNet features), the whole
``AutoPredictor.fit`` timed; then accuracy of the ensemble and of every member on the test rows
(the acceptance compares the ensemble with the best single member there).

Run: ``.venv/bin/python -m benchmarks.presets_fashion_mm --label season --preset best
--time-limit 900 [--limit N] [--store DIR] [--out NAME]``; writes ``benchmarks/results/NAME.json`` (default
``issue-16-fashion-<label>-<preset>``).
"""

from __future__ import annotations

import argparse
import os
import tempfile

import pandas as pd

from benchmarks._machine import machine, save_json
from benchmarks._preset_run import fit_and_score
from benchmarks.datasets._common import data_file

FEATURES = ["gender", "masterCategory", "subCategory", "articleType", "baseColour", "year",
            "productDisplayName", "image"]
TYPES = {"productDisplayName": "text", "image": "image", "year": "numeric",
         **{c: "categorical" for c in ("gender", "masterCategory", "subCategory", "articleType", "baseColour")}}


def read(name: str, label: str, limit: int | None) -> pd.DataFrame:
    """One split with absolute image paths and a label in every row."""
    path = data_file(f"fashion_mm/{name}")
    frame = pd.read_csv(path)
    frame = frame[frame[label].notna()].reset_index(drop=True)
    frame["image"] = [str(path.parent / p) for p in frame["image"]]
    return frame[FEATURES + [label]].iloc[:limit]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, choices=["season", "usage"])
    parser.add_argument("--preset", required=True, choices=["fast", "medium", "best"])
    parser.add_argument("--time-limit", type=float, default=None, help="seconds for the whole fit")
    parser.add_argument("--limit", type=int, default=None, help="first rows of each table only (a smoke run)")
    parser.add_argument("--store", default=None, help="embedding store folder to use and keep (default: a new, cold one)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    os.environ["TRANSMODAL_CACHE"] = args.store or tempfile.mkdtemp(prefix="transmodal-bench16-")

    train, test = read("train.csv", args.label, args.limit), read("test.csv", args.label, args.limit)
    run = fit_and_score(args.label, "multiclass", "accuracy", train, test, presets=args.preset,
                        time_limit=args.time_limit, column_types=TYPES)
    board = run["board"]
    members = board[(board["member"] != "ensemble") & board["score"].notna()]
    best_single = float(members["score"].max()) if len(members) else float("nan")
    result = {"machine": machine(), "label": args.label, "preset": args.preset, "store": "kept" if args.store else "cold",
              "rows": {"train": len(train), "test": len(test)}, **run["record"],
              "best_single_member_accuracy": best_single}
    print(save_json(args.out or f"issue-16-fashion-{args.label}-{args.preset}", result))
    print({k: round(v, 4) for k, v in run["metrics"].items()}, f"best single {best_single:.4f}",
          f"fit {run['fit_seconds']:.1f} s", flush=True)


if __name__ == "__main__":
    main()
