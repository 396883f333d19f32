"""``transmodal multitask-compare``: a multi-task model against one single-task model per label."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import List, Optional

import typer

from transmodal.cli.app import app
from transmodal.cli.core import hyperparameters_from, parse_problem_types


@app.command("multitask-compare")
def multitask_compare(
    table: Path = typer.Argument(..., help="Labelled table."),
    label: List[str] = typer.Option(..., "--label", "-l", help="Label column (repeat: two or more)."),
    problem_type: List[str] = typer.Option([], "--problem-type", help="TYPE, or LABEL=TYPE (repeat)."),
    test: Optional[Path] = typer.Option(None, "--test", help="Test table; else a stratified split of TABLE."),
    tuning: Optional[Path] = typer.Option(None, "--tuning", help="Tuning table; else one holdout shared by all fits."),
    test_fraction: float = typer.Option(0.2, "--test-fraction", help="Fraction of TABLE held out when no --test."),
    seed: int = typer.Option(0, "--seed", help="Seed of the test split and of the first comparison."),
    seeds: int = typer.Option(1, "--seeds", help="Comparisons with seeds SEED..SEED+N-1 (holdout and fits)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Hyperparameters file (YAML or JSON)."),
    set_: List[str] = typer.Option([], "--set", help="Override one hyperparameter: key=value."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the report as JSON here."),
) -> None:
    """Fit one multi-task model and one single-task model per label on the same rows with the same
    budget; print per-task metrics, LibMTL's delta_m and the wall times."""
    from transmodal.experiments.fusion_comparison import split_table
    from transmodal.data.readers import read_table
    from transmodal.experiments.multitask_comparison import compare_with_single_task

    from transmodal.errors import ConfigError

    if seeds < 1:
        raise ConfigError("--seeds must be at least 1")
    train, test_table = (read_table(str(table)), read_table(str(test))) if test else \
        split_table(str(table), label[0], test_fraction, seed)
    hyper = hyperparameters_from(config, set_)
    hyper.setdefault("progress_bar", False)
    reports = []
    for run_seed in range(seed, seed + seeds):
        report = compare_with_single_task(train, test_table, label, parse_problem_types(problem_type), hyper,
                                          tuning=str(tuning) if tuning else None, seed=run_seed,
                                          on_fit=lambda name, s: typer.echo(f"fitted {name} in {s:.1f} s"))
        print_comparison(report, run_seed)
        reports.append(report)
    deltas = [r.delta_m for r in reports]
    if seeds > 1:
        typer.echo(f"delta_m over {seeds} seeds: mean {statistics.mean(deltas):+.2f}%, "
                   f"std {statistics.stdev(deltas):.2f}")
    if out:
        out.write_text(json.dumps({"seeds": list(range(seed, seed + seeds)), "delta_m_mean": statistics.mean(deltas),
                                   "runs": [r.to_dict() for r in reports]}, indent=2))
        typer.echo(f"report written to {out}")


def print_comparison(report, seed: int) -> None:
    """One comparison as a text table, then its delta_m and wall times."""
    typer.echo(f"seed {seed}")
    typer.echo(f"{'task':<24}{'metric':<22}{'single':>10}{'multi':>10}{'change %':>10}")
    for row in report.table.to_dict(orient="records"):
        typer.echo(f"{row['task']:<24}{row['metric']:<22}{row['single']:>10.4f}{row['multi']:>10.4f}"
                   f"{row['change_%']:>+10.2f}")
    typer.echo(f"delta_m {report.delta_m:+.2f}%; fit time: multi-task {report.fit_seconds['multi-task']:.1f} s, "
               f"single-task models together {report.single_task_seconds:.1f} s")
    if "encode + first multi-task fit" in report.fit_seconds:
        typer.echo(f"(frozen-encoder features were computed once, in a first multi-task fit of "
                   f"{report.fit_seconds['encode + first multi-task fit']:.1f} s, and read by every timed fit)")
