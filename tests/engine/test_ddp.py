"""Two-process DDP on CPU (gloo) trains a tiny table to the same quality as one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tabletools import TINY_HYPERPARAMETERS, write_table

SCRIPT = textwrap.dedent("""
    import json, sys
    from transmodal.predictor import MultimodalPredictor

    folder, devices, hp = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    hp.update({"accelerator": "cpu", "devices": devices, "strategy": "ddp" if devices > 1 else "auto"})
    predictor = MultimodalPredictor(label="label").fit(folder + "/table.csv", hyperparameters=hp, seed=0)
    rank = predictor.history_["global_rank"]
    metrics = predictor.evaluate(folder + "/table.csv")
    with open(f"{folder}/result_{devices}_{rank}.json", "w") as handle:
        json.dump({"accuracy": metrics["accuracy"], "epochs": len(predictor.history_["epochs"]),
                   "scheduled": predictor.history_["scheduled_steps"],
                   "taken": predictor.history_["optimizer_steps"]}, handle)
""")


def _run(folder: Path, devices: int) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LOCAL_RANK", "WORLD_SIZE", "MASTER_PORT", "MASTER_ADDR", "RANK", "NODE_RANK")}
    env.update({"HF_HUB_OFFLINE": "1", "PL_DISABLE_FORK": "1"})
    (folder / "ddp_script.py").write_text(SCRIPT)
    hp = {**TINY_HYPERPARAMETERS, "max_epochs": 4, "patience": 10}
    subprocess.run([sys.executable, str(folder / "ddp_script.py"), str(folder), str(devices), json.dumps(hp)],
                   env=env, check=True, capture_output=True, timeout=900)


@pytest.mark.slow
def test_two_process_ddp_trains_like_one_process(tmp_path):
    write_table(tmp_path, n=64)
    _run(tmp_path, 2)
    ranks = [json.loads((tmp_path / f"result_2_{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]  # both processes end with the same (synchronised) model
    _run(tmp_path, 1)
    single = json.loads((tmp_path / "result_1_0.json").read_text())
    assert ranks[0]["accuracy"] >= 0.9 and single["accuracy"] >= 0.9
    assert abs(ranks[0]["accuracy"] - single["accuracy"]) <= 0.1
    # the learning-rate schedule spans the steps each process really takes (half the batches each)
    assert ranks[0]["taken"] == ranks[0]["scheduled"] == 4 * 2  # 54 train rows: 27 per rank, batches of 16
    assert single["taken"] == single["scheduled"] == 4 * 4  # 54 rows in batches of 16
