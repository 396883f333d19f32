"""Issue 16 a/c, on training rows only: does a LoRA member reading the text columns JOINED into one
sequence (``join_text``) help ``best``? The test rows are never read.

``fit``: ``AutoPredictor.fit`` on the training rows of clothing (issue-2 split) or book price with
``best``'s settings and split (the same 15% selection rows as a ``best`` run: same seed, same
fraction) but only the members named by ``--members`` (``best``'s own, by name) plus the members of
``--extra`` (a YAML list of member plans, as in ``best.yaml``); cold embedding store; saves every
member's scores of the selection rows (``.tuning.npz``, as ``presets_clothing --tuning-out``) and a
JSON with the members' tuning scores, statuses, times and epochs.

``compare``: on the selection rows only, the ensemble of ``--base`` members with and without the
``--new`` member(s), weights fitted as ``best`` fits them (binary: stacking on the logits, C 0.003;
regression: greedy selection, 60 rounds, ``mean`` blend) on 4/5 of the rows and scored on the 5th
(AUROC / R^2; regression: book price, whose members' standardised values are mapped back to
prices), repeated 5-fold x 4; members may come from several ``.tuning.npz`` files of runs on
the same split (``FILE:MEMBER``; the targets must agree).

Run: ``python -m benchmarks.presets_joined_text_study fit --table clothing --time-limit 391 --extra
benchmarks/joined_text_members.yaml --pick neural_lora_joined --out NAME`` and ``python -m
benchmarks.presets_joined_text_study compare --base A.npz:tfidf_linear ... --new B.npz:neural_lora_joined``.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import pandas as pd

from benchmarks._machine import RESULTS_DIR, machine, save_json


def _training_rows(table: str) -> tuple[pd.DataFrame, str, str, dict]:
    """The training rows, label, problem type and column types of ``table``'s ``best`` benchmark."""
    if table == "clothing":
        from benchmarks.datasets.clothing import load_clothing
        from benchmarks.presets_clothing import FEATURES

        train, _ = load_clothing()  # the test rows are not used
        return train[FEATURES + ["Recommended IND"]], "Recommended IND", "binary", {"Age": "numeric"}
    from benchmarks.datasets._common import data_file
    from benchmarks.presets_book_price import CATEGORIES, LABEL, NUMBERS, TEXTS

    types = {**{c: "text" for c in TEXTS}, **{c: "categorical" for c in CATEGORIES}, **{c: "numeric" for c in NUMBERS}}
    return pd.read_csv(data_file("book_price/train.csv")), LABEL, "regression", types


def fit(args) -> None:
    import dataclasses

    import yaml

    import transmodal.ensemble.presets as presets
    from transmodal import AutoPredictor
    from transmodal.config import section_from_dict

    os.environ["TRANSMODAL_CACHE"] = tempfile.mkdtemp(prefix="transmodal-study16j-")  # cold store
    best = presets.load_preset("best")
    extra = [section_from_dict(presets.MemberPlan, m, "extra") for m in
             (yaml.safe_load(open(args.extra, encoding="utf-8")) if args.extra else [])]
    extra = [m for m in extra if not args.pick or m.name in args.pick]
    members = tuple([m for m in best.members if m.name in args.members] + extra)
    study = dataclasses.replace(best, members=members)
    presets.load_preset = lambda name: study  # AutoPredictor reads the preset through this function
    train, label, problem, types = _training_rows(args.table)
    auto = AutoPredictor(label=label, problem_type=problem, eval_metric=None if problem == "binary" else "r2").fit(
        train, presets="best", time_limit=args.time_limit, column_types=types,
        log=lambda line: print(line, flush=True))
    RESULTS_DIR.mkdir(exist_ok=True)
    np.savez(RESULTS_DIR / f"{args.out}.tuning.npz", targets=auto.selection_targets_,
             **{name: p for name, p in auto.selection_predictions_.items()})
    epochs = {}
    for name, member in auto.members_.items():
        for model in getattr(member, "models", []) if member.kind == "neural" else []:
            history = getattr(model, "history_", None) or {}
            epochs[name] = {"epochs": [{k: v for k, v in e.items() if k in ("epoch", "epoch_seconds", "val_score")}
                                       for e in history.get("epochs", [])], "kept": history.get("best_epoch"),
                            "inputs": [s.name for s in model.inputs_]}
    record = {"machine": machine(), "table": args.table, "time_limit": args.time_limit,
              "members": [{k: r[k] for k in ("member", "status", "tuning_score", "fit_seconds") if k in r}
                          for r in auto.results_], "weights": auto.weights_, "ensemble_tuning_score": auto.tuning_score_,
              "neural_epochs": epochs, "extra": [dataclasses.asdict(m) for m in extra]}
    print(record["members"], epochs, flush=True)
    print(save_json(args.out, record))


