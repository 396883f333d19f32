"""Two-process DDP on CPU (gloo) fits an AlignmentModel: both ranks train, agree, and rank 0 saves.

As in ``tests/engine/test_ddp.py``, the fit runs as a script in a subprocess without the DDP
environment variables: Lightning's DDP launcher re-runs the current command once per extra
process, which inside pytest would be pytest itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tabletools import write_table

TINY = {"max_epochs": 3, "batch_size": 16, "embed_dim": 16, "learning_rate": 5e-3, "patience": 10,
        "encoders": {"image": {"name": "cnn", "width": 8, "output_dim": 16},
                     "text": {"name": "builtin_text", "output_dim": 16}}}
CAPTIONS = {"cat": "left stripe", "dog": "middle stripe", "eel": "right stripe"}

SCRIPT = textwrap.dedent("""
    import json, sys
    from transmodal.alignment.model import AlignmentModel

    folder, hp = sys.argv[1], json.loads(sys.argv[2])
    hp.update({"accelerator": "cpu", "devices": 2, "strategy": "ddp"})
    model = AlignmentModel(columns=("image", "caption"), hyperparameters=hp).fit(folder + "/pairs.csv", seed=0)
    history = model.history_
    rank = history["global_rank"]
    if rank == 0:
        model.save(folder + "/model")
    with open(f"{folder}/result_{rank}.json", "w") as handle:
        json.dump({"world_size": history["world_size"], "best_score": history["best_score"],
                   "val_scores": [e["val_score"] for e in history["epochs"]],
                   "scheduled": history["scheduled_steps"], "taken": history["optimizer_steps"],
                   "trainer": history["trainer"],
                   "encoded": model.encode(folder + "/pairs.csv", "image")[:8].tolist()}, handle)
""")


@pytest.mark.slow
def test_two_process_ddp_alignment(tmp_path: Path):
    frame = write_table(tmp_path, n=64)
    frame["caption"] = frame["label"].map(CAPTIONS)
    frame.to_csv(tmp_path / "pairs.csv", index=False)
    env = {k: v for k, v in os.environ.items()
           if k not in ("LOCAL_RANK", "WORLD_SIZE", "MASTER_PORT", "MASTER_ADDR", "RANK", "NODE_RANK")}
    env.update({"HF_HUB_OFFLINE": "1", "PL_DISABLE_FORK": "1"})
    (tmp_path / "ddp_script.py").write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(tmp_path / "ddp_script.py"), str(tmp_path), json.dumps(TINY)],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]

    ranks = [json.loads((tmp_path / f"result_{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert ranks[0]["trainer"]["strategy"] == "DDPStrategy" and ranks[0]["trainer"]["devices"] == 2
    # the tuning MRR is computed on the rows gathered from both ranks, so both see the same scores
    assert ranks[0]["val_scores"] == pytest.approx(ranks[1]["val_scores"])
    assert len(ranks[0]["val_scores"]) == TINY["max_epochs"]
    # both end with the same restored best weights
    np.testing.assert_allclose(ranks[0]["encoded"], ranks[1]["encoded"], atol=1e-5)
    # each rank takes half the batches: 57 training rows -> 29 per rank -> 2 batches of 16
    assert ranks[0]["taken"] == ranks[0]["scheduled"] == TINY["max_epochs"] * 2

    from transmodal.alignment.model import AlignmentModel

    loaded = AlignmentModel.load(tmp_path / "model")
    encoded = loaded.encode(str(tmp_path / "pairs.csv"), "image")
    assert encoded.shape == (64, 16) and np.isfinite(encoded).all()
    np.testing.assert_allclose(encoded[:8], ranks[0]["encoded"], atol=1e-5)
