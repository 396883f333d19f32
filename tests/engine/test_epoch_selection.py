"""Which epoch a fit keeps: the best on held-out tuning rows, or the last when none are held out."""

from __future__ import annotations

import pytest

from tabletools import TINY_HYPERPARAMETERS, write_table
from transmodal import MultimodalPredictor
from transmodal.errors import ConfigError


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("epochs")
    frame = write_table(folder, n=15)[["image", "size", "label"]]
    frame["image"] = [str(folder / p) for p in frame["image"]]
    return frame


def test_no_holdout_trains_every_epoch_on_every_row_and_keeps_the_last(table):
    hp = {**TINY_HYPERPARAMETERS, "max_epochs": 4, "patience": 1, "holdout_fraction": 0.0}
    predictor = MultimodalPredictor(label="label").fit(table, hyperparameters=hp, seed=0)
    history = predictor.history_
    assert len(history["epochs"]) == 4  # no early stopping
    assert history["best_epoch"] == 3 and not history["epoch_selected"]  # the last epoch is kept
    assert history["optimizer_steps"] == 4 * 1  # 15 rows, none held out: one batch of 16 per epoch


def test_default_holdout_selects_an_epoch_on_held_out_rows(table):
    hp = {**TINY_HYPERPARAMETERS, "max_epochs": 2}
    history = MultimodalPredictor(label="label").fit(table, hyperparameters=hp, seed=0).history_
    assert history["optimizer_steps"] == 2 * 1 and 0 <= history["best_epoch"] <= 1 and history["epoch_selected"]


@pytest.mark.parametrize("fraction", [1.0, 1.5, -0.1])
def test_holdout_fraction_out_of_range_is_a_clear_error(table, fraction):
    with pytest.raises(ConfigError, match="holdout_fraction"):
        MultimodalPredictor(label="label").fit(
            table, hyperparameters={**TINY_HYPERPARAMETERS, "max_epochs": 1, "holdout_fraction": fraction})


def test_select_epoch_false_trains_the_whole_budget_and_keeps_the_last_epoch(table):
    tuning = table.assign(size=table["size"].sample(frac=1.0, random_state=0).to_numpy())  # unrelated targets
    hp = {**TINY_HYPERPARAMETERS, "max_epochs": 6, "patience": 1, "select_epoch": False}
    predictor = MultimodalPredictor(label="size", problem_type="regression").fit(
        table, tuning_data=tuning, hyperparameters=hp, seed=0)
    history = predictor.history_
    assert len(history["epochs"]) == 6 and history["best_epoch"] == 5 and not history["epoch_selected"]
    errors = [epoch["val/size/rmse"] for epoch in history["epochs"]]  # logged on the tuning rows
    assert min(errors) < errors[-1]  # keeping the best epoch would keep another state ...
    assert predictor.evaluate(tuning)["rmse"] == pytest.approx(errors[-1], abs=1e-5)  # ... the last one is kept