def _load(specs: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Members' selection-row scores from ``FILE:MEMBER`` specs (the targets of every file must agree)."""
    scores, targets = {}, None
    for spec in specs:
        path, member = spec.rsplit(":", 1)
        data = np.load(path)
        if targets is not None and not np.array_equal(targets, data["targets"]):
            raise SystemExit(f"{path}: other selection rows than the first file's")
        targets = data["targets"]
        scores[member] = data[member]
    return scores, targets


def compare(args) -> None:
    from sklearn.model_selection import KFold, StratifiedKFold

    from benchmarks.presets_selection_study import auc
    from transmodal.ensemble.selection import greedy_weights, stacked_weights

    base, y = _load(args.base)
    new, y_new = _load(args.new)
    if not np.array_equal(y, y_new):
        raise SystemExit("--base and --new hold other selection rows")
    binary = np.asarray(base[next(iter(base))]).ndim == 2
    everything = {**base, **new}
    if not binary:  # members' values are standardised with the label's mean and std over the training rows
        from transmodal.heads.task import TaskSpec

        train, label, problem, _ = _training_rows("book_price")
        task = TaskSpec.from_series(label, train[label], problem)
        everything = {n: np.asarray(v) * task.target_std + task.target_mean for n, v in everything.items()}

    def r2(target, value):
        return 1 - np.sum((target - value) ** 2) / np.sum((target - target.mean()) ** 2)

    def score(names, fit_rows, held):
        arrays = [np.asarray(everything[n], dtype=np.float64) for n in names]
        if binary:
            w = stacked_weights([a[fit_rows] for a in arrays], y[fit_rows].astype(int), 0.003)
            logits = [np.log(np.clip(a[:, 1], 1e-7, 1)) - np.log(np.clip(a[:, 0], 1e-7, 1)) for a in arrays]
            return auc(y[held].astype(int), sum(wi * lo[held] for wi, lo in zip(w, logits)))
        w, _ = greedy_weights([a[fit_rows] for a in arrays], lambda v: r2(y[fit_rows], v), rounds=60)
        return r2(y[held], sum(wi * a[held] for wi, a in zip(w, arrays)))

    alone = {n: (auc(y.astype(int), np.asarray(a)[:, 1]) if binary else r2(y, np.asarray(a)))
             for n, a in everything.items()}
    print("selection-row score of each member:", {k: round(v, 4) for k, v in alone.items()})
    sets = {"base": list(base), "base + new": list(base) + list(new)}
    for n in new:
        sets[f"base with {n} in place of the neural members"] = [b for b in base if not b.startswith("neural")] + [n]
    results = {k: [] for k in sets}
    for rep in range(args.reps):
        folds = (StratifiedKFold(5, shuffle=True, random_state=rep).split(y, y) if binary
                 else KFold(5, shuffle=True, random_state=rep).split(y))
        for fit_rows, held in folds:
            for k, names in sets.items():
                results[k].append(score(names, fit_rows, held))
    reference = np.array(results["base"])
    summary = {}
    for k, values in results.items():
        diff = np.array(values) - reference
        summary[k] = {"members": sets[k], "mean": float(np.mean(values)), "vs_base": float(diff.mean()),
                      "se": float(diff.std() / np.sqrt(len(diff)))}
        print(f"{k:60s} {np.mean(values):.4f}  vs base {diff.mean():+.4f} +- {summary[k]['se']:.4f}")
    if args.out:
        print(save_json(args.out, {"base": args.base, "new": args.new, "alone": alone, "reps": args.reps,
                                   "sets": summary}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit")
    f.add_argument("--table", required=True, choices=["clothing", "book_price"])
    f.add_argument("--time-limit", type=float, required=True)
    f.add_argument("--members", nargs="*", default=[], help="best's members to keep, by name")
    f.add_argument("--extra", default=None, help="YAML list of extra member plans")
    f.add_argument("--pick", nargs="*", default=[], help="only these members of --extra")
    f.add_argument("--out", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--base", nargs="+", required=True, help="FILE.npz:MEMBER")
    c.add_argument("--new", nargs="+", required=True, help="FILE.npz:MEMBER")
    c.add_argument("--reps", type=int, default=4)
    c.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    fit(args) if args.command == "fit" else compare(args)


if __name__ == "__main__":
    main()
