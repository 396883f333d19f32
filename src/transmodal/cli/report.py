"""``transmodal report``: render a model folder's report.html again."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from transmodal.cli.app import app


@app.command()
def report(
    model: Path = typer.Argument(..., help="Model folder."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the HTML here instead of MODEL/report.html."),
) -> None:
    """Render MODEL/report.html (data summary, curves, confusion matrix, metrics, configuration)."""
    from transmodal.report.files import render_folder

    typer.echo(f"wrote {render_folder(model, out)}")
