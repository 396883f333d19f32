"""``ensemble.tuned``: a search's fold models held as one ensemble (the end-to-end tests are in
``tests/tuning/test_fold_models.py``)."""

from __future__ import annotations

import pytest

from transmodal.ensemble.tuned import from_fold_models, union_task
from transmodal.errors import ConfigError
from transmodal.heads.task import TaskSpec


def test_the_fold_models_task_holds_every_class_any_fold_saw_in_the_first_folds_order():
    first = TaskSpec("y", "multiclass", ["a", "b"])
    assert union_task([first, TaskSpec("y", "multiclass", ["a", "b"])]) is first
    assert union_task([first, TaskSpec("y", "multiclass", ["a", "c"]), TaskSpec("y", "multiclass", ["b", "d"])]).classes \
        == ["a", "b", "c", "d"]
    regression = TaskSpec("y", "regression", target_mean=2.0, target_std=3.0)
    assert union_task([regression, TaskSpec("y", "regression", target_mean=1.0)]) is regression


def test_no_fold_model_is_refused():
    from transmodal import AutoPredictor

    with pytest.raises(ConfigError, match="no fold model"):
        from_fold_models(AutoPredictor("y"), [])
