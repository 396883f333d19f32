"""Core commands: ``fit``, ``predict``, ``evaluate`` and ``info``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from transmodal.cli.app import app, fail


def hyperparameters_from(config: Optional[Path], overrides: List[str]) -> dict:
    """Hyperparameters from a JSON/YAML ``--config`` file with ``--set key=value`` overrides."""
    from transmodal.config import apply_overrides, load_config_file

    values = load_config_file(config) if config else {}
    return apply_overrides(values, overrides or [])


def parse_problem_types(items: List[str]):
    """``[]`` -> None, ``["TYPE"]`` -> ``"TYPE"``, ``["LABEL=TYPE", ...]`` -> ``{"LABEL": "TYPE"}``."""
    from transmodal.errors import ConfigError

    if not items:
        return None
    if len(items) == 1 and "=" not in items[0]:
        return items[0]
    if not all("=" in item for item in items):
        raise ConfigError(f"--problem-type: give one TYPE, or LABEL=TYPE for each label; got {items}")
    return dict(item.rsplit("=", 1) for item in items)


def transfer_options(init_from, unlabeled, source, source_label, teacher) -> dict:
    """The transfer-learning ``fit`` options that were given (paths as strings)."""
    options = {"init_from": init_from, "unlabeled_data": unlabeled, "source_data": source,
               "source_label": source_label, "teacher": teacher}
    return {k: str(v) for k, v in options.items() if v is not None}


def parse_column_types(items: List[str]) -> dict:
    """``["col=text", ...]`` -> ``{"col": "text"}``."""
    from transmodal.errors import ConfigError

    result = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--column-type expects COLUMN=MODALITY, got {item!r}")
        column, modality = item.rsplit("=", 1)
        result[column] = modality
    return result


@app.command()
def fit(
    table: Path = typer.Argument(..., help="Training table (CSV, Parquet or JSON lines)."),
    label: List[str] = typer.Option(..., "--label", "-l", help="Label column (repeat for several tasks)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to save the model in."),
    tuning: Optional[Path] = typer.Option(None, "--tuning", help="Tuning table for early stopping."),
    config: Optional[Path] = typer.Option(None, "--config", help="Hyperparameters file (YAML or JSON)."),
    set_: List[str] = typer.Option([], "--set", help="Override one hyperparameter: key=value (dots for nesting)."),
    column_type: List[str] = typer.Option([], "--column-type", help="Override a modality: COLUMN=MODALITY."),
    problem_type: List[str] = typer.Option([], "--problem-type", help="binary, multiclass, regression or "
                                           "multilabel; LABEL=TYPE per label (repeat) for several labels."),
    eval_metric: Optional[str] = typer.Option(None, "--eval-metric", help="Metric for model selection."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="Seconds of training at most (with "
                                               "--presets: of the whole fit; default the preset's)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    presets: Optional[str] = typer.Option(None, "--presets", help="fast, medium or best: an ensemble of members "
                                          "within --time-limit (--set MEMBER.OPTION=VALUE overrides a member)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in OUT/checkpoints."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the transmodal model already in OUT."),
    checkpoint_every: int = typer.Option(50, "--checkpoint-every", help="Steps between checkpoints (0: epoch ends only)."),
    allowed_root: Optional[Path] = typer.Option(None, "--allowed-root", help="Refuse image/audio paths outside this folder."),
    init_from: Optional[Path] = typer.Option(None, "--init-from", help="Start from this saved model (transfer learning)."),
    unlabeled: Optional[Path] = typer.Option(None, "--unlabeled", help="Unlabelled target table (--set transfer.adapt=dann|coral|mmd)."),
    source: Optional[Path] = typer.Option(None, "--source", help="Labelled source table trained jointly (with --source-label)."),
    source_label: Optional[str] = typer.Option(None, "--source-label", help="Label column of the --source table."),
    teacher: Optional[Path] = typer.Option(None, "--teacher", help="Teacher model for --set transfer.strategy=distill."),
    na_value: List[str] = typer.Option([], "--na-value", help="A string that means 'missing' besides the empty "
                                       "cell (repeat; e.g. --na-value NA)."),
) -> None:
    """Train a model on TABLE and save it to --out (checkpointed in OUT/checkpoints while training).

    OUT must be new, empty or a transmodal model folder (replaced only with --overwrite or --resume);
    a folder holding anything else is refused before training.
    """
    from transmodal.errors import ConfigError
    from transmodal.persistence import CHECKPOINT_DIR, check_output_folder, is_checkpoint_folder
    from transmodal.predictor import MultimodalPredictor

    if check_output_folder(out) == "model" and not (overwrite or resume):
        # --resume of a run killed after its model was saved finds the model and no checkpoint: it
        # trains again (same settings and seed, same model) and replaces it
        raise ConfigError(f"{out} already holds a transmodal model; pass --overwrite to replace it")
    if presets is not None:
        from transmodal.cli.models import fit_ensemble

        if len(label) != 1:
            raise ConfigError("--presets fits an ensemble of one label; give one --label")
        return fit_ensemble(table_data(table, na_value), table_data(tuning, na_value) if tuning else None, label[0],
                            out, presets, time_limit, parse_problem_types(problem_type), eval_metric, allowed_root,
                            parse_column_types(column_type), hyperparameters_from(config, set_), seed)
    predictor = MultimodalPredictor(label[0] if len(label) == 1 else label, problem_type=parse_problem_types(problem_type),
                                    eval_metric=eval_metric, allowed_root=allowed_root)
    checkpoints = Path(out) / CHECKPOINT_DIR  # created and marked as transmodal's by the fit
    try:
        predictor.fit(table_data(table, na_value), tuning_data=table_data(tuning, na_value) if tuning else None,
                      column_types=parse_column_types(column_type),
                      hyperparameters=hyperparameters_from(config, set_), time_limit=time_limit, seed=seed,
                      checkpoint_dir=checkpoints, resume=resume, checkpoint_every=checkpoint_every,
                      **transfer_options(init_from, unlabeled, source, source_label, teacher))
    except KeyboardInterrupt:  # Ctrl-C: one line, exit code 130
        resumable = (checkpoints / "last.safetensors").is_file()
        fail("interrupted" + (f"; the checkpoint in {checkpoints} keeps the training so far: run the same command "
                              "with --resume to continue" if resumable else ""), 130)
    if predictor.history_.get("global_rank", 0) != 0:
        return  # with several processes only the first one saves
    predictor.save(out)
    if is_checkpoint_folder(checkpoints):  # only transmodal's own checkpoints are removed
        import shutil

        shutil.rmtree(checkpoints)  # the saved model supersedes the checkpoints
    history = predictor.history_
    by = f" by tuning {history['select_metric']}" if history.get("epoch_selected") and "select_metric" in history else ""
    typer.echo(f"saved to {out} (best epoch {history['best_epoch'] + 1} of {len(history['epochs'])}{by}, "
               f"tuning {predictor.eval_metric_} score {history['best_score']:.4f}, "
               f"fit {history['fit_seconds']:.1f} s on {history.get('trainer', {}).get('device', 'cpu')})")


NA_VALUE_HELP = "A string that means 'missing' besides the empty cell (repeat; e.g. --na-value NA)."
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs a cell starting so as a formula


def table_data(table: Path, na_values: List[str]):
    """What the predictor reads for TABLE: the path (Parquet streams in row groups), or the table read
    with the ``--na-value`` strings as missing."""
    from transmodal.data.readers import read_table

    return read_table(table, na_values=na_values) if na_values else str(table)


def csv_safe(frame):
    """``frame`` with every text cell and column name that a spreadsheet would run as a formula
    prefixed by ``'`` (CSV injection); numbers stay numbers."""
    def escape(value):
        return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value

    frame = frame.rename(columns=escape)
    for column in frame.columns:
        if not frame[column].map(lambda v: isinstance(v, str)).any():
            continue
        frame[column] = frame[column].map(escape)
    return frame


