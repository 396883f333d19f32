"""The align, zero-shot and retrieve commands on a tiny image-text table."""

from __future__ import annotations

import io

import pandas as pd
import pytest
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


def test_zero_shot_from_a_pretrained_checkpoint_saves_a_predictor(tmp_path):
    from tinyaligned import CLASSES, save_tiny_clip
    from transmodal.predictor import MultimodalPredictor

    _load_commands()
    clip = save_tiny_clip(tmp_path / "clip")
    frame = write_table(tmp_path, n=12)
    frame.to_csv(tmp_path / "rows.csv", index=False)
    runner = CliRunner()
    result = runner.invoke(app, ["zero-shot", clip, str(tmp_path / "rows.csv"), "--column", "image",
                                 "--classes", ",".join(CLASSES), "--template", "a photo of {}",
                                 "--template", "this is a {}", "--out", str(tmp_path / "zs")])
    assert result.exit_code == 0, result.output
    printed = pd.read_csv(io.StringIO(result.stdout))
    assert list(printed.columns) == ["prediction", *CLASSES] and len(printed) == 12
    predictor = MultimodalPredictor.load(tmp_path / "zs")
    assert list(predictor.predict(str(tmp_path / "rows.csv"))) == list(printed["prediction"])
    result = runner.invoke(app, ["predict", str(tmp_path / "zs"), str(tmp_path / "rows.csv"), "--out",
                                 str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output


def test_zero_shot_names_a_checkpoint_that_is_no_aligned_model(tmp_path):
    from tinycheckpoints import save_tiny_bert
    from transmodal.cli.app import main

    bert = save_tiny_bert(tmp_path / "bert")
    write_table(tmp_path, n=6).to_csv(tmp_path / "rows.csv", index=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["zero-shot", bert, str(tmp_path / "rows.csv"), "--column", "image", "--classes", "a,b"])
    assert exit_info.value.code == 1
