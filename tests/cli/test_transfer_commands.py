"""The transfer options of ``fit`` and the ``learning-curve`` command."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tabletools import write_small
from transmodal.cli import main

TINY = ["--set", "max_epochs=1", "--set", "progress_bar=false", "--set", "hidden_dim=16",
        "--set", "encoders.image={name: cnn, width: 8, output_dim: 16}"]


@pytest.mark.slow
def test_fit_with_init_from_unlabeled_and_a_learning_curve(tmp_path, capsys):
    table = write_small(tmp_path, n=30)
    main(["fit", table, "--label", "label", "--out", str(tmp_path / "source"), *TINY])
    frame = pd.read_csv(table)
    frame.drop(columns=["label"]).to_csv(tmp_path / "unlabelled.csv", index=False)
    main(["fit", table, "--label", "label", "--out", str(tmp_path / "adapted"), "--init-from", str(tmp_path / "source"),
          "--unlabeled", str(tmp_path / "unlabelled.csv"), "--set", "transfer.adapt=coral", *TINY])
    saved = json.loads((tmp_path / "adapted" / "config.json").read_text())
    assert saved["fit_config"]["transfer"]["adapt"] == "coral"
    assert saved["history"]["transfer"]["inputs"] == ["image", "tabular"]
    capsys.readouterr()
    main(["learning-curve", table, "--label", "label", "--test", table, "--shots", "2,all",
          "--strategies", "scratch,linear_probe", "--init-from", str(tmp_path / "source"),
          "--out", str(tmp_path / "curve"), "--metric", "accuracy", "--eval-metric", "log_loss", *TINY])
    curve = pd.read_csv(tmp_path / "curve" / "learning_curve.csv")
    assert list(curve["strategy"]) == ["scratch", "linear_probe"] * 2
    assert set(curve["metric"]) == {"accuracy"} and set(curve["selected_by"]) == {"log_loss"}
    assert list(curve["n_train"]) == [6, 6, 30, 30]
    assert (tmp_path / "curve" / "learning_curve.png").stat().st_size > 0
    assert "linear_probe" in capsys.readouterr().out
