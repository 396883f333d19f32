"""Issue 16 a, on training rows only: LoRA in every MiniLM layer against LoRA in the top layers
with the lower layers cached (``transfer.top_layers``), per epoch and per second.

Protocol. The clothing training rows (6,000) are split as ``best`` splits them (``make_splits``:
5,100 fit rows, 900 selection rows, stratified, seed 0). The ``best`` preset's ``neural_lora``
member (its options; LoRA in Review Text) is fitted on the first ``--rows`` of a stratified shuffle
of the 5,100 fit rows with the 900 selection rows as its tuning rows (as in a ``best`` fit), for
``--epochs`` epochs (no time limit: the schedule is the epochs'), with ``--top`` layers adapted
(0: every layer, as ``best`` today). Printed: the selection rows' AUROC of the kept epoch and the
fit's wall time. The test rows are never read.

Run (each fit under ``flock -s /tmp/transmodal-quiet.lock nice -n 10``; a few minutes at 2,000
rows): ``python -m benchmarks.lora_top_layers_study --rows 2000 --top 3 --epochs 2``.
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import numpy as np


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--top", type=int, default=0, help="LoRA in the top N layers (0: every layer)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument("--out", default=None, help="JSON file the result line is appended to")
    args = parser.parse_args(argv)

    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    from benchmarks.presets_oof_study import _rows_and_context
    from transmodal.ensemble.members.base import MEMBERS
    from transmodal.ensemble.training import fit_member

    frame, y, preset, fit_rows, tune_rows, context = _rows_and_context("best")
    if args.rows < len(fit_rows):
        fit_rows, _ = train_test_split(fit_rows, train_size=args.rows, stratify=y[fit_rows], random_state=0)
    plan = next(p for p in preset.members if p.name == "neural_lora")
    options = copy.deepcopy(dict(plan.options))
    hp = options["hyperparameters"]
    hp["max_epochs"], hp["patience"] = args.epochs, args.epochs
    if args.top:
        hp["transfer"] = {**hp["transfer"], "top_layers": args.top}
    if args.max_length:
        hp["encoders"]["text"] = {**hp["encoders"]["text"], "max_length": args.max_length}
    member = MEMBERS.get(plan.kind)(context, options)
    start = time.monotonic()
    scores, status = fit_member(member, frame, y, [(fit_rows, tune_rows)], tune_rows, time.monotonic() + 7200)
    seconds = time.monotonic() - start
    result = {"rows": int(len(fit_rows)), "top": args.top, "epochs": args.epochs, "max_length": args.max_length,
              "selection_auroc": round(float(roc_auc_score(y[tune_rows], scores[:, 1])), 4), "seconds": round(seconds, 1),
              "status": status}
    print(json.dumps(result), flush=True)
    if args.out:
        with open(args.out, "a") as handle:
            handle.write(json.dumps(result) + "\n")
        np.save(args.out + f".top{args.top}-e{args.epochs}-r{args.rows}.npy", scores[:, 1])


if __name__ == "__main__":
    main()
