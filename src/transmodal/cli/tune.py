"""``transmodal tune``: a hyperparameter search whose best trial is saved as the model."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from transmodal.cli.app import app, fail
from transmodal.cli.core import hyperparameters_from, parse_column_types, parse_problem_types, table_data


@app.command()
def tune(
    table: Path = typer.Argument(..., help="Training table (CSV, Parquet or JSON lines)."),
    label: List[str] = typer.Option(..., "--label", "-l", help="Label column (repeat for several tasks)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to save the best trial's model in."),
    trials: Optional[int] = typer.Option(20, "--trials", "-n", help="Finished trials in the whole study."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Seconds after which this process starts no trial."),
    storage: Optional[str] = typer.Option(None, "--storage", help="Database URL of the study (sqlite:///study.db): "
                                          "resumable after a kill, shared by every process started with it."),
    study_name: Optional[str] = typer.Option(None, "--study-name", help="Study name (default transmodal-<labels>)."),
    search_space: str = typer.Option("default", "--search-space", help="A packaged space (default, lora, "
                                     "multitask) or a YAML file of FitConfig key -> range or choices."),
    pruner: str = typer.Option("median", "--pruner", help="median, successive_halving or none."),
    cv_folds: int = typer.Option(1, "--cv-folds", help="Score each trial by the mean over this many folds of "
                                 "TABLE, then fit the chosen configuration once more (1: score on the tuning rows)."),
    final_fit: str = typer.Option("fold_models", "--final-fit", help="With --cv-folds: keep the chosen configuration's "
                                  "fold models, averaged (fold_models: an ensemble folder), or fit it once more on every "
                                  "row for its folds' mean best epoch (all_rows) or with the holdout (holdout)."),
    base_trial: bool = typer.Option(True, "--base-trial/--no-base-trial", help="Make a new study's first trial the "
                                    "base hyperparameters (--config, --set)."),
    jobs: int = typer.Option(1, "--jobs", help="Worker processes on this machine (needs --storage)."),
    tuning: Optional[Path] = typer.Option(None, "--tuning", help="Tuning table that scores the trials."),
    config: Optional[Path] = typer.Option(None, "--config", help="Base hyperparameters (YAML or JSON)."),
    set_: List[str] = typer.Option([], "--set", help="Override one base hyperparameter: key=value."),
    column_type: List[str] = typer.Option([], "--column-type", help="Override a modality: COLUMN=MODALITY."),
    problem_type: List[str] = typer.Option([], "--problem-type", help="Problem type, or LABEL=TYPE per label."),
    eval_metric: Optional[str] = typer.Option(None, "--eval-metric", help="Metric that scores the trials."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="Seconds of training per trial at most."),
    seed: int = typer.Option(0, "--seed", help="Seed of every fit and of the sampler."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the transmodal model already in OUT."),
    allowed_root: Optional[Path] = typer.Option(None, "--allowed-root", help="Refuse image/audio paths outside this folder."),
    na_value: List[str] = typer.Option([], "--na-value", help="A string that means 'missing' (repeat)."),
) -> None:
    """Search hyperparameters on TABLE with Optuna and save the best trial's model to --out, with
    trials.csv (every trial's parameters, score, state and time) and the report. With --cv-folds
    the model is the chosen configuration's fold models averaged (an ensemble folder; --final-fit
    all_rows or holdout: one network fitted once more).

    Start the same command twice with one --storage to run two workers on one study; rerun it after a
    kill to resume (the study ends when it holds --trials finished trials).
    """
    from transmodal.errors import ConfigError
    from transmodal.persistence import check_output_folder
    from transmodal.predictor import MultimodalPredictor

    if check_output_folder(out) == "model" and not overwrite:
        raise ConfigError(f"{out} already holds a transmodal model; pass --overwrite to replace it")
    settings = {"n_trials": trials, "timeout": timeout, "storage": storage, "study_name": study_name,
                "search_space": search_space, "pruner": pruner, "n_jobs": jobs,
                "cv_folds": cv_folds, "final_fit": final_fit, "base_trial": base_trial}
    hyperparameters = {"progress_bar": False, **hyperparameters_from(config, set_)}
    fit_args = dict(tuning_data=table_data(tuning, na_value) if tuning else None,
                    column_types=parse_column_types(column_type), hyperparameters=hyperparameters,
                    time_limit=time_limit, seed=seed, tune=settings)
    folds = cv_folds > 1 and final_fit == "fold_models"
    if folds:
        from transmodal.ensemble.auto import AutoPredictor

        if len(label) > 1:
            raise ConfigError("--final-fit fold_models keeps the fold models as an ensemble, which learns one "
                              "--label; give one, or --final-fit all_rows")
        model = AutoPredictor(label[0], problem_type=parse_problem_types(problem_type), eval_metric=eval_metric,
                              allowed_root=allowed_root)
    else:
        settings["final_fit"] = None if final_fit == "fold_models" else final_fit  # one holdout: the best trial's fit
        model = MultimodalPredictor(label[0] if len(label) == 1 else label,
                                    problem_type=parse_problem_types(problem_type), eval_metric=eval_metric,
                                    allowed_root=allowed_root)
    try:
        (model.tune if folds else model.fit)(table_data(table, na_value), **fit_args)
    except KeyboardInterrupt:
        fail("interrupted" + ("; rerun the same command to resume the study" if storage else ""), 130)
    model.save(out)
    summary = model.tuning_ if folds else model.history_["tuning"]
    states = ", ".join(f"{n} {s}" for s, n in summary["states"].items() if n)
    how = ""
    if folds:
        how = f" over {cv_folds} folds, its {cv_folds} fold models averaged (an ensemble folder)"
    elif cv_folds > 1:
        where = (f"on every row for {summary['final_epochs']} epoch(s)" if summary.get("final_epochs")
                 else "with the holdout")
        how = f" over {cv_folds} folds, its configuration fitted again {where}"
    typer.echo(f"saved trial {summary['best_trial']} to {out} (tuning {model.eval_metric_} score "
               f"{summary['best_score']:.4f}{how}; {summary['trials']} trial(s): {states}; "
               f"{summary['seconds']:.1f} s; trials.csv beside the model)")
