"""What a new user sees when the input is wrong (issue 20, acceptance a).

- Row numbers are the rows a spreadsheet shows (the header is row 1; a quoted cell spanning lines
  is one row), for bad cells, missing labels, missing files and ragged CSV rows alike.
- A column missing at prediction is named (no "row -1", no "0 row(s)").
- CLI messages speak CLI (``--set on_bad_rows=skip``), never Python syntax.
- A misspelt key, column or name gets the closest valid one.
- Table, columns, labels, files and ``--set`` keys are checked before torch is imported.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from tabletools import write_small, write_table
from transmodal.cli import main

MULTILINE = "a review\nthat spans two lines"  # one spreadsheet row, two lines of the file
PYTHON_SYNTAX = re.compile(r"hyperparameters|column_types|na_values|tuning_data|allowed_root|time_limit|"
                           r"\b(None|True|False)\b|\w=\{|\w=\[|\{'|\b[a-z_]+\((?!s\)|es\))")


def run_cli(args, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code, capsys.readouterr().err


def spreadsheet(path) -> list[list[str]]:
    """The rows of a CSV file as a spreadsheet shows them: ``rows[N - 1]`` is row N (the header is row 1)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def named_cells(err: str) -> list[tuple[int, str]]:
    return [(int(row), column) for row, column in re.findall(r"row (\d+), column '([^']+)'", err)]


@pytest.fixture()
def table(tmp_path):
    write_table(tmp_path, n=30)
    frame = pd.read_csv(tmp_path / "table.csv")
    frame.loc[1, "review"] = MULTILINE
    return tmp_path, frame


def fit_args(path, out, *extra):
    return ["fit", str(path), "--label", "label", "--out", str(out), "--set", "max_epochs=1",
            "--set", "progress_bar=false", *extra]


def test_missing_file_and_missing_label_name_spreadsheet_rows(table, capsys):
    folder, frame = table
    frame.loc[3, "image"] = "img/nowhere.png"
    frame.loc[7, "label"] = None
    frame.to_csv(folder / "bad.csv", index=False)
    code, err = run_cli(fit_args(folder / "bad.csv", folder / "m"), capsys)
    assert code == 1 and "Traceback" not in err
    sheet = spreadsheet(folder / "bad.csv")
    header = sheet[0]
    cells = named_cells(err)
    assert sorted(c for _, c in cells) == ["image", "label"]
    for row, column in cells:  # the cell the message names is the bad one in the spreadsheet
        assert sheet[row - 1][header.index(column)] == ("img/nowhere.png" if column == "image" else "")
    assert "the header being row 1" in err


def test_ragged_row_names_the_spreadsheet_row(tmp_path, capsys):
    lines = 'text,size,label\n"two\nlines",1,a\nfine,2,b\nragged,3,b,extra\nlast,4,a\n'
    (tmp_path / "ragged.csv").write_text(lines, encoding="utf-8")
    code, err = run_cli(fit_args(tmp_path / "ragged.csv", tmp_path / "m"), capsys)
    row = int(re.search(r"ragged.csv, row (\d+):", err).group(1))
    sheet = spreadsheet(tmp_path / "ragged.csv")
    assert code == 1 and sheet[row - 1] == ["ragged", "3", "b", "extra"]
    assert "header (row 1) has 3" in err


