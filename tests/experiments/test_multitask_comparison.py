"""The multi-task report: a multi-task model against single-task models on the same rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tabletools import TINY_HYPERPARAMETERS, write_table
from transmodal.errors import ConfigError
from transmodal.experiments.multitask_comparison import compare_with_single_task

LABELS = ["label", "big", "target"]


@pytest.fixture(scope="module")
def frame(tmp_path_factory) -> pd.DataFrame:
    """Text + numbers with a multiclass, a binary (one value missing) and a regression target."""
    frame = write_table(tmp_path_factory.mktemp("vs"), n=60).drop(columns=["image", "audio"])
    frame["big"] = np.where(frame["size"] > 1.0, "yes", "no").astype(object)
    frame.loc[3, "big"] = None  # a partial label: the single-task "big" model trains without this row
    frame["target"] = frame["size"] * 3.0 + 1.0
    return frame


@pytest.fixture(scope="module")
def report(frame):
    hp = {**TINY_HYPERPARAMETERS, "multitask": {"architecture": "mmoe"}}
    return compare_with_single_task(frame.iloc[:45], frame.iloc[45:], LABELS, hyperparameters=hp, seed=0)


@pytest.mark.slow
def test_every_task_is_compared_and_delta_m_is_the_mean_change(report):
    assert list(report.table["task"]) == LABELS
    assert list(report.table["metric"]) == ["accuracy", "accuracy", "rmse"]
    assert report.delta_m == pytest.approx(report.table["change_%"].mean())
    assert set(report.fit_seconds) == {"multi-task", "single:label", "single:big", "single:target"}
    assert report.single_task_seconds == pytest.approx(sum(report.fit_seconds[f"single:{t}"] for t in LABELS))
    row = report.table.set_index("task").loc["target"]
    assert row["multi"] == report.multi["target"]["rmse"] and row["single"] == report.single["target"]["rmse"]


def test_single_task_models_do_not_see_the_other_labels(report):
    multi = report.models["multi-task"]
    assert [t.name for t in multi.tasks_] == LABELS
    assert multi.config_.multitask == {"architecture": "mmoe"}
    for task in LABELS:
        model = report.models[f"single:{task}"]
        assert model.labels == [task]
        assert not set(LABELS) & set(model.column_types_), model.column_types_
        assert not model.config_.multitask  # the multitask section is the multi-task model's only


def test_the_report_is_json(report):
    data = json.loads(json.dumps(report.to_dict()))
    assert data["delta_m"] == pytest.approx(report.delta_m)
    assert [r["task"] for r in data["table"]] == LABELS


def test_one_label_is_refused(frame):
    with pytest.raises(ConfigError, match="two or more labels"):
        compare_with_single_task(frame, frame, ["label"])


@pytest.mark.slow
def test_with_a_frozen_encoder_the_timed_multitask_fit_reads_the_memo(frame):
    from transmodal.engine.feature_memo import clear_memo

    hp = {**TINY_HYPERPARAMETERS, "encoders": {**TINY_HYPERPARAMETERS["encoders"],
                                                "text": {"name": "builtin_text", "output_dim": 16, "frozen": True}}}
    clear_memo()
    report = compare_with_single_task(frame.iloc[:45], frame.iloc[45:], ["label", "target"], hyperparameters=hp)
    clear_memo()
    assert set(report.fit_seconds) == {"encode + first multi-task fit", "multi-task", "single:label", "single:target"}
    assert report.single_task_seconds == pytest.approx(report.fit_seconds["single:label"]
                                                       + report.fit_seconds["single:target"])
