"""fit -> info -> predict -> evaluate through the CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tabletools import write_table
from transmodal.cli import main


@pytest.mark.slow
def test_fit_predict_evaluate_info(tmp_path, capsys):
    write_table(tmp_path, n=30)
    config = tmp_path / "hp.yaml"
    config.write_text("max_epochs: 2\nprogress_bar: false\nfusion: late\n")
    main(["fit", str(tmp_path / "table.csv"), "--label", "label", "--config", str(config),
          "--set", "hidden_dim=16", "--out", str(tmp_path / "model")])
    saved = json.loads((tmp_path / "model" / "config.json").read_text())
    assert saved["fit_config"]["fusion"] == "late" and saved["fit_config"]["hidden_dim"] == 16
    main(["info", str(tmp_path / "model")])
    assert "fusion: late" in capsys.readouterr().out
    main(["predict", str(tmp_path / "model"), str(tmp_path / "table.csv"), "--out", str(tmp_path / "p.csv"), "--proba"])
    predictions = pd.read_csv(tmp_path / "p.csv")
    assert list(predictions.columns) == ["label", "label_proba_cat", "label_proba_dog", "label_proba_eel"]
    assert len(predictions) == 30
    capsys.readouterr()
    main(["evaluate", str(tmp_path / "model"), str(tmp_path / "table.csv"), "--json"])
    metrics = json.loads(capsys.readouterr().out)
    assert 0.0 <= metrics["accuracy"] <= 1.0 and "roc_auc" in metrics
