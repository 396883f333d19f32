"""``transmodal learning-curve``: a metric per number of labelled examples per class and strategy."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from transmodal.cli.app import app


@app.command("learning-curve")
def learning_curve(
    table: Path = typer.Argument(..., help="Labelled training table to draw the shots from."),
    label: str = typer.Option(..., "--label", "-l", help="Label column."),
    test: Path = typer.Option(..., "--test", help="Labelled evaluation table."),
    shots: str = typer.Option("1,5,10,50,all", "--shots", help="Labelled rows per class, comma-separated ('all': every row)."),
    strategies: str = typer.Option("scratch,linear_probe,finetune,lora", "--strategies",
                                   help="'scratch' and/or transfer strategies, comma-separated."),
    init_from: Optional[Path] = typer.Option(None, "--init-from", help="Source model for the transfer strategies."),
    out: Path = typer.Option(Path("learning_curve"), "--out", "-o", help="Folder for learning_curve.csv and .png."),
    metric: Optional[str] = typer.Option(None, "--metric", help="Metric to report (default: the evaluation metric)."),
    eval_metric: Optional[str] = typer.Option(None, "--eval-metric",
                                              help="Metric that picks each fit's best epoch (e.g. log_loss when the "
                                                   "holdout of a few shots is too small for accuracy to move)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Hyperparameters file (YAML or JSON)."),
    set_: List[str] = typer.Option([], "--set", help="Override one hyperparameter: key=value."),
    seed: int = typer.Option(0, "--seed", help="Seed of the shot sampling and of every fit."),
) -> None:
    """Fit each strategy on k labelled rows per class of TABLE; print and save the test metric."""
    from transmodal.cli.core import hyperparameters_from
    from transmodal.experiments.learning_curve import learning_curve as run, parse_shots, plot_curve

    names = [s.strip() for s in strategies.split(",") if s.strip()]
    curve = run(str(table), str(test), label, parse_shots(shots), names,
                init_from=str(init_from) if init_from else None, metric=metric, eval_metric=eval_metric,
                hyperparameters=hyperparameters_from(config, set_), seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    curve.to_csv(out / "learning_curve.csv", index=False)
    plot_curve(curve, out / "learning_curve.png")
    table_view = curve.pivot(index="shots", columns="strategy", values="value").reindex(list(dict.fromkeys(curve["shots"])))
    typer.echo(f"{curve['metric'].iloc[0]} per labelled examples per class:")
    typer.echo(table_view.to_string(float_format=lambda v: f"{v:.4f}"))
    typer.echo(f"saved {out / 'learning_curve.csv'} and {out / 'learning_curve.png'}")
