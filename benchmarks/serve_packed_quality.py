"""Do a server's packed micro-batches predict as well as the predictor itself? (issue 19, acceptance d)

The served clothing model of :mod:`benchmarks.serve_model` (frozen int8 MiniLM over Title and Review
Text + tabular, the model the load test serves) predicts the 2,000 clothing test rows three ways:
- ``predictor``: ``predict_proba`` on the whole table (the fit's own encoding: length batches of 64,
  padded, no packing);
- ``one row per call``: ``ServedModel.run`` one row at a time (the one-row server's path: no padding);
- ``micro-batches of 16``: ``ServedModel.run`` on 16 rows at a time (the micro-batched server's path at
  concurrency 32: texts packed, one batch per CPU worker; ``encoders/packed_bert.py``).
Recorded: AUROC of each against ``Recommended IND``, and how far each one's probabilities are from the
predictor's (int8 activations are scaled per batch, so any two batchings differ a little). Not timed.

Run: ``flock /tmp/transmodal-bench.lock nice -n 0 .venv/bin/python -m benchmarks.serve_packed_quality``
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd

from benchmarks._machine import machine, save_json
from benchmarks.datasets.clothing import load_clothing
from benchmarks.serve_model import FEATURES, LABEL, saved_model


def served_probabilities(served, table: pd.DataFrame, rows_per_call: int, positive: str) -> np.ndarray:
    """P(class 1) of every row, ``rows_per_call`` rows per ``ServedModel.run`` call."""
    out = []
    for start in range(0, len(table), rows_per_call):
        chunk = table.iloc[start:start + rows_per_call].reset_index(drop=True)
        out.extend(row[positive] for row in served.run("predict_proba", chunk))
    return np.asarray(out, dtype=np.float64)


def main(argv: list[str] | None = None) -> None:
    from sklearn.metrics import roc_auc_score

    from transmodal.serving.model import load_served

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="issue-19-serve-packed-quality")
    parser.add_argument("--commit", default=None)
    args = parser.parse_args(argv)
    os.environ["TRANSMODAL_CACHE"] = "off"  # every row encoded, as in the load test
    served = load_served(saved_model(), None)
    _, test = load_clothing()
    table, labels = test[FEATURES].reset_index(drop=True), test[LABEL].to_numpy()
    probabilities = served.predictor.predict_proba(table)
    positive = probabilities.columns[-1]  # the classes are [0, 1]
    reference = probabilities[positive].to_numpy(dtype=np.float64)
    ways = {"predictor": reference, "micro-batches of 16": served_probabilities(served, table, 16, str(positive)),
            "one row per call": served_probabilities(served, table, 1, str(positive))}
    results = {"machine": {**machine(), **({"commit": args.commit} if args.commit else {})}, "rows": len(table),
               "ways": {}}
    for way, probs in ways.items():
        gap = np.abs(probs - reference)
        results["ways"][way] = {"auroc": float(roc_auc_score(labels, probs)),
                                "max_abs_diff_vs_predictor": float(gap.max()),
                                "mean_abs_diff_vs_predictor": float(gap.mean()),
                                "same_label_as_predictor": float(np.mean((probs >= 0.5) == (reference >= 0.5)))}
        print(way, results["ways"][way], flush=True)
    print("saved", save_json(args.name, results))


if __name__ == "__main__":
    main()
