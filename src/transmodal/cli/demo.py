"""``transmodal demo``: train and evaluate a small multimodal model on built-in data."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from transmodal.cli.app import app


@app.command()
def demo(
    out: Path = typer.Option(Path("transmodal-demo"), "--out", "-o", help="Folder for the demo data and model."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    max_epochs: Optional[int] = typer.Option(None, "--max-epochs", help="Epochs (default 12)."),
) -> None:
    """Blurred digit images + keypad tones: fuse two weak modalities into a strong model (offline)."""
    from transmodal.demo import run_demo

    run_demo(out, seed=seed, max_epochs=max_epochs, echo=typer.echo)
