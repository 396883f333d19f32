"""ONNX and TorchScript exports reproduce the PyTorch outputs within 1e-4."""

from __future__ import annotations

import json

import numpy as np
import pytest

from transmodal.cli.app import main
from transmodal.errors import ConfigError
from transmodal.export.run import export_model


@pytest.mark.slow
@pytest.mark.parametrize("fmt, suffix", [("onnx", ".onnx"), ("torchscript", ".pt")])
def test_export_matches_pytorch(fitted, table_dir, tmp_path, fmt, suffix):
    summary = export_model(fitted, str(table_dir / "table.csv"), tmp_path / f"model{suffix}", fmt)
    assert summary["max_abs_diff"] <= 1e-4
    assert "input.image.mask" in summary["inputs"] and summary["outputs"][0] == "output.scores.label"
    assert json.loads((tmp_path / f"model{suffix}.json").read_text())["format"] == fmt


@pytest.mark.slow
def test_onnx_runs_on_other_rows_than_the_traced_ones(fitted, table_dir, tmp_path):
    import onnxruntime

    from transmodal.export.graph import flatten_batch
    from transmodal.export.run import sample_batches

    summary = export_model(fitted, str(table_dir / "table.csv"), tmp_path / "m.onnx", "onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    batch = sample_batches(fitted, str(table_dir / "table.csv"), batch_size=7, count=3)[-1]
    flat = flatten_batch(batch, [tuple(x) for x in summary["layout"]])
    feeds = {i.name for i in session.get_inputs()}
    got = session.run(["output.scores.label"], {n: t.numpy() for n, t in zip(summary["inputs"], flat) if n in feeds})[0]
    expected = fitted.predict_proba(str(table_dir / "table.csv")).to_numpy()[14:21]
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.mark.slow
def test_cli_export_and_unknown_format(fitted, table_dir, tmp_path):
    folder = fitted.save(tmp_path / "model")
    try:
        main(["export", str(folder), "--table", str(table_dir / "table.csv"), "--out", str(tmp_path / "m.pt"),
              "--format", "torchscript"])
    except SystemExit as exit_:
        assert exit_.code in (0, None)
    assert (tmp_path / "m.pt").stat().st_size > 0
    with pytest.raises(ConfigError, match="unknown export format"):
        export_model(fitted, str(table_dir / "table.csv"), tmp_path / "m.x", "tflite")
