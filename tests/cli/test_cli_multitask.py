"""``transmodal multitask-compare``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tabletools import TINY_HYPERPARAMETERS, write_table
from transmodal.cli.app import main


@pytest.mark.slow
def test_multitask_compare_prints_the_comparison_and_writes_json(tmp_path, capsys):
    frame = write_table(tmp_path, n=50).drop(columns=["image", "audio"])
    frame["target"] = frame["size"] * 3.0 + np.arange(len(frame)) % 2
    frame.to_csv(tmp_path / "table.csv", index=False)
    config = tmp_path / "hp.json"
    config.write_text(json.dumps(TINY_HYPERPARAMETERS))
    out = tmp_path / "report.json"
    main(["multitask-compare", str(tmp_path / "table.csv"), "--label", "label", "--label", "target",
          "--config", str(config), "--out", str(out), "--seeds", "2"])
    printed = capsys.readouterr().out
    assert "fitted single:target" in printed and "single-task models together" in printed
    assert "seed 0" in printed and "seed 1" in printed and "delta_m over 2 seeds" in printed
    report = json.loads(out.read_text())
    assert report["seeds"] == [0, 1] and len(report["runs"]) == 2
    run = report["runs"][1]
    assert [r["task"] for r in run["table"]] == ["label", "target"]
    assert set(run["fit_seconds"]) == {"multi-task", "single:label", "single:target"}
    assert report["delta_m_mean"] == pytest.approx((report["runs"][0]["delta_m"] + run["delta_m"]) / 2)
