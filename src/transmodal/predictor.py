"""``MultimodalPredictor``: a scikit-learn-style facade over reading, building, training and saving."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from transmodal.config import FitConfig
from transmodal.data.readers import Table, read_table
from transmodal.data.schema import InputSpec, build_inputs, infer_column_types
from transmodal.data.validation import bad_row_indices, validate_features
from transmodal.errors import BadRow, ConfigError, DataError, ModelLoadError, NotFittedError
from transmodal.heads.task import TaskSpec, labelled_rows

FORMAT_VERSION = 1


class MultimodalPredictor:
    """Learns one or several label columns from a table of images, audio, text and numbers.

    Args:
        label: The label column, or a list of label columns (one head per task).
        problem_type: ``binary``, ``multiclass``, ``regression`` or ``multilabel``; a dict per label
            for several labels; inferred when None.
        eval_metric: Metric for early stopping and model selection (default: accuracy for
            classification, rmse for regression).
        allowed_root: When set, image/audio paths outside this folder are refused.

    Example:
        >>> predictor = MultimodalPredictor(label="digit").fit("train.csv")
        >>> predictor.evaluate("test.csv")["accuracy"]
    """

    def __init__(self, label: str | Sequence[str], problem_type: str | dict[str, str] | None = None,
                 eval_metric: str | None = None, allowed_root: str | Path | None = None) -> None:
        self.label = label
        self.problem_type = problem_type
        self.eval_metric = eval_metric
        self.allowed_root = allowed_root

    # ---- scikit-learn conventions ------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"label": self.label, "problem_type": self.problem_type,
                "eval_metric": self.eval_metric, "allowed_root": self.allowed_root}

    def set_params(self, **params: Any) -> "MultimodalPredictor":
        for key, value in params.items():
            if key not in self.get_params():
                raise ConfigError(f"unknown parameter {key!r}")
            setattr(self, key, value)
        return self

    @property
    def labels(self) -> list[str]:
        """The label columns as a list."""
        return [self.label] if isinstance(self.label, str) else list(self.label)

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError("this MultimodalPredictor is not fitted yet; call fit() or load()")

    def _root(self) -> Path | None:
        return Path(self.allowed_root) if self.allowed_root is not None else None

    # ---- fitting -----------------------------------------------------------------------------
    def fit(self, train_data, tuning_data=None, column_types: dict[str, str] | None = None,
            hyperparameters: dict[str, Any] | None = None, time_limit: float | None = None,
            seed: int = 0, **fit_options: Any) -> "MultimodalPredictor":
        """Train on ``train_data`` (a DataFrame or a CSV/Parquet/JSON-lines path).

        Args:
            tuning_data: Data for early stopping; a stratified holdout of ``train_data`` when None.
            column_types: ``{column: modality}`` overrides of the inferred modalities.
            hyperparameters: A :class:`~transmodal.config.FitConfig` as a dict.
            time_limit: Seconds of training at most.
            seed: Seed of every random choice (results are reproducible on CPU).
            **fit_options: Options of extensions (e.g. transfer sources); unknown ones raise.

        Returns:
            self.

        Raises:
            DataError: bad cells or labels (all of them are listed).
        """
        from transmodal.fitting import run_fit

        self.config_ = FitConfig.from_dict(hyperparameters)
        run_fit(self, read_table(train_data), None if tuning_data is None else read_table(tuning_data),
                column_types, time_limit, seed, fit_options)
        return self

    def prepare_tasks(self, table: Table) -> list[TaskSpec]:
        """Task specs from the training labels (problem types inferred unless given)."""
        missing = [c for c in self.labels if c not in table.frame.columns]
        if missing:
            raise DataError(f"{table.source}: label column(s) {missing} not found; "
                            f"columns are {list(table.frame.columns)}")
        types = self.problem_type if isinstance(self.problem_type, dict) else \
            {label: self.problem_type for label in self.labels}
        return [TaskSpec.from_series(c, table.frame[c], types.get(c)) for c in self.labels]

    def encode_targets(self, table: Table, tasks: list[TaskSpec]) -> tuple[dict[str, np.ndarray], list[BadRow]]:
        """Targets per task and bad rows (missing labels; with several tasks only rows lacking all)."""
        targets, bad = {}, []
        several = len(tasks) > 1
        for task in tasks:
            targets[task.name], task_bad = task.encode(table.frame[task.name], table.source, allow_missing=several)
            bad += task_bad
        if several:
            lacking = np.ones(len(table.frame), dtype=bool)
            for task in tasks:
                lacking &= table.frame[task.name].isna().to_numpy()
            bad += [BadRow(table.source, int(i), ",".join(self.labels), "every label is missing")
                    for i in np.flatnonzero(lacking)]
        return targets, bad

    # ---- prediction --------------------------------------------------------------------------
    def dataset(self, data, with_targets: bool = False):
        """A validated :class:`TableDataset` for ``data`` (raises DataError on bad cells)."""
        from transmodal.data.dataset import TableDataset

        self._check_fitted()
        table = read_table(data)
        bad = validate_features(table, self.column_types_, self._root())
        targets = None
        if with_targets:
            if any(c not in table.frame.columns for c in self.labels):
                raise DataError(f"{table.source}: evaluation needs the label column(s) {self.labels}")
            targets, label_bad = self.encode_targets(table, self.tasks_)
            bad += label_bad
        if bad:
            raise DataError(f"{table.source}: {len(bad_row_indices(bad))} row(s) cannot be used", bad)
        return TableDataset(table, self.inputs_, targets, self._root())

    def _scores(self, data, transform=None) -> dict[str, Any]:
        from transmodal.data.streaming import stream_outputs
        from transmodal.engine.inference import run_inference

        self._check_fitted()
        # Parquet streams in row groups: memory stays bounded however long the table is
        return stream_outputs(data, lambda chunk: run_inference(self.net_, self.dataset(chunk), self.config_,
                                                                transform=transform))

    def predict_proba(self, data, as_multiclass: bool = True):
        """Class probabilities: a DataFrame with one column per class (a dict of them per task)."""
        scores = self._scores(data)["scores"]
        frames = {t.name: pd.DataFrame(scores[t.name], columns=t.classes) for t in self.tasks_
                  if t.problem_type != "regression"}
        if not frames:
            raise ConfigError("predict_proba needs a classification task; use predict for regression")
        return frames[self.labels[0]] if isinstance(self.label, str) else frames

    def predict(self, data) -> pd.Series | pd.DataFrame:
        """Predicted labels (a Series; a DataFrame with one column per task for several labels)."""
        from transmodal.heads.task import MULTILABEL_SEPARATOR

        scores = self._scores(data)["scores"]
        columns = {}
        for task in self.tasks_:
            s = scores[task.name]
            if task.problem_type == "regression":
                columns[task.name] = s
            elif task.problem_type == "multilabel":
                columns[task.name] = [MULTILABEL_SEPARATOR.join(np.asarray(task.classes)[row >= 0.5]) for row in s]
            else:
                columns[task.name] = np.asarray(task.classes, dtype=object)[s.argmax(axis=1)]
        frame = pd.DataFrame(columns)
        return frame[self.labels[0]] if isinstance(self.label, str) else frame

    def evaluate(self, data, metrics: Sequence[str] | None = None) -> dict[str, Any]:
        """Metrics on labelled ``data``: a flat dict for one label; ``{task: {...}, "summary": {...}}``
        for several."""
        from transmodal.engine.inference import run_inference
        from transmodal.metrics.base import compute_metrics

        dataset = self.dataset(data, with_targets=True)
        scores = run_inference(self.net_, dataset, self.config_)["scores"]
        results = {}
        for task in self.tasks_:
            y_true, y_score = dataset.targets[task.name], scores[task.name]
            keep = labelled_rows(y_true, task)
            if task.problem_type == "regression":
                y_true = y_true * task.target_std + task.target_mean
            results[task.name] = compute_metrics(y_true[keep], y_score[keep], task, metrics)
        if isinstance(self.label, str):
            return results[self.label]
        return {**results, "summary": _summary(results)}

    def embed(self, data) -> np.ndarray:
        """The fused embedding of each row, (N, hidden_dim)."""
        return self._scores(data)["embedding"]

    # ---- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the model folder (safetensors + JSON + manifest); returns its path."""
        from transmodal.persistence import save_folder

        from transmodal.report.files import write_run_files

        self._check_fitted()
        folder = save_folder(path, self.saved_config(), self.saved_state())
        write_run_files(self, folder)  # report.html, report.json, bad_rows.csv (skipped rows)
        return folder

    def saved_config(self) -> dict[str, Any]:
        """Everything but the weights, as JSON-serialisable data."""
        return {
            "version": FORMAT_VERSION, "params": {k: v if not isinstance(v, Path) else str(v)
                                                  for k, v in self.get_params().items()},
            "column_types": self.column_types_, "inputs": [s.to_dict() for s in self.inputs_],
            "tasks": [t.to_dict() for t in self.tasks_], "encoders": self.encoder_settings_,
            "fit_config": self.config_.to_dict(), "eval_metric": self.eval_metric_,
            "history": getattr(self, "history_", {}),
        }

    def saved_state(self) -> dict[str, Any]:
        """Network weights, minus frozen encoders that rebuild from a pretrained reference."""
        skip = {n for n in self.net_.input_names
                if self.net_.encoder(n).frozen and self.net_.encoder(n).weights_from_reference}
        from transmodal.fusion.base import module_key

        prefixes = tuple(f"encoders.{module_key(n)}." for n in skip)
        base = getattr(self.net_, "base_weight_keys", set())  # frozen weights rebuilt from a base model
        return {k: v for k, v in self.net_.state_dict().items() if not k.startswith(prefixes) and k not in base}

    @classmethod
    def load(cls, path: str | Path, trust_remote_code: bool = False) -> "MultimodalPredictor":
        """Load a model folder saved by :meth:`save`; verifies the manifest first.

        Raises:
            ModelLoadError: the folder is incomplete, tampered with, holds a pickle, or asks for
                remote code while ``trust_remote_code`` is False.
        """
        from transmodal.build import build_net
        from transmodal.persistence import load_weights, verify_folder

        config = verify_folder(path)
        for name, settings in config["encoders"].items():
            if settings.get("trust_remote_code") and not trust_remote_code:
                raise ModelLoadError(f"{path}: encoder {name!r} asks for trust_remote_code, which runs code "
                                     "from its checkpoint; pass trust_remote_code=True only if you trust it")
        predictor = cls(**config["params"])
        predictor.column_types_ = config["column_types"]
        predictor.inputs_ = [InputSpec(**s) for s in config["inputs"]]
        predictor.tasks_ = [TaskSpec(**t) for t in config["tasks"]]
        predictor.encoder_settings_ = config["encoders"]
        predictor.config_ = FitConfig.from_dict(config["fit_config"])
        predictor.eval_metric_ = config["eval_metric"]
        predictor.history_ = config.get("history", {})
        predictor.net_ = build_net(predictor.inputs_, predictor.encoder_settings_, predictor.tasks_, predictor.config_)
        from transmodal.fitting import run_load_hooks

        run_load_hooks(predictor)
        weights = load_weights(path)
        expected = predictor.saved_state()
        if set(weights) != set(expected):
            raise ModelLoadError(f"{path}: the weights do not match the configuration "
                                 f"(missing {sorted(set(expected) - set(weights))[:5]}, "
                                 f"unexpected {sorted(set(weights) - set(expected))[:5]})")
        predictor.net_.load_state_dict(weights, strict=False)
        predictor.net_.eval()
        return predictor

    def __repr__(self) -> str:
        return f"MultimodalPredictor(label={self.label!r}, problem_type={self.problem_type!r})"


def _summary(results: dict[str, dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over the tasks that report it."""
    keys = sorted({k for r in results.values() for k in r})
    return {k: float(np.nanmean([r[k] for r in results.values() if k in r])) for k in keys}
