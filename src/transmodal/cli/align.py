"""Alignment commands: ``align`` and ``retrieve`` (``zero-shot`` is in :mod:`transmodal.cli.zero_shot`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from transmodal.cli.app import app


def split_items(text: str, what: str) -> list[str]:
    """The non-empty comma-separated items of ``text`` (ConfigError naming ``what`` when none)."""
    from transmodal.errors import ConfigError

    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise ConfigError(f"{what} is empty")
    return items


@app.command()
def align(
    table: Path = typer.Argument(..., help="Paired rows (CSV, Parquet or JSON lines)."),
    columns: str = typer.Option(..., "--columns", help="Columns to align, comma-separated: COL_A,COL_B."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to save the aligned model in."),
    lock: List[str] = typer.Option([], "--lock", help="Keep this column's pretrained tower fixed (LiT); repeatable."),
    loss: str = typer.Option("infonce", "--loss", help="infonce or siglip."),
    tuning: Optional[Path] = typer.Option(None, "--tuning", help="Tuning rows for early stopping."),
    item_column: Optional[str] = typer.Option(None, "--item-column", help="Rows sharing this value show one item."),
    config: Optional[Path] = typer.Option(None, "--config", help="Hyperparameters file (YAML or JSON)."),
    set_: List[str] = typer.Option([], "--set", help="Override one hyperparameter: key=value."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Train towers for the --columns of TABLE into a shared embedding space and save them."""
    from transmodal.alignment.model import AlignmentModel
    from transmodal.cli.core import hyperparameters_from

    model = AlignmentModel(columns=split_items(columns, "--columns"), lock=lock, loss=loss,
                           hyperparameters=hyperparameters_from(config, set_))
    model.fit(str(table), tuning_data=str(tuning) if tuning else None, seed=seed, item_column=item_column)
    model.save(out)
    history = model.history_
    typer.echo(f"saved to {out} (best epoch {history['best_epoch']}, tuning MRR {history['best_score']:.4f}, "
               f"fit {history['fit_seconds']:.1f} s)")


@app.command()
def retrieve(
    model: Path = typer.Argument(..., help="Aligned model folder."),
    table: Path = typer.Argument(..., help="Rows whose cells are both queries and gallery."),
    query_column: str = typer.Option(..., "--query", help="Column of the queries."),
    gallery_column: str = typer.Option(..., "--gallery", help="Column of the gallery."),
    item_column: Optional[str] = typer.Option(None, "--item-column", help="Rows sharing this value match."),
    k: int = typer.Option(0, "--k", help="Print the top-k gallery rows of every query instead of metrics."),
) -> None:
    """Evaluate retrieval (R@1/5/10, median rank, MRR) from --query cells to --gallery cells."""
    from transmodal.alignment.model import AlignmentModel

    aligned = AlignmentModel.load(model)
    if k > 0:
        indices, scores = aligned.retrieve(str(table), query_column, str(table), gallery_column, k)
        for row, (idx, score) in enumerate(zip(indices, scores)):
            typer.echo(json.dumps({"query": row, "gallery": idx.tolist(), "scores": [round(float(s), 4) for s in score]}))
        return
    metrics = aligned.evaluate_retrieval(str(table), query_column, gallery_column, item_column)
    for key, value in metrics.items():
        typer.echo(f"{key:<20} {value:.4f}")