@pytest.mark.slow
def test_missing_column_at_predict_is_named(fitted, table_dir, tmp_path, capsys):
    model = fitted.save(tmp_path / "model")
    frame = pd.read_csv(table_dir / "table.csv").drop(columns=["review"]).rename(columns={"size": "Size"})
    frame.to_csv(tmp_path / "new.csv", index=False)
    code, err = run_cli(["predict", str(model), str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.csv")], capsys)
    assert code == 1 and "Traceback" not in err
    assert "'review'" in err and "'size' (did you mean 'Size'?)" in err and "header (row 1)" in err
    assert "row -1" not in err and "0 row(s)" not in err
    assert not PYTHON_SYNTAX.search(err.replace("error: ", ""))


def _error_cases(folder):
    """(arguments, what the message must say) for CLI errors a new user meets."""
    small = write_small(folder)
    frame = pd.read_csv(small)
    frame.loc[2, "image"] = "img/nowhere.png"
    frame.to_csv(folder / "missing.csv", index=False)
    frame = pd.read_csv(small).astype({"size": object})
    frame.loc[4, "size"] = "NA"
    frame.to_csv(folder / "na.csv", index=False)
    frame.loc[4, "size"] = "twelve"
    frame.to_csv(folder / "word.csv", index=False)
    pd.read_csv(small).head(3).to_csv(folder / "three.csv", index=False)
    out = str(folder / "m")
    return [
        (fit_args(folder / "missing.csv", out), ["--set on_bad_rows=skip", "row 4, column 'image'"]),
        (fit_args(folder / "na.csv", out, "--column-type", "size=numeric"), ["--na-value NA"]),
        (fit_args(folder / "word.csv", out, "--column-type", "size=numeric"), ["--column-type COLUMN=text"]),
        (fit_args(folder / "three.csv", out), ["--tuning TABLE"]),
        (fit_args(small, out, "--set", "fusoin=late"), ["'fusoin' (did you mean 'fusion'?)"]),
        (fit_args(small, out, "--set", "transfer.stratgy=lora"),
         ["'transfer.stratgy' (did you mean 'transfer.strategy'?)"]),
        (fit_args(small, out, "--set", "multitask.weightin=dwa"),
         ["'multitask.weightin' (did you mean 'multitask.weighting'?)"]),
        (fit_args(small, out, "--set", "class_weight=balanced_"), ["(did you mean 'balanced'?)", "null"]),
        (fit_args(small, out, "--column-type", "imgae=image"), ["'imgae', which is not in the table "
                                                               "(did you mean 'image'?)"]),
        (fit_args(small, out, "--column-type", "image=imgae"), ["(did you mean 'image'?)"]),
        (fit_args(small, out, "--time-limit", "0"), ["--time-limit 0"]),
        (["fit", small, "--label", "Label", "--out", out], ["'Label' (did you mean 'label'?)", "--label"]),
    ]


def test_cli_errors_speak_cli_and_suggest_the_closest_name(tmp_path, capsys):
    for args, expected in _error_cases(tmp_path):
        code, err = run_cli(args, capsys)
        err = err[err.index("error: "):]  # after the fit's status lines
        assert code == 1 and err.count("error: ") == 1 and "Traceback" not in err, (args, err)
        for text in expected:
            assert text in err, (args, text, err)
        assert not PYTHON_SYNTAX.search(err), (args, err)


def test_python_callers_get_python_spelling(tmp_path):
    from transmodal.errors import DataError
    from transmodal.predictor import MultimodalPredictor

    write_small(tmp_path)
    frame = pd.read_csv(tmp_path / "small.csv")
    frame.loc[2, "image"] = "img/nowhere.png"
    with pytest.raises(DataError) as err:
        MultimodalPredictor(label="label").fit(frame, hyperparameters={"max_epochs": 1})
    text = str(err.value)
    assert "hyperparameters={'on_bad_rows': 'skip'}" in text and "<DataFrame>, iloc 2, column 'image'" in text


def test_misspelt_encoder_name_gets_the_closest_and_hides_internal_ones(tmp_path, capsys):
    small = write_small(tmp_path)
    code, err = run_cli(fit_args(small, tmp_path / "m", "--set", "encoders.image=cnnn"), capsys)
    assert code == 1 and "(did you mean 'cnn'?)" in err and "transfer_query" not in err


def test_bad_input_is_reported_before_torch_is_imported(tmp_path):
    """Wrong label, a column missing from the tuning table, a missing file: each fails with torch,
    Lightning and transformers never imported (the benchmark times this path)."""
    small = write_small(tmp_path)
    frame = pd.read_csv(small)
    frame.drop(columns=["size"]).to_csv(tmp_path / "tune.csv", index=False)
    frame.loc[5, "image"] = "img/nowhere.png"
    frame.to_csv(tmp_path / "missing.csv", index=False)
    out = str(tmp_path / "m")
    calls = [["fit", small, "--label", "labl", "--out", out],
             ["fit", small, "--label", "label", "--tuning", str(tmp_path / "tune.csv"), "--out", out],
             ["fit", str(tmp_path / "missing.csv"), "--label", "label", "--out", out],
             ["fit", small, "--label", "label", "--set", "max_epoch=1", "--out", out]]
    script = ("import json, sys\nfrom transmodal.cli import main\ncodes = []\n"
              f"for args in {calls!r}:\n    try:\n        main(args)\n    except SystemExit as e:\n"
              "        codes.append(e.code)\n"
              "print(json.dumps([codes, [m for m in ('torch', 'lightning', 'transformers') if m in sys.modules]]))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    codes, heavy = json.loads(run.stdout.strip().splitlines()[-1])
    assert codes == [1, 1, 1, 1] and heavy == [], run.stderr
    assert "'labl' (did you mean 'label'?)" in run.stderr
    assert "tune.csv: column(s) 'size' missing from the header (row 1)" in run.stderr
    assert "missing.csv, row 7, column 'image'" in run.stderr and "max_epochs" in run.stderr


def test_misspelt_encoders_key_is_refused_before_it_is_ignored(tmp_path, capsys):
    small = write_small(tmp_path)
    code, err = run_cli(fit_args(small, tmp_path / "m", "--set", "encoders.imgae=cnn"), capsys)
    assert code == 1 and "'imgae' (did you mean 'image'?)" in err and "--set encoders" in err
