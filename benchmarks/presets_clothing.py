"""Presets and ensembles on clothing reviews (issue 16, acceptance a and b).

Protocol: the split of ``benchmarks.datasets.clothing`` (6,000 train / 2,000 test, ``random_state=0``),
features as in ``benchmarks.clothing_core`` (Title, Review Text, Age, Positive Feedback Count,
Division Name, Department Name; neither label is a feature). One preset per run, in a fresh process,
with a cold persistent embedding store (``TRANSMODAL_CACHE`` is a new empty folder), fitted with
``AutoPredictor(label).fit(train, presets=P, time_limit=T)``; the whole fit (reading, every member,
selection) is timed, then the test set is scored (every member on the leaderboard). The TF-IDF +
logistic regression baseline of ``benchmarks.clothing_core`` is run beside it.

Run: ``.venv/bin/python -m benchmarks.presets_clothing --preset fast --time-limit 60
[--label "Recommended IND"] [--out NAME]``; writes ``benchmarks/results/NAME.json``
(default ``issue-16-clothing-<label>-<preset>``).
"""

from __future__ import annotations

import argparse
import os
import tempfile

from benchmarks._machine import machine, save_json
from benchmarks._preset_run import fit_and_score

FEATURES = ["Title", "Review Text", "Age", "Positive Feedback Count", "Division Name", "Department Name"]
TARGETS = {"Recommended IND": 60.0, "Rating": None}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", required=True, choices=["fast", "medium", "best"])
    parser.add_argument("--time-limit", type=float, default=None, help="seconds for the whole fit")
    parser.add_argument("--label", default="Recommended IND", choices=list(TARGETS))
    parser.add_argument("--eval-metric", default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--tuning-out", default=None,
                        help="also save each member's scores of the selection rows and their labels (.npz), "
                             "to study the ensemble without refitting")
    args = parser.parse_args(argv)
    os.environ["TRANSMODAL_CACHE"] = tempfile.mkdtemp(prefix="transmodal-bench16-")  # cold store

    from benchmarks.clothing_core import tfidf_baseline
    from benchmarks.datasets.clothing import load_clothing

    train, test = load_clothing()
    train, test = train[FEATURES + [args.label]], test[FEATURES + [args.label]]
    problem = "binary" if args.label == "Recommended IND" else "multiclass"
    run = fit_and_score(args.label, problem, args.eval_metric, train, test, presets=args.preset,
                        time_limit=args.time_limit, column_types={"Age": "numeric"})
    if args.tuning_out:
        import numpy as np

        auto = run["auto"]
        np.savez(args.tuning_out, targets=auto.selection_targets_,
                 **{name: p for name, p in auto.selection_predictions_.items()})
    for name, member in run["auto"].members_.items():  # the neural members' epochs (time, tuning score)
        for model in getattr(member, "models", []) if member.kind == "neural" else []:
            print(name, [{k: round(v, 4) for k, v in e.items() if k in ("epoch", "epoch_seconds", "val_score")}
                         for e in (getattr(model, "history_", None) or {}).get("epochs", [])],
                  "kept epoch", (getattr(model, "history_", None) or {}).get("best_epoch"), flush=True)
    baseline = tfidf_baseline(train, test, args.label)
    result = {"machine": machine(), "label": args.label, "preset": args.preset, **run["record"],
              "tfidf_logreg": baseline}
    name = args.out or f"issue-16-clothing-{args.label.split()[0].lower()}-{args.preset}"
    print(save_json(name, result))
    print({k: round(v, 4) for k, v in run["metrics"].items()}, f"fit {run['fit_seconds']:.1f} s", "baseline",
          baseline, flush=True)


if __name__ == "__main__":
    main()
