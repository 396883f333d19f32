"""Presets are packaged YAML data read into checked dataclasses; hyperparameters override members."""

from __future__ import annotations

import pytest

from transmodal.ensemble.members.base import MEMBERS
from transmodal.ensemble.presets import load_preset, preset_names
from transmodal.errors import ConfigError


def test_packaged_presets_name_registered_members_in_order():
    assert preset_names() == ["best", "fast", "medium"]
    for name in preset_names():
        preset = load_preset(name)
        assert preset.name == name and preset.time_limit > 0
        assert all(plan.kind in MEMBERS for plan in preset.members)
    assert [m.name for m in load_preset("fast").members] == ["tfidf_linear", "tfidf_nbsvm", "lightgbm"]
    assert load_preset("fast").refit_full
    assert {m.kind for m in load_preset("best").members} == {"tfidf_linear", "lightgbm", "neural", "kernel_ridge"}


def test_time_targets_grow_with_quality():
    assert load_preset("fast").time_limit < load_preset("medium").time_limit < load_preset("best").time_limit


def test_overrides_merge_into_member_options_and_leave_the_preset_alone():
    preset = load_preset("medium")
    changed = preset.with_overrides({"lightgbm": {"num_boost_round": 7},
                                     "neural_frozen": {"hyperparameters": {"max_epochs": 1}}})
    options = {m.name: m.options for m in changed.members}
    assert options["lightgbm"]["num_boost_round"] == 7
    assert options["neural_frozen"]["hyperparameters"]["max_epochs"] == 1
    assert options["neural_frozen"]["hyperparameters"]["hidden_dim"] == 256  # kept
    assert {m.name: m for m in load_preset("medium").members}["lightgbm"].options["num_boost_round"] != 7


def test_unknown_preset_and_member_are_named():
    with pytest.raises(ConfigError, match="did you mean 'fast'"):
        load_preset("fsat")
    with pytest.raises(ConfigError, match="'lgbm'.*did you mean 'lightgbm'"):
        load_preset("fast").with_overrides({"lgbm": {}})


def test_lora_text_true_adapts_every_text_encoder_and_nothing_else():
    import copy

    import pandas as pd

    from transmodal.ensemble.members.base import MemberContext
    from transmodal.heads.task import TaskSpec

    plan = {m.name: m for m in load_preset("best").members}["neural_lora"]
    context = MemberContext("y", TaskSpec("y", "binary", [0, 1]),
                            {"Title": "text", "Age": "numeric", "Review Text": "text", "Dept": "categorical"}, "roc_auc")
    options = {**copy.deepcopy(plan.options), "lora_text": True}
    frame = pd.DataFrame({"Title": ["a"], "Age": [1], "Review Text": ["a longer text"], "Dept": ["x"]})
    hp = MEMBERS.get("neural")(context, options)._hyperparameters(frame)
    assert hp["transfer"] == {"strategy": "lora", "r": 8, "inputs": ["Title", "Review Text"]}
    assert "inputs" not in plan.options["hyperparameters"]["transfer"]  # the preset is not changed


def test_only_for_runs_a_member_only_for_labels_of_those_problem_types():
    from transmodal.ensemble.presets import MemberPlan

    plan = MemberPlan("ridge", "tfidf_linear", only_for=["regression"])
    assert plan.skip_reason({"name": "text"}, "regression") is None
    assert plan.skip_reason({"name": "text"}, "binary") == "skipped: only_for regression, and the label is binary"
    assert plan.skip_reason({"name": "text"}, "multiclass").startswith("skipped: only_for regression")
    assert plan.skip_reason({"name": "text"}) is None  # problem type not given: not checked
    with pytest.raises(ConfigError, match="'classification', which is not a problem type"):
        MemberPlan("bad", "lightgbm", only_for=["classification"])


def test_only_with_runs_a_member_only_on_tables_with_those_modalities():
    from transmodal.ensemble.presets import MemberPlan

    plan = MemberPlan("photos", "lightgbm", only_with=["image", "audio"])
    assert plan.skip_reason({"photo": "image", "name": "text"}) is None
    assert plan.skip_reason({"clip": "audio"}) is None
    assert plan.skip_reason({"name": "text", "age": "numeric"}).startswith("skipped: only_with image/audio")
    assert MemberPlan("any", "lightgbm").skip_reason({"name": "text"}) is None
    with pytest.raises(ConfigError, match="'photo', which is not a modality"):
        MemberPlan("bad", "lightgbm", only_with=["photo"])
    kept = load_preset("best").with_overrides({"neural_frozen": {"hyperparameters": {"max_epochs": 1}}})
    assert {m.name: m for m in kept.members}["neural_frozen"].only_with == ["image", "audio"]  # overrides keep it
