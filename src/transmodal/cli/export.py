"""``transmodal export``: the inference graph as ONNX or TorchScript, checked against PyTorch."""

from __future__ import annotations

from pathlib import Path

import typer

from transmodal.cli.app import app


@app.command()
def export(
    model: Path = typer.Argument(..., help="Model folder."),
    table: Path = typer.Option(..., "--table", help="Rows used to trace the graph and check the export."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file (.onnx or .pt)."),
    fmt: str = typer.Option("onnx", "--format", help="onnx or torchscript."),
) -> None:
    """Export MODEL's inference graph (processed inputs -> scores) and verify it on TABLE's rows."""
    from transmodal.export.run import export_model
    from transmodal.predictor import MultimodalPredictor

    summary = export_model(MultimodalPredictor.load(model), str(table), out, fmt)
    typer.echo(f"wrote {summary['path']} ({fmt}); max |difference| to PyTorch {summary['max_abs_diff']:.2e}")
