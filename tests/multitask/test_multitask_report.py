"""delta_m and the comparison table."""

from __future__ import annotations

import pytest

from transmodal.multitask.report import comparison_table, delta_m


def test_delta_m_is_the_mean_sign_adjusted_relative_change():
    single = {"a": {"accuracy": 0.50}, "b": {"rmse": 2.0}}
    multi = {"a": {"accuracy": 0.55}, "b": {"rmse": 2.2}}
    # a: +10%; b: rmse is lower-is-better, +10% rmse -> -10%
    assert delta_m(multi, single, {"a": "accuracy", "b": "rmse"}) == pytest.approx(0.0)
    multi["b"]["rmse"] = 1.8
    assert delta_m(multi, single, {"a": "accuracy", "b": "rmse"}) == pytest.approx(10.0)


def test_comparison_table_rows():
    table = comparison_table({"a": {"accuracy": 0.6}}, {"a": {"accuracy": 0.5}}, {"a": ["accuracy"]})
    assert table.loc[0, "change_%"] == pytest.approx(20.0)