def json_safe(value):
    """``value`` with NaN and infinities as None (JSON has no NaN)."""
    import math

    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@app.command()
def predict(
    model: Path = typer.Argument(..., help="Model folder."),
    table: Path = typer.Argument(..., help="Table to predict."),
    out: Path = typer.Option(..., "--out", "-o", help="Output CSV file (one row per table row, in order)."),
    proba: bool = typer.Option(False, "--proba", help="Write class probabilities too."),
    allowed_root: Optional[Path] = typer.Option(None, "--allowed-root", help="Refuse image/audio paths outside "
                                                "this folder (the model's saved root can only narrow it)."),
    id_columns: List[str] = typer.Option([], "--id", help="A column of TABLE copied to the output first (repeat; "
                                     "named COLUMN_input when a prediction has its name)."),
    na_value: List[str] = typer.Option([], "--na-value", help=NA_VALUE_HELP),
) -> None:
    """Predict the labels of TABLE with the model in MODEL."""
    import pandas as pd

    from transmodal.data.readers import read_table
    from transmodal.cli.models import load_model
    from transmodal.errors import DataError, did_you_mean

    predictor = load_model(model, allowed_root)  # a predictor or an ensemble
    data = table_data(table, na_value)
    ids = None
    if id_columns:
        source = read_table(data if not isinstance(data, str) else table, na_values=na_value).frame
        unknown = [c for c in id_columns if c not in source.columns]
        if unknown:
            named = ", ".join(f"{c!r}{did_you_mean(c, source.columns)}" for c in unknown)
            raise DataError(f"{table}: --id column(s) {named} not found; columns are {list(source.columns)}")
        ids = source[list(id_columns)].reset_index(drop=True)
    predictions = predictor.predict(data)
    frame = predictions.to_frame() if isinstance(predictions, pd.Series) else predictions
    if proba:
        probabilities = predictor.predict_proba(data)
        if isinstance(probabilities, pd.DataFrame):
            probabilities = {predictor.labels[0]: probabilities}
        for task, probs in probabilities.items():
            frame = frame.join(probs.rename(columns=lambda c: f"{task}_proba_{c}"))
    if ids is not None:
        ids = ids.rename(columns=lambda c: f"{c}_input" if c in frame.columns else c)  # e.g. --id label
        frame = pd.concat([ids, frame], axis=1)
    csv_safe(frame).to_csv(out, index=False)
    typer.echo(f"wrote {len(frame)} predictions to {out}")


