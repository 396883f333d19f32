"""The align, zero-shot and retrieve commands on a tiny image-text table."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from tests.conftest import write_table
from transmodal.cli.app import _load_commands, app

HP = ["--set", "max_epochs=3", "--set", "batch_size=16", "--set", "embed_dim=16",
      "--set", "encoders.image={name: cnn, width: 8, output_dim: 16}",
      "--set", "encoders.text={name: builtin_text, output_dim: 16}"]


def test_align_zero_shot_and_retrieve(tmp_path):
    _load_commands()
    frame = write_table(tmp_path, n=40)
    frame["caption"] = frame["label"].map({"cat": "left", "dog": "middle", "eel": "right"}) + " stripe"
    frame.to_csv(tmp_path / "pairs.csv", index=False)
    runner = CliRunner()
    result = runner.invoke(app, ["align", str(tmp_path / "pairs.csv"), "--columns", "image,caption",
                                 "--out", str(tmp_path / "m"), *HP])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["zero-shot", str(tmp_path / "m"), str(tmp_path / "pairs.csv"), "--column", "image",
                                 "--classes", "left stripe,middle stripe,right stripe", "--template", "{}",
                                 "--out", str(tmp_path / "z.csv")])
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(tmp_path / "z.csv")
    assert list(predictions.columns) == ["prediction", "left stripe", "middle stripe", "right stripe"]
    result = runner.invoke(app, ["retrieve", str(tmp_path / "m"), str(tmp_path / "pairs.csv"), "--query", "image",
                                 "--gallery", "caption", "--item-column", "label"])
    assert result.exit_code == 0 and "R@1" in result.output
