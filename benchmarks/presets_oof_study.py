"""Issue 16 a, on training rows only: would out-of-fold (OOF) scores of the cheap members over the
rows the LoRA member trains on give better ensemble weights than the 900 selection rows alone?

Protocol. The clothing training rows (6,000) are split as ``best`` splits them (``make_splits``:
5,100 fit rows, 900 selection rows, stratified, seed 0). Phase ``members`` fits each named member
of a preset (the presets' own member classes and options) on 5 stratified folds of the 5,100 fit
rows and saves its OOF scores of those rows (``NAME.npz``, with their labels and row numbers); the
900 selection rows are never read by it. ``--holdout`` also fits the member on the 5,100 rows and
scores the 900 (what a ``best`` fit's selection sees). Phase ``weights`` reads that file and a
``presets_clothing --tuning-out`` file of the same 900 rows (every member's scores, the LoRA
member's among them) and compares, on repeated stratified 5-fold splits of the 900 rows (fit on
4/5, AUROC of the weighted logits on the 5th), the presets' greedy selection over every member
against two-stage blends: the cheap members' weights fitted on their 5,100 OOF rows (greedy, or
logistic stacking on the logits), then one weight between that blend and the LoRA member fitted
on the 4/5 (or fixed to 1/2). The test rows are never read.

Run (each phase a few minutes, under ``flock -s /tmp/transmodal-quiet.lock nice -n 10``):
``python -m benchmarks.presets_oof_study members --preset best --members tfidf_linear,tfidf_nbsvm
--out benchmarks/results/X.npz`` then
``python -m benchmarks.presets_oof_study weights --oof A.npz B.npz --tuning RUN.tuning.npz``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.presets_selection_study import auc, greedy, stacked

FEATURES = ["Title", "Review Text", "Age", "Positive Feedback Count", "Division Name", "Department Name"]
LABEL = "Recommended IND"


def _rows_and_context(preset_name: str):
    """The training frame, labels, the preset's fit/selection rows and a member context."""
    from benchmarks.datasets.clothing import load_clothing
    from transmodal import AutoPredictor
    from transmodal.ensemble.members.base import MemberContext
    from transmodal.ensemble.members.shared import FitMemo
    from transmodal.ensemble.presets import load_preset
    from transmodal.ensemble.training import make_splits

    train, _ = load_clothing()
    auto = AutoPredictor(LABEL, problem_type="binary")
    frame, y, _ = auto._training_rows(train[FEATURES + [LABEL]], None, {"Age": "numeric"}, False)
    preset = load_preset(preset_name)
    splits, _ = make_splits(y, "binary", preset, 0)
    fit_rows, tune_rows = splits[0]
    context = MemberContext(LABEL, auto.task_, dict(auto.column_types_), auto.eval_metric_, 0, None, FitMemo())
    return frame, y, preset, fit_rows, tune_rows, context


def members(args) -> None:
    from sklearn.model_selection import StratifiedKFold

    from transmodal.ensemble.members.base import MEMBERS
    from transmodal.ensemble.training import fit_member

    frame, y, preset, fit_rows, tune_rows, context = _rows_and_context(args.preset)
    folds = [(fit_rows[a], fit_rows[b]) for a, b in
             StratifiedKFold(5, shuffle=True, random_state=0).split(fit_rows, y[fit_rows])]
    from transmodal.ensemble.presets import load_preset

    plans = {p.name: p for p in load_preset(args.members_from or args.preset).members}
    saved = {"rows": fit_rows, "targets": y[fit_rows], "tune_rows": tune_rows, "tune_targets": y[tune_rows]}
    for name in args.members.split(","):
        plan = plans[name]
        start = time.monotonic()
        member = MEMBERS.get(plan.kind)(context, dict(plan.options))
        oof, status = fit_member(member, frame, y, folds, fit_rows, time.monotonic() + 3600)
        saved[f"oof_{name}"] = oof
        line = f"{name}: OOF AUROC {auc(y[fit_rows], oof[:, 1]):.4f} ({status})"
        if args.holdout:
            member = MEMBERS.get(plan.kind)(context, dict(plan.options))
            held, _ = fit_member(member, frame, y, [(fit_rows, tune_rows)], tune_rows, time.monotonic() + 3600)
            saved[f"holdout_{name}"] = held
            line += f", holdout AUROC {auc(y[tune_rows], held[:, 1]):.4f}"
        print(f"{line}, {time.monotonic() - start:.1f} s", flush=True)
    np.savez(args.out, **saved)


