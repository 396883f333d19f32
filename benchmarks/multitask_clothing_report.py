"""Issue 6: the user-facing report (``compare_with_single_task``) on the clothing protocol, 3 seeds.

The configuration is the one the tuning rows chose in ``multitask_clothing``'s lr 3e-4 + Huber run
(mmoe + uncertainty). Unlike that script, the report makes its own holdout (stratified by the first
label, Rating) and gives it to every fit. Run from the repo root::

    .venv/bin/python -m benchmarks.multitask_clothing_report
"""

import time, pandas as pd
from benchmarks.multitask_clothing import TASKS, FEATURES
from transmodal.multitask.versus_single import compare_with_single_task
train = pd.read_csv("benchmarks/_work/clothing/train.csv")[FEATURES + list(TASKS)]
test = pd.read_csv("benchmarks/_work/clothing/test.csv")[FEATURES + list(TASKS)]
hp = {"max_epochs": 10, "batch_size": 64, "hidden_dim": 256, "learning_rate": 3e-4, "patience": 10, "progress_bar": False,
      "encoders": {"text": {"name": "hf_text", "checkpoint": "packaged:all-MiniLM-L6-v2", "frozen": True, "max_length": 128}},
      "loss": "huber", "multitask": {"architecture": "mmoe", "weighting": "uncertainty"}}
metrics = {"Rating": "accuracy", "Recommended IND": "roc_auc", "Department Name": "accuracy", "Positive Feedback Count": "rmse"}
deltas = []
for seed in [0, 1, 2]:
    r = compare_with_single_task(train, test, list(TASKS), problem_type=TASKS, hyperparameters=hp, seed=seed, metrics=metrics)
    print("seed", seed, r.table[["task", "single", "multi", "change_%"]].round(4).to_dict(orient="records"), flush=True)
    print("seed", seed, "delta_m", round(r.delta_m, 3), {k: round(v, 1) for k, v in r.fit_seconds.items()}, flush=True)
    deltas.append(r.delta_m)
print("mean delta_m", round(sum(deltas) / len(deltas), 3))
