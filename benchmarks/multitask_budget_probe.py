"""Issue 6 diagnostic: per-epoch tuning curves of single- and multi-task models under a few budgets.

Seed 0 of ``benchmarks.multitask_clothing``'s protocol. For each budget (hyperparameters applied to
every model alike), fits the four single-task models and the multi-task ``hard`` and ``mmoe``
models (equal weighting), and prints each model's test metric, its tuning-selected epoch and tuning
score, delta_m, and the multi-task models' tuning metrics per epoch. Used to choose the shared
budget by the single-task models' tuning scores; its numbers are one seed, not the acceptance runs.

Run: ``.venv/bin/python -m benchmarks.multitask_budget_probe '{"lr 3e-4": {"learning_rate": 3e-4}}'``
"""

from __future__ import annotations

import argparse
import json

from benchmarks.multitask_clothing import METRICS, TASKS, fit_and_evaluate, hyperparameters, options, tables


def fit(label, hp: dict, train, tune, test) -> tuple[dict, dict]:
    """Fit one seed-0 predictor; returns its test metrics per task and its history."""
    predictor, metrics, _ = fit_and_evaluate(label, train, tune, test, hp, seed=0)
    return metrics, predictor.history_


def main(argv: list[str] | None = None) -> None:
    from transmodal.multitask.report import delta_m

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("budgets", help='JSON: name -> hyperparameters, e.g. {"lr 3e-4": {"learning_rate": 3e-4}}')
    cli = parser.parse_args(argv)
    args = options([])
    train, tune, test = tables(args, 0)
    fit("Rating", {**hyperparameters(args), "max_epochs": 1}, train, tune, test)  # fills the feature memo
    for name, extra in json.loads(cli.budgets).items():
        single = {}
        for task in TASKS:
            metrics, history = fit(task, {**hyperparameters(args), **extra}, train, tune, test)
            single[task] = metrics[task]
            print(name, "single", task, round(metrics[task][METRICS[task]], 4), "best", history["best_epoch"],
                  "tune", round(history["best_score"], 4), flush=True)
        for arch in ("hard", "mmoe"):
            metrics, history = fit(list(TASKS), {**hyperparameters(args, {"architecture": arch}), **extra},
                                   train, tune, test)
            print(name, arch, {t: round(metrics[t][METRICS[t]], 4) for t in TASKS}, "best", history["best_epoch"],
                  "delta_m", round(delta_m(metrics, single, METRICS), 3), flush=True)
            for epoch in history["epochs"]:
                print("   ", epoch["epoch"], {k.split("/")[1][:8]: round(v, 4) for k, v in epoch.items()
                                               if k.startswith("val/")}, flush=True)


if __name__ == "__main__":
    main()