def _logits(p: np.ndarray) -> np.ndarray:
    p = np.clip(p[:, 1], 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def _two_stage_weight(neural: np.ndarray, cheap: np.ndarray, y: np.ndarray) -> float:
    """The neural member's weight w in ``w * neural + (1 - w) * cheap`` with the best AUROC (grid)."""
    grid = np.linspace(0, 1, 41)
    scores = [auc(y, w * neural + (1 - w) * cheap) for w in grid]
    return float(grid[int(np.argmax(scores))])


def weights(args) -> None:
    from sklearn.model_selection import StratifiedKFold

    oof = {}
    for path in args.oof:
        data = np.load(path)
        rows, targets = data["rows"], data["targets"]
        oof.update({k[4:]: _logits(data[k]) for k in data.files if k.startswith("oof_")})
        oof.update({"holdout:" + k[8:]: _logits(data[k]) for k in data.files if k.startswith("holdout_")})
    tuning = np.load(args.tuning)
    y = tuning["targets"].astype(int)
    held = {n: _logits(tuning[n]) for n in tuning.files if n != "targets"}
    for name in [k for k in oof if k.startswith("holdout:")]:  # members the tuning file lacks
        held.setdefault(name[8:], oof.pop(name))
    for name in [k for k in oof if k.startswith("holdout:")]:
        oof.pop(name)
    cheap = [n for n in oof if n in held and n != args.neural]
    print("cheap members:", cheap, "| OOF AUROC (5,100 rows):",
          {n: round(auc(targets, oof[n]), 4) for n in cheap})
    print("selection-row AUROC (900):", {n: round(auc(y, s), 4) for n, s in held.items()})
    oof_matrix = np.stack([oof[n] for n in cheap], axis=1)  # (5100, M)
    held_cheap = np.stack([held[n] for n in cheap], axis=1)  # (900, M)
    neural = held[args.neural]
    stage1 = {"greedy": greedy(oof_matrix, targets), "lr1": stacked(oof_matrix, targets, 1.0)}
    for k, w in stage1.items():
        print(f"stage 1 {k} on OOF rows:", dict(zip(cheap, np.round(w, 3))),
              f"OOF {auc(targets, oof_matrix @ w):.4f}, on the 900: {auc(y, held_cheap @ w):.4f}")
    every = np.stack([held[n] for n in cheap + [args.neural]], axis=1)
    scale = {k: np.std(held_cheap @ w) / np.std(neural) for k, w in stage1.items()}
    methods = {"greedy (all on 4/5)": lambda a, b: every[b] @ greedy(every[a], y[a]),
               "lr0.01 (all on 4/5)": lambda a, b: every[b] @ stacked(every[a], y[a], 0.01)}
    for c in (0.001, 0.003, 0.01, 0.03):  # the stacked weights clipped at 0 (what a preset can save as weights)
        methods[f"lr{c} clipped (all on 4/5)"] = (lambda a, b, c=c:
                                                  every[b] @ np.clip(stacked(every[a], y[a], c), 0, None))
    for k, w in stage1.items():
        blend = held_cheap @ w
        blend = blend / np.std(blend)  # the two logits on a comparable scale for the weight grid
        z = neural / np.std(neural)
        methods[f"2-stage {k}, w on 4/5"] = (lambda a, b, blend=blend, z=z:
                                            (lambda w: w * z[b] + (1 - w) * blend[b])(_two_stage_weight(z[a], blend[a], y[a])))
        methods[f"2-stage {k}, w=1/2"] = lambda a, b, blend=blend, z=z: 0.5 * z[b] + 0.5 * blend[b]
    scores = {k: [] for k in methods}
    for rep in range(args.reps):
        for a, b in StratifiedKFold(5, shuffle=True, random_state=rep).split(y, y):
            for k, method in methods.items():
                scores[k].append(auc(y[b], method(a, b)))
    base = np.array(scores["greedy (all on 4/5)"])
    for k, values in scores.items():
        diff = np.array(values) - base
        print(f"{k:28s} {np.mean(values):.4f}  vs greedy {diff.mean():+.4f} +- {diff.std() / np.sqrt(len(diff)):.4f}")
    names = cheap + [args.neural]
    for c in (0.003, 0.01):
        w = np.clip(stacked(every, y, c), 0, None)
        print(f"lr{c} clipped weights on all 900 rows:", dict(zip(names, np.round(w / w.sum(), 3))))
    print("greedy weights on all 900 rows:", dict(zip(names, np.round(greedy(every, y), 3))))
    print("scale of the cheap blends / neural logits:", {k: round(float(v), 3) for k, v in scale.items()})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="phase", required=True)
    one = sub.add_parser("members")
    one.add_argument("--preset", default="best")
    one.add_argument("--members", required=True, help="comma-separated member names of the preset")
    one.add_argument("--members-from", default=None, help="preset whose member options are used (default --preset)")
    one.add_argument("--holdout", action="store_true")
    one.add_argument("--out", required=True)
    two = sub.add_parser("weights")
    two.add_argument("--oof", nargs="+", required=True)
    two.add_argument("--tuning", required=True)
    two.add_argument("--neural", default="neural_lora")
    two.add_argument("--reps", type=int, default=4)
    args = parser.parse_args(argv)
    members(args) if args.phase == "members" else weights(args)


if __name__ == "__main__":
    main()
