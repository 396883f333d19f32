"""Presets on AV-digits (issue 16, acceptance e): an ensemble must not lose to its neural member.

Protocol of issue 2 (``benchmarks.av_digits_core``): ``benchmarks.datasets.av_digits`` (degraded
MNIST images paired with FSDD clips; train 7,000 / tuning 1,000 / test 2,000), read from PNG/WAV
files through CSV tables. ``AutoPredictor("digit").fit(train, tuning_data=tuning, presets=P,
time_limit=T)`` with a cold embedding store: the tuning table is the holdout every member stops
early on and the rows the ensemble weights are selected on. Test accuracy of the ensemble and of
every member (leaderboard); the issue-2 single fusion network (concat, seed 0) is 0.991.

Run: ``.venv/bin/python -m benchmarks.presets_av_digits --preset best --time-limit 600
[--work FOLDER] [--out NAME]``; writes ``benchmarks/results/NAME.json`` (default
``issue-16-av-digits-<preset>``).
"""

from __future__ import annotations

import argparse
import os
import tempfile

from benchmarks._machine import machine, save_json
from benchmarks._preset_run import fit_and_score

COLUMNS = ["image", "audio", "digit"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", required=True, choices=["fast", "medium", "best"])
    parser.add_argument("--time-limit", type=float, default=None, help="seconds for the whole fit")
    parser.add_argument("--work", default=None, help="parent folder of the built AV-digits tables")
    parser.add_argument("--limit", type=int, default=None, help="first rows of each table only (a smoke run)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    os.environ["TRANSMODAL_CACHE"] = tempfile.mkdtemp(prefix="transmodal-bench16-")  # cold store

    from benchmarks.datasets.av_digits import build_av_digits
    from benchmarks.datasets.tables import read_csv_with_absolute_paths

    tables = build_av_digits(args.work)
    train, tune, test = (read_csv_with_absolute_paths(tables[s], COLUMNS, limit=args.limit)
                         for s in ("train", "tuning", "test"))
    run = fit_and_score("digit", "multiclass", "accuracy", train, test, tuning_data=tune, presets=args.preset,
                        time_limit=args.time_limit)
    result = {"machine": machine(), "preset": args.preset,
              "rows": {"train": len(train), "tuning": len(tune), "test": len(test)}, **run["record"]}
    print(save_json(args.out or f"issue-16-av-digits-{args.preset}", result))
    print({k: round(v, 4) for k, v in run["metrics"].items()}, f"fit {run['fit_seconds']:.1f} s", flush=True)


if __name__ == "__main__":
    main()
