"""The wording errors share: rows as the user counts them, hints in the caller's language, and
"did you mean" for a misspelt name."""

from __future__ import annotations

import pytest

from transmodal.config import FitConfig
from transmodal.errors import (BadRow, ConfigError, DataError, cli_caller, did_you_mean, row_label, row_number,
                               setting_hint)
from transmodal.registry import Registry


def test_rows_are_numbered_as_the_user_sees_them():
    assert row_label("t.csv", 0) == "row 2"  # the header is row 1 of a spreadsheet
    assert row_label("t.tsv.gz", 5) == "row 7" and row_label("t.parquet", 5) == "row 7"
    assert row_label("t.jsonl", 0) == "line 1"  # JSON lines have no header
    assert row_label("<DataFrame>", 3) == "iloc 3"  # df.iloc[3]
    assert row_number("t.csv", 9) == 11


def test_a_data_error_names_rows_and_says_how_they_are_counted():
    text = str(DataError("t.csv: 1 row(s) cannot be used", [BadRow("t.csv", 4, "size", "'x' is not a number")]))
    assert "t.csv, row 6, column 'size'" in text and "the header being row 1" in text
    column = str(BadRow("t.csv", -1, "size", "the column is missing"))
    assert "row -1" not in column and "header" in column


def test_hints_are_in_the_callers_language():
    assert setting_hint("on_bad_rows", "skip") == "hyperparameters={'on_bad_rows': 'skip'}"
    assert setting_hint("transfer.strategy", "lora") == "hyperparameters={'transfer': {'strategy': 'lora'}}"
    with cli_caller():
        assert setting_hint("on_bad_rows", "skip") == "--set on_bad_rows=skip"
        assert setting_hint("class_weight", None) == "--set class_weight=null"
        with pytest.raises(ConfigError) as err:
            FitConfig.from_dict({"class_weight": "balancd"})
        assert str(err.value).startswith("class_weight=balancd is not a valid choice (did you mean 'balanced'?)")
        assert "None" not in str(err.value) and "null" in str(err.value)
    assert setting_hint("on_bad_rows", "skip").startswith("hyperparameters=")  # reset after the CLI


def test_did_you_mean_finds_the_closest_or_nothing():
    assert did_you_mean("fusoin", ["fusion", "dropout"]) == " (did you mean 'fusion'?)"
    assert did_you_mean("Label", ["label", "image"]) == " (did you mean 'label'?)"
    assert did_you_mean("zzz", ["fusion", "dropout"]) == ""


def test_misspelt_hyperparameters_get_the_closest_key():
    with pytest.raises(ConfigError, match=r"unknown hyperparameter\(s\) 'fusoin' \(did you mean 'fusion'\?\)"):
        FitConfig.from_dict({"fusoin": "late"})
    with cli_caller(), pytest.raises(ConfigError, match=r"unknown --set/--config key\(s\) 'max_epoch' "
                                                        r"\(did you mean 'max_epochs'\?\)"):
        FitConfig.from_dict({"max_epoch": 3})


def test_a_registry_suggests_and_hides_internal_entries():
    registry = Registry("image encoder")
    registry.register("cnn")(object)
    registry.register("efficientnet_lite0")(object)
    registry.register("transfer_query", internal=True)(object)
    assert registry.public_names() == ["cnn", "efficientnet_lite0"]
    assert "transfer_query" in registry.names() and registry.get("transfer_query") is object
    with pytest.raises(ConfigError) as err:  # a KeyError too, for lookups
        registry.get("cnnn")
    assert isinstance(err.value, KeyError)
    assert str(err.value) == "unknown image encoder 'cnnn' (did you mean 'cnn'?); known: cnn, efficientnet_lite0"


def test_the_transfer_query_encoder_is_hidden_from_users():
    from transmodal.encoders.base import encoder_registry

    for modality in ("text", "image", "audio"):
        registry = encoder_registry(modality)
        assert "transfer_query" in registry.names() and "transfer_query" not in registry.public_names()
        assert "transfer_query" not in registry.unknown_message("nope")
