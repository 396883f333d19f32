"""Hostile settings and interrupted runs (issue 21, items 5 and 10): out-of-range config values name
the valid ones, ``time_limit=0`` is refused, resuming with another table is refused, Ctrl-C prints
one error line (after the fit's status lines) and exits 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tabletools import TINY_HYPERPARAMETERS, write_table
from transmodal.cli import main
from transmodal.config import FitConfig
from transmodal.errors import ConfigError
from transmodal.predictor import MultimodalPredictor

HP = {**TINY_HYPERPARAMETERS, "max_epochs": 1}

OUT_OF_RANGE = [
    ("learning_rate", -1, "(0.0, inf)"), ("learning_rate", 0, "(0.0, inf)"),
    ("learning_rate", float("nan"), "(0.0, inf)"), ("learning_rate", float("inf"), "(0.0, inf)"),
    ("hidden_dim", 0, "[1, inf)"), ("max_epochs", 0, "[1, inf)"), ("max_epochs", -3, "[1, inf)"),
    ("batch_size", 0, "[1, inf)"), ("dropout", 1.0, "[0.0, 1.0)"), ("dropout", -0.1, "[0.0, 1.0)"),
    ("modality_dropout", 1, "[0.0, 1.0)"), ("modality_dropout", 1.5, "[0.0, 1.0)"),
    ("holdout_fraction", 1.0, "[0.0, 1.0)"), ("weight_decay", -1e-3, "[0.0, inf)"),
    ("patience", -1, "[0, inf)"), ("encoder_learning_rate", 0.0, "(0.0, inf)"),
]
BAD_CHOICES = [
    ("on_bad_rows", "skp", "'raise', 'skip'"), ("on_bad_rows", "Skip", "'raise', 'skip'"),
    ("class_weight", "balance", "None, 'balanced'"), ("sampler", "uniform", "None, 'balanced'"),
]


@pytest.mark.parametrize(("key", "value", "valid"), OUT_OF_RANGE + BAD_CHOICES)
def test_config_values_out_of_range_name_the_valid_ones(key, value, valid):
    with pytest.raises(ConfigError) as info:
        FitConfig.from_dict({key: value})
    message = str(info.value)
    assert key in message and repr(value) in message and valid in message


def test_valid_edges_are_accepted():
    FitConfig.from_dict({"dropout": 0.0, "modality_dropout": 0.0, "holdout_fraction": 0.0, "max_epochs": 1,
                         "batch_size": 1, "hidden_dim": 1, "class_weight": "balanced", "sampler": None,
                         "on_bad_rows": "skip", "gradient_clip": None, "patience": 0})


@pytest.mark.slow
def test_a_config_file_with_a_bad_value_fails_at_the_cli(tmp_path, capsys):
    write_table(tmp_path, n=12)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", str(tmp_path / "table.csv"), "--label", "label", "--out", str(tmp_path / "m"),
              "--set", "learning_rate=-1"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "learning_rate=-1" in err and "(0.0, inf)" in err and "Traceback" not in err


@pytest.mark.parametrize("limit", [0, -5, float("nan")])
def test_a_time_limit_that_is_not_positive_is_refused(tmp_path, limit):
    frame = write_table(tmp_path, n=12, absolute=True)
    with pytest.raises(ConfigError, match="time_limit"):
        MultimodalPredictor(label="label").fit(frame, hyperparameters=HP, time_limit=limit)


# ---- resuming -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_resume_with_another_table_is_refused(tmp_path):
    first = write_table(tmp_path / "a", n=24, seed=0, absolute=True)
    other = first.copy()
    other.loc[3, "size"] += 1.0  # one cell differs
    checkpoints = tmp_path / "checkpoints"
    MultimodalPredictor(label="label").fit(first, hyperparameters=HP, checkpoint_dir=checkpoints)
    assert json.loads((checkpoints / "run.json").read_text())["data"]["train"]
    with pytest.raises(ConfigError, match="other data"):
        MultimodalPredictor(label="label").fit(other, hyperparameters=HP, checkpoint_dir=checkpoints, resume=True)
    with pytest.raises(ConfigError, match="tune table differs"):
        MultimodalPredictor(label="label").fit(first, tuning_data=other, hyperparameters=HP,
                                               checkpoint_dir=checkpoints, resume=True)
    # the same table resumes (the run is already complete: nothing left to train)
    MultimodalPredictor(label="label").fit(first, hyperparameters=HP, checkpoint_dir=checkpoints, resume=True)


@pytest.mark.slow
def test_cli_resume_with_another_table_is_refused(tmp_path, capsys):
    write_table(tmp_path, n=24)
    table = pd.read_csv(tmp_path / "table.csv")
    table.sample(frac=1.0, random_state=0).to_csv(tmp_path / "shuffled.csv", index=False)  # same rows, new order
    args = ["--label", "label", "--out", str(tmp_path / "model"), "--set", "max_epochs=2", "--set", "batch_size=4",
            "--set", "progress_bar=false", "--checkpoint-every", "1"]
    with pytest.MonkeyPatch.context() as patch:
        _interrupt_at_step(patch, 2)
        with pytest.raises(SystemExit):
            main(["fit", str(tmp_path / "table.csv"), *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", str(tmp_path / "shuffled.csv"), *args, "--resume"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "other data" in err and "Traceback" not in err


# ---- Ctrl-C -------------------------------------------------------------------------------------
def _interrupt_at_step(monkeypatch, step: int) -> None:
    from transmodal.engine.module import PredictorModule

    original = PredictorModule.training_step

    def training_step(self, batch, batch_idx):
        if self.trainer.global_step >= step:
            raise KeyboardInterrupt
        return original(self, batch, batch_idx)

    monkeypatch.setattr(PredictorModule, "training_step", training_step)


def test_ctrl_c_in_fit_raises_keyboard_interrupt(tmp_path, monkeypatch):
    """Lightning turns KeyboardInterrupt into sys.exit(1); the API gives it back to the caller."""
    frame = write_table(tmp_path, n=12, absolute=True)
    _interrupt_at_step(monkeypatch, 0)
    with pytest.raises(KeyboardInterrupt):
        MultimodalPredictor(label="label").fit(frame, hyperparameters=HP)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C works again


@pytest.mark.slow
def test_ctrl_c_in_cli_fit_prints_one_line_and_exits_130(tmp_path, monkeypatch, capsys):
    write_table(tmp_path, n=24)
    _interrupt_at_step(monkeypatch, 2)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", str(tmp_path / "table.csv"), "--label", "label", "--out", str(tmp_path / "model"),
              "--set", "max_epochs=3", "--set", "batch_size=4", "--set", "progress_bar=false",
              "--checkpoint-every", "1"])
    assert exit_info.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error:")]  # the other lines are the fit's status lines
    assert errors == err[-1:] and "run the same command with --resume to continue" in errors[0]
    assert "Traceback" not in "\n".join(err)


@pytest.mark.slow
def test_sigint_to_cli_fit_exits_130(tmp_path):
    write_table(tmp_path, n=48)
    (tmp_path / "hp.json").write_text(json.dumps({**TINY_HYPERPARAMETERS, "max_epochs": 200, "batch_size": 4}))
    out = tmp_path / "model"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "transmodal", "fit", str(tmp_path / "table.csv"), "--label", "label", "--out",
         str(out), "--config", str(tmp_path / "hp.json"), "--checkpoint-every", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list(out.rglob("last.safetensors")) and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], err
    assert "checkpoint saved to" in err and "run the same command with --resume to continue" in lines[-1], err
    assert "Traceback" not in err
