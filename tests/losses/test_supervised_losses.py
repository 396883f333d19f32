"""Per-task loss choice and the Huber loss."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from transmodal import MultimodalPredictor
from transmodal.errors import ConfigError
from transmodal.heads.task import TaskSpec
from transmodal.losses.base import task_loss_name
from transmodal.losses.huber import HuberLoss


def test_a_loss_name_applies_to_the_tasks_it_fits_and_a_dict_picks_per_task():
    assert task_loss_name("auto", "r", "regression") == "mse"
    assert task_loss_name("focal", "y", "multiclass") == "focal"
    assert task_loss_name("focal", "r", "regression") == "mse"  # focal does not apply: default
    assert task_loss_name("huber", "r", "regression") == "huber"
    assert task_loss_name("huber", "y", "binary") == "cross_entropy"
    assert task_loss_name({"r": "huber"}, "r", "regression") == "huber"
    assert task_loss_name({"r": "huber"}, "y", "multiclass") == "cross_entropy"
    with pytest.raises(ConfigError, match="does not apply"):
        task_loss_name({"y": "huber"}, "y", "multiclass")
    with pytest.raises(ConfigError, match="unknown loss"):
        task_loss_name("hubber", "r", "regression")


def test_huber_is_quadratic_near_and_linear_far_and_ignores_missing_targets():
    loss = HuberLoss(TaskSpec("r", "regression", []), huber_delta=1.0)
    outputs = torch.zeros(3, 1, requires_grad=True)
    value = loss(outputs, torch.tensor([0.5, 10.0, float("nan")]))["loss"]
    assert float(value) == pytest.approx((0.5 * 0.5 ** 2 + (10.0 - 0.5)) / 2)
    value.backward()
    assert outputs.grad[:, 0].tolist() == pytest.approx([-0.25, -0.5, 0.0])  # the far row's gradient is capped


def multitask_frame(n: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    counts = np.where(rng.random(n) < 0.05, 200.0, np.maximum(0, 3 * x + rng.normal(size=n)))  # heavy tail
    return pd.DataFrame({"x": x, "z": rng.normal(size=n), "kind": np.where(x > 0, "hi", "lo"), "count": counts})


def test_per_task_loss_in_a_multitask_fit_and_clear_errors():
    frame = multitask_frame()
    hp = {"max_epochs": 2, "batch_size": 16, "progress_bar": False, "loss": {"count": "huber"}}
    fitted = {name: MultimodalPredictor(label=["kind", "count"], problem_type={"count": "regression"}).fit(
        frame, hyperparameters={**hp, "loss": loss}, seed=0) for name, loss in (("mse", "auto"), ("huber", {"count": "huber"}))}
    first = {name: p.history_["epochs"][0] for name, p in fitted.items()}
    # the same start: huber is at most half the squared error, and far less on the outliers
    assert 0 < first["huber"]["train/task/count"] < 0.5 * first["mse"]["train/task/count"]
    assert first["huber"]["train/task/kind"] == pytest.approx(first["mse"]["train/task/kind"], rel=0.2)
    with pytest.raises(ConfigError, match="unknown task"):
        MultimodalPredictor(label=["kind", "count"], problem_type={"count": "regression"}).fit(
            frame, hyperparameters={**hp, "loss": {"amount": "huber"}}, seed=0)
    with pytest.raises(ConfigError, match="does not apply"):
        MultimodalPredictor(label=["kind", "count"], problem_type={"count": "regression"}).fit(
            frame, hyperparameters={**hp, "loss": {"kind": "huber"}}, seed=0)