@app.command()
def evaluate(
    model: Path = typer.Argument(..., help="Model folder."),
    table: Path = typer.Argument(..., help="Labelled table."),
    allowed_root: Optional[Path] = typer.Option(None, "--allowed-root", help="Refuse image/audio paths outside "
                                                "this folder (the model's saved root can only narrow it)."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON (undefined ones as null)."),
    na_value: List[str] = typer.Option([], "--na-value", help=NA_VALUE_HELP),
) -> None:
    """Evaluate the model in MODEL on the labelled TABLE."""
    from transmodal.cli.models import load_model

    metrics = load_model(model, allowed_root).evaluate(table_data(table, na_value))
    if as_json:
        typer.echo(json.dumps(json_safe(metrics), indent=2, allow_nan=False))
        return
    print_metrics(metrics)


def print_metrics(metrics: dict, prefix: str = "") -> None:
    """Print a (possibly nested) metrics dict as aligned lines."""
    for key, value in metrics.items():
        if isinstance(value, dict):
            typer.echo(f"{prefix}{key}:")
            print_metrics(value, prefix + "  ")
        else:
            typer.echo(f"{prefix}{key:<20} {value:.4f}")


@app.command()
def info(model: Path = typer.Argument(..., help="Model folder.")) -> None:
    """Describe a saved model: columns, encoders, fusion, tasks and training summary."""
    from transmodal.cli.models import is_ensemble_folder, print_info
    from transmodal.persistence import verify_folder

    if is_ensemble_folder(model):
        return print_info(model)
    config = verify_folder(model)
    typer.echo(f"model folder: {model}")
    typer.echo("inputs:")
    for spec in config["inputs"]:
        enc = config["encoders"][spec["name"]]
        frozen = " (frozen)" if enc.get("frozen") else ""
        typer.echo(f"  {spec['name']:<24} {spec['modality']:<9} encoder {enc['name']}{frozen}")
    typer.echo(f"fusion: {config['fit_config']['fusion']}")
    for task in config["tasks"]:
        classes = f", classes {task['classes'][:10]}" if task["classes"] else ""
        typer.echo(f"task: {task['name']} ({task['problem_type']}{classes})")
    history = config.get("history") or {}
    if history:
        typer.echo(f"trained {len(history.get('epochs', []))} epoch(s) in {history.get('fit_seconds', 0):.1f} s"
                   f"{' on ' + history['trainer']['device'] if 'device' in history.get('trainer', {}) else ''}; "
                   f"best epoch {history.get('best_epoch', -1) + 1}, {config['eval_metric']} score "
                   f"{history.get('best_score', 0):.4f}")
