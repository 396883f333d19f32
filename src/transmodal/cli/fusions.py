"""``transmodal fusions``: list the fusion strategies, one line each."""

from __future__ import annotations

import typer

from transmodal.cli.app import app


@app.command()
def fusions() -> None:
    """List the fusion strategies (choose one with --set fusion=NAME)."""
    from transmodal.fusion.base import fusion_summaries

    for name, line in fusion_summaries().items():
        typer.echo(f"{name:<14} {line}")
