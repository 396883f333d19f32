"""The generic registry: decorator registration, lookup errors, duplicates raise."""

from __future__ import annotations

import pytest

from transmodal.registry import Registry


def test_register_get_and_names():
    registry = Registry("thing")

    @registry.register("b")
    class B: ...

    @registry.register("a")
    def a(): ...

    assert registry.get("b") is B and registry.names() == ["a", "b"] and "a" in registry


def test_duplicate_name_raises():
    registry = Registry("thing")
    registry.register("x")(object)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("x")(int)


def test_unknown_name_lists_known():
    registry = Registry("fusion")
    registry.register("concat")(object)
    with pytest.raises(KeyError, match="known: concat"):
        registry.get("nope")


def test_packages_are_imported_on_first_lookup():
    from transmodal.fusion.base import FUSIONS

    assert {"concat", "late"} <= set(FUSIONS.names())
