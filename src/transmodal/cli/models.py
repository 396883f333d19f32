"""Either kind of model folder on the command line: :func:`load_model` (a predictor or an ensemble,
used by predict, evaluate and leaderboard), ``fit --presets`` (:func:`fit_ensemble`) and ``info``
of an ensemble (:func:`print_info`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def is_ensemble_folder(model: Path) -> bool:
    """True when MODEL's config describes an ensemble (read before the full check by ``load``)."""
    from transmodal.persistence import peek_config

    config = peek_config(model)
    return isinstance(config, dict) and "ensemble" in config


def load_model(model: Path, allowed_root: Optional[Path] = None):
    """An :class:`AutoPredictor` for an ensemble folder, else a :class:`MultimodalPredictor`."""
    if is_ensemble_folder(model):
        from transmodal.ensemble.auto import AutoPredictor

        return AutoPredictor.load(model, allowed_root=allowed_root)
    from transmodal.predictor import MultimodalPredictor

    return MultimodalPredictor.load(model, allowed_root=allowed_root)


def fit_ensemble(table, tuning, label: str, out: Path, presets: str, time_limit: Optional[float], problem_type,
                 eval_metric, allowed_root, column_types: dict, hyperparameters: dict, seed: int) -> None:
    """``transmodal fit --presets``: fit an :class:`AutoPredictor`, save it, print its leaderboard."""
    from transmodal.ensemble.auto import AutoPredictor

    auto = AutoPredictor(label, problem_type=problem_type, eval_metric=eval_metric, allowed_root=allowed_root)
    auto.fit(table, tuning_data=tuning, presets=presets, time_limit=time_limit, column_types=column_types,
             hyperparameters=hyperparameters, seed=seed)  # member lines: the status lines (cli.app)
    auto.save(out)
    print_leaderboard(auto.leaderboard())
    typer.echo(f"saved to {out} (preset {presets}, tuning {auto.eval_metric_} {auto.tuning_score_:.4f}, "
               f"fit {auto.fit_seconds_:.1f} s)")


def print_leaderboard(board) -> None:
    """Print a leaderboard DataFrame as aligned text."""
    typer.echo(board.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


def print_info(model: Path) -> None:
    """``transmodal info`` of an ensemble folder: columns, task, preset and members."""
    from transmodal.persistence import verify_folder

    config = verify_folder(model)["ensemble"]
    typer.echo(f"model folder: {model} (ensemble, preset {config['preset']})")
    typer.echo("columns:")
    for column, modality in config["column_types"].items():
        typer.echo(f"  {column:<24} {modality}")
    task = config["task"]
    classes = f", classes {task['classes'][:10]}" if task["classes"] else ""
    typer.echo(f"task: {task['name']} ({task['problem_type']}{classes}); selected on {config['eval_metric']}")
    typer.echo("members:")
    for row in config["members"]:
        typer.echo(f"  {row['member']:<20} {row['kind']:<13} weight {row['weight']:.3f}  tuning "
                   f"{row['tuning_score']:.4f}  fit {row['fit_seconds']:.1f} s  {row['status']}")
    limit = "" if config["time_limit"] is None else f" of {config['time_limit']:g} s"
    typer.echo(f"fit {config['fit_seconds']:.1f} s{limit}; ensemble tuning "
               f"{config['eval_metric']} {config['tuning_score']:.4f}")
