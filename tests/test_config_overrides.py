"""``--set key=value`` overrides: values parse as YAML, with numbers in exponent form as numbers."""

from __future__ import annotations

import pytest

from transmodal.config import FitConfig, apply_overrides, parse_override


@pytest.mark.parametrize("text, value", [("learning_rate=3e-4", 3e-4), ("learning_rate=1E-3", 1e-3),
                                         ("learning_rate=2.5e-5", 2.5e-5), ("max_epochs=3", 3),
                                         ("fusion=late", "late"), ("transfer.inputs=[a, b]", ["a", "b"])])
def test_an_override_value_parses_to_the_type_a_user_means(text, value):
    assert parse_override(text)[1] == value


def test_an_exponent_learning_rate_makes_a_valid_config():
    config = FitConfig.from_dict(apply_overrides({}, ["learning_rate=3e-4", "encoder_learning_rate=1e-5"]))
    assert config.learning_rate == pytest.approx(3e-4) and config.encoder_learning_rate == pytest.approx(1e-5)
