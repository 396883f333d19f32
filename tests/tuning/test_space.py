"""Search spaces and tune settings are checked before any trial runs (no fit here)."""

from __future__ import annotations

import pytest

from transmodal.config import FitConfig
from transmodal.errors import ConfigError
from transmodal.tuning.settings import TuneSettings
from transmodal.tuning.space import SearchSpace, packaged_spaces, with_values

BASE = FitConfig().to_dict()


def test_an_unknown_key_is_a_config_error_naming_the_key():
    space = SearchSpace.from_data({"learning_rate": [1e-3, 1e-2], "learnin_rate": {"low": 0.1, "high": 0.2}}, "given")
    with pytest.raises(ConfigError, match="'learnin_rate'") as err:
        space.check(BASE)
    assert "not a FitConfig key (did you mean 'learning_rate'?)" in str(err.value)


def test_an_unknown_section_key_names_the_whole_key():
    space = SearchSpace.from_data({"transfer.rank": [4, 8]}, "given")
    with pytest.raises(ConfigError, match=r"'transfer\.rank'.*rank"):
        space.check(BASE)


def test_a_dotted_key_under_a_plain_value_is_refused():
    with pytest.raises(ConfigError, match=r"'dropout\.low'.*not a section"):
        SearchSpace.from_data({"dropout.low": [0.1]}, "given").check(BASE)


@pytest.mark.parametrize("entry, message", [
    ({"low": 0.0, "high": 1.5}, r"'dropout' = 1\.5 makes an invalid config"),  # a bound out of FitConfig's range
    ({"low": "1e-4", "high": 0.1}, "write 1.0e-4"),  # YAML reads 1e-4 as text
    ({"low": 0.5, "high": 0.1}, "low <= high"),
    ({"choices": []}, "non-empty list"),
    ({"lo": 0.1, "high": 0.2}, r"unknown field\(s\) \['lo'\]"),
])
def test_malformed_entries_name_the_key_and_the_problem(entry, message):
    with pytest.raises(ConfigError, match=message):
        SearchSpace.from_data({"dropout": entry}, "given").check(BASE)


def test_an_unknown_fusion_choice_fails_before_any_trial():
    with pytest.raises(ConfigError, match="'fusion' = 'concatt'.*unknown fusion"):
        SearchSpace.from_data({"fusion": ["concat", "concatt"]}, "given").check(BASE)


@pytest.mark.parametrize("name", packaged_spaces())
def test_every_packaged_space_is_valid_for_the_default_config(name):
    SearchSpace.load(name).check(BASE)


def test_packaged_spaces_include_default():
    assert "default" in packaged_spaces()


def test_an_unknown_space_name_lists_the_packaged_ones():
    with pytest.raises(ConfigError, match="default"):
        SearchSpace.load("no_such_space")


def test_a_yaml_file_is_a_space(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("hidden_dim: [16, 32]\nencoders.text.max_length: {low: 32, high: 128}\n", encoding="utf-8")
    space = SearchSpace.load(str(path))
    assert [(d.key, d.kind) for d in space.dimensions] == [("hidden_dim", "categorical"),
                                                         ("encoders.text.max_length", "int")]


def test_values_reach_into_sections_without_touching_the_base():
    base = {"encoders": {"text": "hf_text"}, "transfer": {}}
    values = with_values(base, {"encoders.text.max_length": 64, "transfer.r": 4})
    assert values == {"encoders": {"text": {"name": "hf_text", "max_length": 64}}, "transfer": {"r": 4}}
    assert base == {"encoders": {"text": "hf_text"}, "transfer": {}}


@pytest.mark.parametrize("values, message", [
    ({"n_trials": 0}, "n_trials"),
    ({"n_trials": None}, "n_trials or timeout"),
    ({"pruner": "hyperband"}, "median, successive_halving, none"),
    ({"n_jobs": 2}, "storage"),
    ({"trials": 3}, r"unknown tune setting\(s\) 'tune\.trials' \(did you mean 'tune\.n_trials'\?\)"),
    ({"n_trials": "3"}, "tune.n_trials must be"),
])
def test_tune_settings_are_checked(values, message):
    with pytest.raises(ConfigError, match=message):
        TuneSettings.from_dict(values)


def test_a_dimension_contains_its_choices_and_the_values_within_its_bounds():
    space = SearchSpace.from_data({"learning_rate": {"low": 1.0e-4, "high": 1.0e-2, "log": True},
                                   "max_epochs": {"low": 2, "high": 8, "step": 2}, "hidden_dim": [64, 128],
                                   "fusion": "gated"}, "given")
    lr, epochs, hidden, fixed = space.dimensions
    assert lr.contains(1e-3) and lr.contains(1e-4) and not lr.contains(0.0) and not lr.contains(0.1)
    assert epochs.contains(4) and not epochs.contains(5) and not epochs.contains(10) and not epochs.contains(4.5)
    assert hidden.contains(64) and not hidden.contains(256) and not hidden.contains(True) and not hidden.contains("64")
    assert not fixed.contains("gated")  # a fixed key has nothing to suggest


def test_base_values_are_the_base_configs_values_the_space_holds():
    space = SearchSpace.from_data({"learning_rate": {"low": 1.0e-4, "high": 1.0e-2, "log": True},
                                   "weight_decay": {"low": 1.0e-4, "high": 1.0e-1, "log": True},
                                   "hidden_dim": [64, 256], "transfer.r": [4, 8], "fusion": "gated"}, "given")
    base = {**BASE, "learning_rate": 3e-3, "weight_decay": 0.0, "hidden_dim": 256, "transfer": {"r": 8}}
    # weight_decay 0 is outside the log range (sampled), the fixed fusion is not a trial's choice
    assert space.base_values(base) == {"learning_rate": 3e-3, "hidden_dim": 256, "transfer.r": 8}
    assert "transfer.r" not in space.base_values(BASE)  # the base gives no transfer.r


@pytest.mark.parametrize("values, message", [
    ({"final_fit": "everything"}, r"tune\.final_fit='everything' is not a valid choice; valid: fold_models, all_rows, holdout"),
    ({"base_trial": "yes"}, r"tune\.base_trial must be"),
])
def test_final_fit_and_base_trial_are_checked(values, message):
    with pytest.raises(ConfigError, match=message):
        TuneSettings.from_dict(values)


def test_final_fit_defaults_to_the_entry_points_and_the_base_trial_is_on():
    settings = TuneSettings.from_dict({})
    assert settings.final_fit is None and settings.base_trial is True  # MultimodalPredictor.fit: all_rows
