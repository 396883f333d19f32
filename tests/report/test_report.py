"""report.html: written by save, self-contained, with curves, confusion matrix and per-class metrics."""

from __future__ import annotations

import pytest
import base64
import json
import re

from transmodal.cli.app import main
from transmodal.predictor import MultimodalPredictor


def test_save_writes_a_self_contained_report(fitted, tmp_path):
    folder = fitted.save(tmp_path / "model")
    page = (folder / "report.html").read_text(encoding="utf-8")
    images = re.findall(r'alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    alts = {alt for alt, _ in images}
    assert {"training curves", "confusion matrix", "importance"} <= alts
    assert all(base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n" for _, data in images)
    assert "http://" not in page and "https://" not in page and "<script" not in page  # no network
    report = json.loads((folder / "report.json").read_text())
    columns = {c["column"]: c for c in report["data"]["columns"]}
    assert columns["image"]["modality"] == "image" and columns["image"]["missing_rate"] == 0.0
    task = report["tasks"]["label"]
    assert task["classes"] == ["cat", "dog", "eel"] and len(task["confusion"]) == 3
    assert sum(map(sum, task["confusion"])) == report["rows"]["tuning"]
    assert [c["class"] for c in task["per_class"]] == ["cat", "dog", "eel"]
    assert set(report["importance"]) == {s.name for s in fitted.inputs_}
    MultimodalPredictor.load(folder)  # the report files are sealed in the manifest


@pytest.mark.slow
def test_report_command_renders_again(fitted, tmp_path, capsys):
    folder = fitted.save(tmp_path / "model")
    for args in (["report", str(folder), "--out", str(tmp_path / "copy.html")], ["report", str(folder)]):
        try:
            main(args)
        except SystemExit as exit_:
            assert exit_.code in (0, None)
    assert 'alt="confusion matrix"' in (tmp_path / "copy.html").read_text()
    assert 'alt="confusion matrix"' in (folder / "report.html").read_text()
    MultimodalPredictor.load(folder)  # re-rendered in place and re-sealed
