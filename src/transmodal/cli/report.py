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
    from transmodal.cli.models import is_ensemble_folder
    from transmodal.report.files import render_folder

    if is_ensemble_folder(model):  # an ensemble's report (the leaderboard) is written when it is saved
        typer.echo(f"{model / 'report.html'} (an ensemble's report, written at save; `transmodal leaderboard "
                   f"{model} TABLE` scores its members on a table)")
        return
    typer.echo(f"wrote {render_folder(model, out)}")
