"""``transmodal leaderboard MODEL_DIR [TABLE]``: the members of an ensemble (fit with ``--presets``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from transmodal.cli.app import app
from transmodal.cli.core import csv_safe, table_data
from transmodal.cli.models import is_ensemble_folder, load_model, print_leaderboard


@app.command()
def leaderboard(
    model: Path = typer.Argument(..., help="Model folder of an ensemble (fit with --presets)."),
    table: Optional[Path] = typer.Argument(None, help="Labelled table to score every member on."),
    allowed_root: Optional[Path] = typer.Option(None, "--allowed-root", help="Refuse image/audio paths outside "
                                                "this folder (the model's saved root can only narrow it)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write the leaderboard as CSV."),
) -> None:
    """Every member of the ensemble in MODEL: tuning score, score on TABLE, fit and predict seconds, weight."""
    from transmodal.errors import ConfigError

    if not is_ensemble_folder(model):
        load_model(model, allowed_root)  # a clear error for a missing or broken folder
        raise ConfigError(f"{model} holds a single predictor, not an ensemble; fit one with --presets fast|medium|best")
    auto = load_model(model, allowed_root)
    board = auto.leaderboard(table_data(table, []) if table is not None else None)
    print_leaderboard(board)
    if out is not None:
        csv_safe(board).to_csv(out, index=False)
