"""``transmodal fit --presets``, ``leaderboard``, and predict/evaluate/info on an ensemble folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ensemble"))
from ensembletools import tiny_frame  # noqa: E402

from transmodal.cli import main  # noqa: E402


def test_fit_with_presets_then_leaderboard_info_predict_evaluate(tmp_path, capsys):
    tiny_frame(120).to_csv(tmp_path / "t.csv", index=False)
    table, model = str(tmp_path / "t.csv"), str(tmp_path / "m")
    main(["fit", table, "-l", "label", "-o", model, "--presets", "fast", "--time-limit", "60",
          "--set", "lightgbm.svd_components=4"])
    out = capsys.readouterr().out
    assert "tfidf_linear" in out and "lightgbm" in out and "saved to" in out and "preset fast" in out
    main(["leaderboard", model, table, "-o", str(tmp_path / "board.csv")])
    board = pd.read_csv(tmp_path / "board.csv")
    assert board["member"].tolist()[0] == "ensemble" and board["score"].notna().any()
    main(["info", model])
    out = capsys.readouterr().out
    assert "ensemble, preset fast" in out and "tfidf_linear" in out and "weight" in out
    main(["predict", model, table, "-o", str(tmp_path / "p.csv"), "--proba"])
    predictions = pd.read_csv(tmp_path / "p.csv")
    assert list(predictions.columns) == ["label", "label_proba_no", "label_proba_yes"] and len(predictions) == 120
    main(["evaluate", model, table, "--json"])
    assert '"roc_auc"' in capsys.readouterr().out


def test_errors_are_one_line(tmp_path, capsys):
    tiny_frame(30).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(SystemExit):
        main(["fit", str(tmp_path / "t.csv"), "-l", "label", "-o", str(tmp_path / "m"), "--presets", "fastt"])
    assert "did you mean" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["fit", str(tmp_path / "t.csv"), "-l", "label", "-o", str(tmp_path / "m"), "--presets", "fast",
              "--set", "lgbm.num_leaves=3"])
    assert "'lgbm'" in capsys.readouterr().err
