"""Resumable training: a SIGKILLed ``transmodal fit`` resumes to the same model as an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tabletools import TINY_HYPERPARAMETERS, write_table
from transmodal.errors import ConfigError, ModelLoadError
from transmodal.predictor import MultimodalPredictor

CLI = [sys.executable, "-m", "transmodal"]
HP = {**TINY_HYPERPARAMETERS, "max_epochs": 4, "modality_dropout": 0.2,
      "encoders": {**TINY_HYPERPARAMETERS["encoders"],
                   "image": {"name": "cnn", "width": 8, "output_dim": 16, "augment": True}}}


def _fit_command(folder: Path, out: Path, *extra: str) -> list[str]:
    return CLI + ["fit", str(folder / "table.csv"), "--label", "label", "--out", str(out),
                  "--config", str(folder / "hp.json"), "--seed", "3", "--checkpoint-every", "1", *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _loadable_or_refused(out: Path) -> None:
    """At any moment the folder either loads or is refused cleanly (never a crash or a broken model)."""
    try:
        MultimodalPredictor.load(out)
    except ModelLoadError:
        pass


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    write_table(tmp_path, n=48)
    (tmp_path / "hp.json").write_text(json.dumps(HP))
    subprocess.run(_fit_command(tmp_path, tmp_path / "ref"), check=True, env=_env(), capture_output=True)
    reference = MultimodalPredictor.load(tmp_path / "ref")
    assert not (tmp_path / "ref" / "checkpoints").exists()  # removed once the model is saved

    out = tmp_path / "run"
    process = subprocess.Popen(_fit_command(tmp_path, out), env=_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    checkpoint = out / "checkpoints" / "last.safetensors"
    while not checkpoint.exists() and process.poll() is None:
        time.sleep(0.02)
    time.sleep(random.Random().uniform(0.0, 2.0))  # a random moment after the first checkpoint
    process.send_signal(signal.SIGKILL)
    process.wait()
    _loadable_or_refused(out)
    subprocess.run(_fit_command(tmp_path, out, "--resume"), check=True, env=_env(), capture_output=True)
    resumed = MultimodalPredictor.load(out)

    table = str(tmp_path / "table.csv")
    np.testing.assert_allclose(resumed.predict_proba(table).to_numpy(),
                               reference.predict_proba(table).to_numpy(), atol=1e-6)
    ref_metrics, metrics = reference.evaluate(table), resumed.evaluate(table)
    for name in ref_metrics:
        assert abs(metrics[name] - ref_metrics[name]) <= 1e-6, name


@pytest.mark.slow
def test_resume_in_process_after_an_interruption(tmp_path, monkeypatch):
    import lightning as L

    import transmodal.fitting.pipeline as pipeline
    from transmodal.fitting.state import Extension

    write_table(tmp_path, n=40)
    table = str(tmp_path / "table.csv")
    reference = MultimodalPredictor(label="label").fit(table, hyperparameters=HP, seed=1)

    class Interrupt(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.global_step == 5:
                raise RuntimeError("simulated crash")

    class InterruptAfterFiveSteps(Extension):
        @classmethod
        def wanted(cls, request):
            return True

        def attach(self, state):
            state.training.callbacks.append(Interrupt())

    monkeypatch.setattr(pipeline, "EXTENSIONS", (*pipeline.EXTENSIONS, InterruptAfterFiveSteps))
    with pytest.raises(RuntimeError, match="simulated crash"):
        MultimodalPredictor(label="label").fit(table, hyperparameters=HP, seed=1,
                                               checkpoint_dir=tmp_path / "ck", checkpoint_every=2)
    monkeypatch.undo()
    resumed = MultimodalPredictor(label="label").fit(table, hyperparameters=HP, seed=1,
                                                     checkpoint_dir=tmp_path / "ck", resume=True)
    np.testing.assert_allclose(resumed.predict_proba(table).to_numpy(),
                               reference.predict_proba(table).to_numpy(), atol=1e-6)
    # epochs after the interrupted one follow exactly the same trajectory
    assert resumed.history_["epochs"][-1]["train_loss"] == pytest.approx(
        reference.history_["epochs"][-1]["train_loss"], abs=1e-7)


def test_resume_with_other_settings_is_refused(tmp_path):
    write_table(tmp_path, n=30)
    table = str(tmp_path / "table.csv")
    hp = {**TINY_HYPERPARAMETERS, "max_epochs": 1}
    MultimodalPredictor(label="label").fit(table, hyperparameters=hp, checkpoint_dir=tmp_path / "ck")
    with pytest.raises(ConfigError, match="different settings"):
        MultimodalPredictor(label="label").fit(table, hyperparameters={**hp, "learning_rate": 0.1},
                                               checkpoint_dir=tmp_path / "ck", resume=True)
