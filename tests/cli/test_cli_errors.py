"""The CLI reports bad input as one clear message naming file, row and column, exit code 1."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from tabletools import write_table
from transmodal.cli import main


def run_cli(args, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code, capsys.readouterr().err


@pytest.fixture()
def table(tmp_path):
    write_table(tmp_path, n=30)
    return tmp_path


def _fit_args(path, out):
    return ["fit", str(path), "--label", "label", "--out", str(out), "--set", "max_epochs=1",
            "--set", "progress_bar=false"]


def _assert_clear(code, err, table_name, row, column, words):
    """``row`` is the 0-based data row (``frame.loc[row]``); the message names the spreadsheet row."""
    assert code == 1
    assert "Traceback" not in err
    assert err.count("error: ") == 1
    assert table_name in err and f"row {row + 2}," in err and f"column {column!r}" in err
    for word in words:
        assert word in err


def test_missing_image_file(table, capsys):
    frame = pd.read_csv(table / "table.csv")
    frame.loc[3, "image"] = "img/nowhere.png"
    frame.to_csv(table / "bad.csv", index=False)
    code, err = run_cli(_fit_args(table / "bad.csv", table / "m"), capsys)
    _assert_clear(code, err, "bad.csv", 3, "image", ["does not exist", "nowhere.png"])


def test_corrupt_wav(table, capsys):
    (table / "wav" / "7.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    code, err = run_cli(_fit_args(table / "table.csv", table / "m"), capsys)
    _assert_clear(code, err, "table.csv", 7, "audio", ["cannot decode audio"])


def test_text_in_numeric_column(table, capsys):
    frame = pd.read_csv(table / "table.csv")
    frame["size"] = frame["size"].astype(object)
    frame.loc[11, "size"] = "twelve"
    frame.to_csv(table / "bad.csv", index=False)
    code, err = run_cli(_fit_args(table / "bad.csv", table / "m") + ["--column-type", "size=numeric"], capsys)
    _assert_clear(code, err, "bad.csv", 11, "size", ["'twelve' is not a number"])


@pytest.mark.slow
def test_unseen_label_at_evaluation(table, capsys, tmp_path):
    assert main(_fit_args(table / "table.csv", tmp_path / "model")) is None
    frame = pd.read_csv(table / "table.csv")
    frame.loc[2, "label"] = "yak"
    frame.to_csv(table / "eval.csv", index=False)
    code, err = run_cli(["evaluate", str(tmp_path / "model"), str(table / "eval.csv")], capsys)
    _assert_clear(code, err, "eval.csv", 2, "label", ["'yak' was not seen in training"])


def test_missing_table_and_model_folder(tmp_path, capsys):
    code, err = run_cli(["fit", str(tmp_path / "none.csv"), "--label", "y", "--out", str(tmp_path / "m")], capsys)
    assert code == 1 and "does not exist" in err and "Traceback" not in err
    code, err = run_cli(["info", str(tmp_path / "no-model")], capsys)
    assert code == 1 and "does not exist" in err


@pytest.mark.slow
def test_real_process_has_no_traceback(table):
    frame = pd.read_csv(table / "table.csv")
    frame.loc[0, "image"] = "img/missing.png"
    frame.to_csv(table / "bad.csv", index=False)
    result = subprocess.run([sys.executable, "-m", "transmodal", "fit", str(table / "bad.csv"), "--label", "label",
                             "--out", str(table / "m")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "row 2, column 'image'" in result.stderr  # the first data row


def test_every_command_has_help(capsys):
    from transmodal.cli.app import _load_commands, app

    _load_commands()
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert {"fit", "predict", "evaluate", "info", "demo"} <= set(names)
    for name in names:
        try:
            main([name, "--help"])
        except SystemExit as exit_info:
            assert exit_info.code in (0, None)
        assert "Usage" in capsys.readouterr().out
