"""Ctrl-C stops a fit cleanly (issue 20, acceptance c): SIGINT to ``transmodal fit`` after its first
epoch checkpoint ends the current batch, saves a checkpoint there, says how to resume and exits 130;
``--resume`` then finishes the fit to the model an uninterrupted fit saves. Both model folders hold
``fit.log`` and ``metrics.csv`` (acceptance d)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabletools import TINY_HYPERPARAMETERS, write_table
from transmodal.predictor import MultimodalPredictor

HP = {**TINY_HYPERPARAMETERS, "max_epochs": 6, "batch_size": 4, "patience": 10}


def _fit(folder: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "transmodal", "fit", str(folder / "table.csv"), "--label", "label", "--out",
            str(out), "--config", str(folder / "hp.json"), "--seed", "1", "--checkpoint-every", "0", *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@pytest.mark.slow
def test_sigint_saves_a_checkpoint_names_resume_and_resumes_to_the_uninterrupted_model(tmp_path):
    write_table(tmp_path, n=48)
    (tmp_path / "hp.json").write_text(json.dumps(HP))
    subprocess.run(_fit(tmp_path, tmp_path / "ref"), check=True, env=_env(), capture_output=True)

    out = tmp_path / "run"
    process = subprocess.Popen(_fit(tmp_path, out), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    checkpoint = out / "checkpoints" / "last.safetensors"
    deadline = time.time() + 300
    while not checkpoint.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)  # the first checkpoint is written at the end of epoch 1
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err.strip().splitlines()[-1]
    assert "checkpoint saved to" in err  # written at the batch the fit stopped after
    assert not (out / "config.json").exists()  # no model yet: only the checkpoints

    resumed = subprocess.run(_fit(tmp_path, out, "--resume"), env=_env(), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from a checkpoint" in resumed.stderr

    table = str(tmp_path / "table.csv")
    reference, model = MultimodalPredictor.load(tmp_path / "ref"), MultimodalPredictor.load(out)
    np.testing.assert_allclose(model.predict_proba(table).to_numpy(), reference.predict_proba(table).to_numpy(),
                               atol=1e-6)
    ref_epochs, epochs = (pd.read_csv(folder / "metrics.csv") for folder in (tmp_path / "ref", out))
    assert list(epochs["epoch"]) == list(ref_epochs["epoch"]) == list(range(1, len(ref_epochs) + 1))
    np.testing.assert_allclose(epochs["val_score"], ref_epochs["val_score"], atol=1e-6)
    ref_log, log = ((folder / "fit.log").read_text(encoding="utf-8") for folder in (tmp_path / "ref", out))
    assert "column types" in ref_log and "epoch 1/6" in ref_log and "kept (tuning accuracy" in ref_log
    # the resumed fit's log: from the checkpoint on (epoch 1 was logged by the interrupted run)
    assert "resuming from a checkpoint" in log and "epoch 1/6" not in log and "epoch 6/6" in log
