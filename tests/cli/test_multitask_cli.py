"""``transmodal fit`` with repeated --label and per-label --problem-type, then evaluate and predict."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import write_table
from transmodal.cli.app import _load_commands, app

HP = ["--set", "max_epochs=2", "--set", "batch_size=16", "--set", "hidden_dim=16", "--set", "progress_bar=false",
      "--set", "encoders.text={name: builtin_text, output_dim: 16}",
      "--set", "multitask={architecture: mmoe, weighting: dwa}"]


@pytest.mark.slow
def test_fit_several_labels_from_the_cli(tmp_path):
    _load_commands()
    frame = write_table(tmp_path, n=40).drop(columns=["image", "audio"])
    frame["tags"] = frame["label"].map({"cat": "a;b", "dog": "b", "eel": "c;a"})
    frame.to_csv(tmp_path / "t.csv", index=False)
    runner = CliRunner()
    result = runner.invoke(app, ["fit", str(tmp_path / "t.csv"), "--label", "label", "--label", "tags",
                                 "--label", "size", "--problem-type", "tags=multilabel",
                                 "--problem-type", "size=regression", "--out", str(tmp_path / "m"), *HP])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert [t["problem_type"] for t in config["tasks"]] == ["multiclass", "multilabel", "regression"]
    assert config["history"]["multitask"]["architecture"] == "mmoe"
    result = runner.invoke(app, ["evaluate", str(tmp_path / "m"), str(tmp_path / "t.csv"), "--json"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.output)) == {"label", "tags", "size", "summary"}
    result = runner.invoke(app, ["predict", str(tmp_path / "m"), str(tmp_path / "t.csv"), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(tmp_path / "p.csv").columns) == ["label", "tags", "size"]


def test_problem_type_must_name_every_label_when_several(tmp_path):
    _load_commands()
    frame = write_table(tmp_path, n=20).drop(columns=["image", "audio"])
    frame.to_csv(tmp_path / "t.csv", index=False)
    result = CliRunner().invoke(app, ["fit", str(tmp_path / "t.csv"), "--label", "label", "--label", "size",
                                      "--problem-type", "multiclass", "--problem-type", "size=regression",
                                      "--out", str(tmp_path / "m"), *HP])
    assert result.exit_code == 1
    assert "LABEL=TYPE" in str(result.exception)
