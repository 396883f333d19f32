"""Issue 6: the user-facing report (``compare_with_single_task``) on the clothing protocol, 3 seeds.

Two budgets of ``multitask_clothing``, each with the configuration its tuning rows chose:

* ``epoch-selected`` (default): lr 3e-4, Huber regression loss, every model keeps its best tuning
  epoch; mmoe + uncertainty.
* ``last-epoch``: lr 3e-4, MSE regression loss, every model trains all 10 epochs and keeps the
  last (``select_epoch=False``); mmoe + gradnorm.

Unlike ``multitask_clothing``, the report makes its own holdout (stratified by the first label,
Rating) and gives it to every fit. Run from the repo root::

    .venv/bin/python -m benchmarks.multitask_clothing_report [--budget last-epoch]
"""

import argparse

import pandas as pd

from benchmarks.datasets.clothing import build_clothing
from benchmarks.multitask_clothing import METRICS, TASKS, hyperparameters, options
from transmodal.experiments.multitask_comparison import compare_with_single_task

# budget name -> (multitask_clothing options, the configuration its tuning rows chose)
BUDGETS = {
    "epoch-selected": (["--learning-rate", "3e-4", "--loss", "huber"], {"architecture": "mmoe", "weighting": "uncertainty"}),
    "last-epoch": (["--learning-rate", "3e-4", "--last-epoch"], {"architecture": "mmoe", "weighting": "gradnorm"}),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="epoch-selected")
    flags, configuration = BUDGETS[parser.parse_args(argv).budget]
    args = options(flags)
    paths, columns = build_clothing(), list(args.features) + list(TASKS)
    train, test = pd.read_csv(paths["train"])[columns], pd.read_csv(paths["test"])[columns]
    deltas = []
    for seed in [0, 1, 2]:
        report = compare_with_single_task(train, test, list(TASKS), problem_type=TASKS,
                                          hyperparameters=hyperparameters(args, configuration), seed=seed,
                                          metrics=METRICS)
        table = report.table[["task", "single", "multi", "change_%"]].round(4)
        print("seed", seed, table.to_dict(orient="records"), flush=True)
        print("seed", seed, "delta_m", round(report.delta_m, 3),
              {k: round(v, 1) for k, v in report.fit_seconds.items()}, flush=True)
        deltas.append(report.delta_m)
    print("mean delta_m", round(sum(deltas) / len(deltas), 3))


if __name__ == "__main__":
    main()
