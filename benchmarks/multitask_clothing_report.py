"""Issue 6: the user-facing report (``compare_with_single_task``) on the clothing protocol, 3 seeds.

The configuration is the one the tuning rows chose in ``multitask_clothing``'s lr 3e-4 + Huber run
(mmoe + uncertainty). Unlike that script, the report makes its own holdout (stratified by the first
label, Rating) and gives it to every fit. Run from the repo root::

    .venv/bin/python -m benchmarks.multitask_clothing_report
"""

import pandas as pd

from benchmarks.datasets.clothing import build_clothing
from benchmarks.multitask_clothing import METRICS, TASKS, hyperparameters, options
from transmodal.multitask.versus_single import compare_with_single_task

# multitask_clothing's budget at lr 3e-4 with a Huber regression loss, and the tuning-chosen configuration
ARGS = options(["--learning-rate", "3e-4", "--loss", "huber"])
HYPERPARAMETERS = hyperparameters(ARGS, {"architecture": "mmoe", "weighting": "uncertainty"})


def main() -> None:
    paths, columns = build_clothing(), list(ARGS.features) + list(TASKS)
    train, test = pd.read_csv(paths["train"])[columns], pd.read_csv(paths["test"])[columns]
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
