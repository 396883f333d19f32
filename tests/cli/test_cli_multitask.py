"""``transmodal multitask-compare``."""

from __future__ import annotations

import json

import numpy as np

from tabletools import TINY_HYPERPARAMETERS, write_table
from transmodal.cli.app import main


def test_multitask_compare_prints_the_comparison_and_writes_json(tmp_path, capsys):
    frame = write_table(tmp_path, n=50).drop(columns=["image", "audio"])
    frame["target"] = frame["size"] * 3.0 + np.arange(len(frame)) % 2
    frame.to_csv(tmp_path / "table.csv", index=False)
    config = tmp_path / "hp.json"
    config.write_text(json.dumps(TINY_HYPERPARAMETERS))
    out = tmp_path / "report.json"
    main(["multitask-compare", str(tmp_path / "table.csv"), "--label", "label", "--label", "target",
          "--config", str(config), "--out", str(out)])
    printed = capsys.readouterr().out
    assert "fitted single:target" in printed and "delta_m" in printed and "single-task models together" in printed
    report = json.loads(out.read_text())
    assert [r["task"] for r in report["table"]] == ["label", "target"]
    assert set(report["fit_seconds"]) == {"multi-task", "single:label", "single:target"}
