"""Issue 6: the user-facing report (``compare_with_single_task``) on the clothing protocol, 3 seeds.

The configuration is the one the tuning rows chose in ``multitask_clothing``'s lr 3e-4 + Huber run
(mmoe + uncertainty). Unlike that script, the report makes its own holdout (stratified by the first
label, Rating) and gives it to every fit. Run from the repo root::

    .venv/bin/python -m benchmarks.multitask_clothing_report
"""

import pandas as pd

from benchmarks.multitask_clothing import FEATURES, METRICS, TASKS
from transmodal.multitask.versus_single import compare_with_single_task

TEXT_ENCODER = {"name": "hf_text", "checkpoint": "packaged:all-MiniLM-L6-v2", "frozen": True, "max_length": 128}
HYPERPARAMETERS = {"max_epochs": 10, "batch_size": 64, "hidden_dim": 256, "learning_rate": 3e-4, "patience": 10,
                   "progress_bar": False, "encoders": {"text": TEXT_ENCODER}, "loss": "huber",
                   "multitask": {"architecture": "mmoe", "weighting": "uncertainty"}}


def main() -> None:
    columns = FEATURES + list(TASKS)
    train = pd.read_csv("benchmarks/_work/clothing/train.csv")[columns]
    test = pd.read_csv("benchmarks/_work/clothing/test.csv")[columns]
    deltas = []
    for seed in [0, 1, 2]:
        report = compare_with_single_task(train, test, list(TASKS), problem_type=TASKS,
                                          hyperparameters=HYPERPARAMETERS, seed=seed, metrics=METRICS)
        table = report.table[["task", "single", "multi", "change_%"]].round(4)
        print("seed", seed, table.to_dict(orient="records"), flush=True)
        print("seed", seed, "delta_m", round(report.delta_m, 3),
              {k: round(v, 1) for k, v in report.fit_seconds.items()}, flush=True)
        deltas.append(report.delta_m)
    print("mean delta_m", round(sum(deltas) / len(deltas), 3))


if __name__ == "__main__":
    main()
