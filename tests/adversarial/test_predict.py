"""Hostile inputs at prediction time (issue 21, items 3 and 10): predictions keep the input's index,
the CLI keeps row order and passes id columns through, header-only tables, integer column names,
``evaluate --json`` with NaN metrics, formulas in predictions.csv."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tabletools import TINY_HYPERPARAMETERS, write_table
from transmodal.cli import main
from transmodal.errors import DataError
from transmodal.predictor import MultimodalPredictor


def _absolute(table_dir: Path) -> pd.DataFrame:
    """The shared table as a DataFrame usable from any directory."""
    frame = pd.read_csv(table_dir / "table.csv")
    for column in ("image", "audio"):
        frame[column] = [str(table_dir / path) for path in frame[column]]
    return frame


@pytest.fixture(scope="module")
def model_dir(fitted, tmp_path_factory) -> Path:
    return fitted.save(tmp_path_factory.mktemp("saved") / "model")


def test_predict_of_a_sample_aligns_with_its_rows(fitted, table_dir):
    """``test = df.sample(frac=.5); test["pred"] = p.predict(test)`` equals row-by-row predictions."""
    test = _absolute(table_dir).sample(frac=0.5, random_state=1)
    test["pred"] = fitted.predict(test)
    one_by_one = [fitted.predict(test.iloc[[i]]).iloc[0] for i in range(len(test))]
    assert test["pred"].tolist() == one_by_one
    assert fitted.predict(test).index.equals(test.index)


def test_predict_proba_keeps_the_index(fitted, table_dir):
    test = _absolute(table_dir).sample(frac=0.5, random_state=2)
    test.index = [f"id{i}" for i in test.index]
    proba = fitted.predict_proba(test)
    assert proba.index.equals(test.index)
    assert list(proba.columns) == fitted.tasks_[0].classes
    joined = test.join(proba)  # aligned by index: no row without probabilities
    assert not joined[proba.columns].isna().any().any()


def test_a_path_gives_a_fresh_range_index(fitted, table_dir):
    predictions = fitted.predict(str(table_dir / "table.csv"))
    assert predictions.index.equals(pd.RangeIndex(60))
    assert fitted.predict_proba(str(table_dir / "table.csv")).index.equals(pd.RangeIndex(60))


@pytest.mark.slow
def test_multitask_outputs_keep_the_index(tmp_path):
    frame = write_table(tmp_path, n=30, absolute=True)
    predictor = MultimodalPredictor(label=["label", "size"]).fit(
        frame, hyperparameters={**TINY_HYPERPARAMETERS, "max_epochs": 1})
    test = frame.sample(frac=0.5, random_state=0)
    predictions = predictor.predict(test)
    assert predictions.index.equals(test.index)
    assert predictor.predict_proba(test)["label"].index.equals(test.index)
    test[["pred_label", "pred_size"]] = predictions[["label", "size"]]
    one_by_one = pd.concat([predictor.predict(test.iloc[[i]]) for i in range(len(test))])
    assert test["pred_label"].tolist() == one_by_one["label"].tolist()
    assert test["pred_size"].tolist() == pytest.approx(one_by_one["size"].tolist(), rel=1e-5)


def test_cli_predict_keeps_row_order_and_passes_id_columns_through(fitted, model_dir, table_dir, tmp_path):
    out = tmp_path / "predictions.csv"
    main(["predict", str(model_dir), str(table_dir / "table.csv"), "--out", str(out),
          "--id", "review", "--id", "color", "--proba"])
    written = pd.read_csv(out, keep_default_na=False)
    table = pd.read_csv(table_dir / "table.csv", keep_default_na=False)
    assert list(written.columns[:3]) == ["review", "color", "label"]
    assert written["review"].tolist() == table["review"].tolist()
    assert written["label"].tolist() == fitted.predict(str(table_dir / "table.csv")).tolist()


def test_cli_predict_refuses_an_unknown_id_column(model_dir, table_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", str(model_dir), str(table_dir / "table.csv"), "--out", str(tmp_path / "p.csv"),
              "--id", "nope"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "nope" in err and "Traceback" not in err


def test_header_only_tables_fail_clearly(fitted, model_dir, table_dir, tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("image,audio,review,size,color,label\n")
    for call in (fitted.predict, fitted.predict_proba, fitted.embed, fitted.evaluate):
        with pytest.raises(DataError, match="no rows"):
            call(str(empty))
    with pytest.raises(DataError, match="no rows"):
        fitted.predict(pd.read_csv(empty))
    for command in (["predict", str(model_dir), str(empty), "--out", str(tmp_path / "p.csv")],
                    ["evaluate", str(model_dir), str(empty)]):
        with pytest.raises(SystemExit) as exit_info:
            main(command)
        assert exit_info.value.code == 1
        assert "no rows" in capsys.readouterr().err


def test_evaluate_json_is_valid_json(model_dir, table_dir, tmp_path, capsys):
    """A one-class table makes roc_auc undefined (NaN): --json prints null, not NaN."""
    table = pd.read_csv(table_dir / "table.csv")
    table[table["label"] == "cat"].to_csv(table_dir / "cats.csv", index=False)
    capsys.readouterr()
    main(["evaluate", str(model_dir), str(table_dir / "cats.csv"), "--json"])

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    metrics = json.loads(capsys.readouterr().out, parse_constant=refuse)
    assert metrics["accuracy"] is not None
    assert None in metrics.values()


@pytest.mark.slow
def test_formula_labels_are_escaped_in_predictions_csv(tmp_path):
    frame = write_table(tmp_path, n=30)
    frame["label"] = frame["label"].map({"cat": "=1+1", "dog": "@SUM(A1)", "eel": "-2+3"})
    frame["size"] = -frame["size"].abs()  # negative numbers pass through unchanged
    frame.to_csv(tmp_path / "table.csv", index=False)
    MultimodalPredictor(label="label").fit(str(tmp_path / "table.csv"), hyperparameters={
        **TINY_HYPERPARAMETERS, "max_epochs": 1}).save(tmp_path / "model")
    out = tmp_path / "predictions.csv"
    main(["predict", str(tmp_path / "model"), str(tmp_path / "table.csv"), "--out", str(out), "--proba",
          "--id", "size"])
    text = out.read_text()
    rows = pd.read_csv(out, keep_default_na=False)
    assert set(rows["label"]) <= {"'=1+1", "'@SUM(A1)", "'-2+3"}
    assert (rows["size"] < 0).all()  # numbers stay numbers
    assert "\n=" not in text and ",=" not in text and ",@" not in text


@pytest.mark.slow
def test_integer_column_names_survive_save_and_reload(tmp_path):
    frame = write_table(tmp_path, n=30, absolute=True)
    frame = frame.rename(columns={"size": 0, "color": 1, "review": 2})
    predictor = MultimodalPredictor(label="label").fit(
        frame, column_types={0: "numeric"}, hyperparameters={**TINY_HYPERPARAMETERS, "max_epochs": 1})
    expected = predictor.predict(frame)
    loaded = MultimodalPredictor.load(predictor.save(tmp_path / "model"))
    assert loaded.predict(frame).tolist() == expected.tolist()
    assert loaded.evaluate(frame)["accuracy"] == pytest.approx(predictor.evaluate(frame)["accuracy"])
