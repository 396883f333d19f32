"""Hostile table contents (issue 21, items 6 and 7): non-finite and overflowing numbers are bad cells
in features and labels; only empty cells are missing unless the user says otherwise."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tabletools import TINY_HYPERPARAMETERS
from transmodal.cli import main
from transmodal.data.readers import read_table
from transmodal.errors import DataError
from transmodal.predictor import MultimodalPredictor

HP = {**TINY_HYPERPARAMETERS, "max_epochs": 1}
HOSTILE_NUMBERS = [np.inf, -np.inf, 1e308, -1e308, 1e39]


def _numbers(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    return pd.DataFrame({"x": y + rng.normal(0, 0.3, n), "z": rng.normal(0, 1, n),
                         "color": np.where(y, "red", "blue"), "label": np.where(y, "yes", "no"),
                         "amount": 3 * y + rng.normal(0, 0.1, n)})


@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
def test_a_hostile_feature_value_is_a_bad_cell(value):
    table = _numbers()
    table.loc[[3, 7], "x"] = value
    with pytest.raises(DataError) as info:
        MultimodalPredictor(label="label").fit(table.drop(columns="amount"), hyperparameters=HP)
    cells = {(b.row, b.column) for b in info.value.bad_rows}
    assert cells == {(3, "x"), (7, "x")}
    assert all("float32" in b.reason or "infinite" in b.reason for b in info.value.bad_rows)


@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
def test_a_hostile_regression_label_is_a_bad_cell(value):
    table = _numbers()
    table.loc[5, "amount"] = value
    with pytest.raises(DataError) as info:
        MultimodalPredictor(label="amount").fit(table.drop(columns="label"), hyperparameters=HP)
    assert [(b.row, b.column) for b in info.value.bad_rows] == [(5, "amount")]


def test_numbers_in_text_form_are_checked_too(tmp_path):
    (tmp_path / "t.csv").write_text("x,label\n1,a\ninf,b\n1e308,a\n-Infinity,b\n2,a\n3,b\n")
    with pytest.raises(DataError) as info:
        MultimodalPredictor(label="label").fit(str(tmp_path / "t.csv"), hyperparameters=HP)
    assert sorted(b.row for b in info.value.bad_rows) == [1, 2, 3]


@pytest.mark.slow
def test_skip_drops_the_rows_and_keeps_the_column():
    """With on_bad_rows="skip" the rows go, and the column still carries the signal (never zeroed)."""
    table = _numbers(60)
    table.loc[[2, 9], "x"] = 1e308
    table.loc[4, "amount"] = np.inf
    predictor = MultimodalPredictor(label="amount").fit(
        table.drop(columns="label"), hyperparameters={**HP, "on_bad_rows": "skip", "max_epochs": 2})
    assert sorted({b.row for b in predictor.bad_rows_}) == [2, 4, 9]
    stats = predictor.encoder_settings_["tabular"]["numeric_stats"]["x"]
    assert np.isfinite(stats["mean"]) and 0.1 < stats["std"] < 10
    task = predictor.tasks_[0]
    assert np.isfinite(task.target_mean) and 0.1 < task.target_std < 10


def test_a_hostile_value_at_prediction_is_a_bad_cell(fitted, table_dir):
    table = pd.read_csv(table_dir / "table.csv")
    table.loc[1, "size"] = 1e308
    table.loc[2, "size"] = -np.inf
    with pytest.raises(DataError) as info:
        fitted.predict(read_table(table, base_dir=table_dir))
    assert {(b.row, b.column) for b in info.value.bad_rows} == {(1, "size"), (2, "size")}


# ---- missing values -----------------------------------------------------------------------------
NA_CSV = "region,n,label\nNA,1,NA\nEU,2,EU\n,3,None\nNone,,NA\nnull,5,EU\n"


def test_only_empty_cells_are_missing_in_csv(tmp_path):
    (tmp_path / "t.csv").write_text(NA_CSV)
    frame = read_table(tmp_path / "t.csv").frame
    assert frame["region"].tolist()[:2] == ["NA", "EU"] and pd.isna(frame["region"][2])
    assert frame["region"].tolist()[3:] == ["None", "null"]
    assert frame["label"].tolist() == ["NA", "EU", "None", "NA", "EU"]
    assert pd.api.types.is_numeric_dtype(frame["n"]) and pd.isna(frame["n"][3])


def test_na_values_are_the_users_choice(tmp_path):
    (tmp_path / "t.csv").write_text(NA_CSV)
    frame = read_table(tmp_path / "t.csv", na_values=["None", "null"]).frame
    assert frame["region"].isna().tolist() == [False, False, True, True, True]
    assert frame["label"].tolist()[:2] == ["NA", "EU"]


def test_json_lines_and_parquet_keep_their_own_nulls(tmp_path):
    rows = [{"region": "NA", "n": 1.0}, {"region": None, "n": None}, {"region": "None", "n": 3.0}]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    pd.DataFrame(rows).to_parquet(tmp_path / "t.parquet")
    for name in ("t.jsonl", "t.parquet"):
        frame = read_table(tmp_path / name).frame
        assert frame["region"][0] == "NA" and pd.isna(frame["region"][1]) and frame["region"][2] == "None"
        assert pd.isna(frame["n"][1])
        frame = read_table(tmp_path / name, na_values=["None"]).frame
        assert frame["region"].isna().tolist() == [False, True, True]


@pytest.mark.slow
def test_the_category_na_survives_a_round_trip(tmp_path):
    """"NA" (North America) stays a category and a class through fit, save, load and predict."""
    rng = np.random.default_rng(0)
    regions = np.array(["NA", "EU", "None"])[np.arange(48) % 3]
    table = pd.DataFrame({"region": regions, "x": rng.normal(0, 1, 48), "label": regions})
    table.to_csv(tmp_path / "t.csv", index=False)
    predictor = MultimodalPredictor(label="label").fit(
        str(tmp_path / "t.csv"), hyperparameters={**HP, "max_epochs": 8, "learning_rate": 1e-2})
    assert predictor.tasks_[0].classes == ["EU", "NA", "None"]
    assert predictor.column_types_ == {"region": "categorical", "x": "numeric"}
    assert predictor.encoder_settings_["tabular"]["categories"]["region"] == ["EU", "NA", "None"]
    loaded = MultimodalPredictor.load(predictor.save(tmp_path / "model"))
    predictions = loaded.predict(str(tmp_path / "t.csv"))
    assert (predictions == table["label"]).mean() == 1.0
    assert loaded.evaluate(str(tmp_path / "t.csv"))["accuracy"] == 1.0


@pytest.mark.slow
def test_cli_na_value_marks_cells_missing(fitted, table_dir, tmp_path, capsys):
    model = fitted.save(tmp_path / "model")
    table = pd.read_csv(table_dir / "table.csv")
    table["size"] = table["size"].astype(object)
    table.loc[[0, 4], "size"] = "?"
    table.to_csv(table_dir / "unknown_sizes.csv", index=False)
    out = tmp_path / "p.csv"
    with pytest.raises(SystemExit):
        main(["predict", str(model), str(table_dir / "unknown_sizes.csv"), "--out", str(out)])
    assert "row 6, column 'size'" in capsys.readouterr().err  # data row 4: spreadsheet row 6
    main(["predict", str(model), str(table_dir / "unknown_sizes.csv"), "--out", str(out), "--na-value", "?"])
    assert len(pd.read_csv(out)) == 60
    main(["evaluate", str(model), str(table_dir / "unknown_sizes.csv"), "--na-value", "?", "--json"])


def test_na_text_in_a_numeric_column_is_reported_never_a_silent_category(tmp_path):
    """An R-style numeric column with "NA" cells stays numeric: the cells are bad cells naming na_values."""
    rows = [f"{'NA' if i % 3 == 0 else i / 7},{'a' if i % 2 else 'b'}" for i in range(30)]
    (tmp_path / "t.csv").write_text("x,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as info:
        MultimodalPredictor(label="label").fit(str(tmp_path / "t.csv"), hyperparameters=HP)
    assert {b.row for b in info.value.bad_rows} == set(range(0, 30, 3))
    assert all(b.column == "x" and "na_values=['NA']" in b.reason for b in info.value.bad_rows)
    from transmodal.data.schema import infer_column_types

    frame = read_table(tmp_path / "t.csv", na_values=["NA"]).frame
    assert infer_column_types(frame, ["label"]) == {"x": "numeric"}
