"""``transmodal compare``: fit several fusion strategies on the same split and tabulate them."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from transmodal.cli.app import app
from transmodal.cli.core import hyperparameters_from


@app.command()
def compare(
    table: Path = typer.Argument(..., help="Labelled table."),
    label: str = typer.Option(..., "--label", "-l", help="Label column."),
    fusions: str = typer.Option("concat,late", "--fusions", help="Comma-separated fusion names (see `transmodal fusions`)."),
    seeds: int = typer.Option(3, "--seeds", help="Seeds per strategy (0..N-1)."),
    test: Optional[Path] = typer.Option(None, "--test", help="Test table; else a stratified split of TABLE."),
    tuning: Optional[Path] = typer.Option(None, "--tuning", help="Tuning table for early stopping."),
    test_fraction: float = typer.Option(0.2, "--test-fraction", help="Fraction of TABLE held out when no --test."),
    config: Optional[Path] = typer.Option(None, "--config", help="Hyperparameters file (YAML or JSON)."),
    set_: List[str] = typer.Option([], "--set", help="Override one hyperparameter: key=value."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write every fit's row as CSV here."),
) -> None:
    """Fit each fusion strategy with each seed on the same split; print mean/std, fit time, size."""
    from transmodal.experiments.fusion_comparison import compare_fusions, format_summary, split_table, summarise
    from transmodal.data.readers import read_table
    from transmodal.errors import ConfigError, did_you_mean
    from transmodal.fusion.base import FUSIONS

    names = [name.strip() for name in fusions.split(",") if name.strip()]
    unknown = [name for name in names if name not in FUSIONS]
    if unknown or not names:
        raise ConfigError(f"unknown fusion(s) {unknown}{did_you_mean(unknown[0], FUSIONS.public_names()) if unknown else ''}; "
                          f"known: {FUSIONS.public_names()}")
    if seeds < 1:
        raise ConfigError("--seeds must be at least 1")
    train, test_table = (read_table(str(table)), read_table(str(test))) if test else \
        split_table(str(table), label, test_fraction)
    hyper = hyperparameters_from(config, set_)
    hyper.setdefault("progress_bar", False)
    results = compare_fusions(train, test_table, label, names, range(seeds), hyper,
                              tuning=str(tuning) if tuning else None,
                              on_fit=lambda row, _: typer.echo(
                                  f"{row['fusion']} seed {row['seed']}: {row['metric']} {row['score']:.4f} "
                                  f"({row['fit_seconds']:.1f} s)"))
    if out:
        results.to_csv(out, index=False)
    typer.echo(format_summary(summarise(results)))
