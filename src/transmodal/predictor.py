"""``MultimodalPredictor``: a scikit-learn-style facade over reading, building, training and saving."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from transmodal.config import FitConfig
from transmodal.data.readers import Table, given_index, read_table
from transmodal.data.validation import bad_row_indices, check_columns, read_features
from transmodal.errors import BadRow, ConfigError, DataError, NotFittedError, spelled
from transmodal.heads.task import TaskSpec, labelled_rows
from transmodal.saved.spec import FittedAttributes

log = logging.getLogger(__name__)
FORMAT_VERSION = 2  # 2: the model spec (architecture, adapters, base) beside the user's config


class MultimodalPredictor(FittedAttributes):
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
            seed: int = 0, tune: dict[str, Any] | None = None, **fit_options: Any) -> "MultimodalPredictor":
        """Train on ``train_data`` (a DataFrame or a CSV/Parquet/JSON-lines path).

        Args:
            tuning_data: Data for early stopping; a stratified holdout of ``train_data`` when None.
            column_types: ``{column: modality}`` overrides of the inferred modalities.
            hyperparameters: A :class:`~transmodal.config.FitConfig` as a dict.
            time_limit: Seconds of training at most (the up-front encoding of frozen inputs included).
            seed: Seed of every random choice (results are reproducible on CPU); also seeds the
                search's sampler.
            tune: Search hyperparameters with Optuna (:class:`~transmodal.tuning.settings.TuneSettings`
                as a dict: ``n_trials``, ``timeout``, ``search_space``, ``storage``, ``study_name``,
                ``n_jobs``, ``pruner``, ``cv_folds``, ``final_fit``): every trial is a fit of
                ``hyperparameters`` changed by the trial's values (one fit per fold with ``cv_folds``
                >= 2), the best trial's model is the one kept (with folds, its configuration fitted
                once more: ``final_fit`` ``all_rows``, the default here, or ``holdout``; the fold
                models' average, ``fold_models``, is an ensemble: :meth:`fit_fold_models`), and
                ``time_limit`` applies to each fit. None: one fit.
            **fit_options: Options of extensions (e.g. transfer sources; ``report=False`` skips the
                run report's evaluation passes over the tuning rows); unknown ones raise.

        Returns:
            self.

        Raises:
            DataError: bad cells or labels (all of them are listed).
            ConfigError: a bad setting, or ``tune.final_fit="fold_models"`` with ``cv_folds`` >= 2
                (k networks; this predictor holds one).
        """
        settings = None
        if tune is not None:
            from transmodal.tuning.settings import TuneSettings

            settings = TuneSettings.from_dict(tune).with_final_fit("all_rows")
            if settings.cv_folds > 1 and settings.final_fit == "fold_models":
                raise ConfigError("tune.final_fit='fold_models' keeps the chosen configuration's "
                                  f"{settings.cv_folds} fold networks, and a MultimodalPredictor holds one: use "
                                  "transmodal.AutoPredictor(label).tune(...) (or transmodal tune), which averages "
                                  "them, or tune.final_fit='all_rows'")
        (result,) = self._fit_results(train_data, tuning_data, column_types, hyperparameters, time_limit, seed,
                                      settings, fit_options)
        self._take(result)
        return self

    def fit_fold_models(self, train_data, tuning_data=None, column_types: dict[str, str] | None = None,
                        hyperparameters: dict[str, Any] | None = None, time_limit: float | None = None,
                        seed: int = 0, tune: dict[str, Any] | None = None,
                        **fit_options: Any) -> list["MultimodalPredictor"]:
        """A search whose chosen configuration is kept as its k fold models (``tune.final_fit=
        "fold_models"``, ``tune.cv_folds`` >= 2; 3 when not given): one fitted predictor per fold,
        each trained on its fold's training rows with its epoch chosen on that fold's tuning rows.

        Their average is one model, an ensemble: ``AutoPredictor(label).tune(...)`` calls this and
        holds them (saved, served and predicted as one). Arguments as :meth:`fit`; this predictor
        stays unfitted (its parameters are the fold predictors').

        Returns:
            The fold predictors, in fold order; each one's ``history_["tuning"]`` is the study's summary.

        Raises:
            ConfigError: ``cv_folds`` < 2 or another ``final_fit`` given.
        """
        from transmodal.tuning.settings import TuneSettings

        settings = TuneSettings.from_dict({"cv_folds": 3, **(tune or {})}).with_final_fit("fold_models")
        if settings.cv_folds < 2 or settings.final_fit != "fold_models":
            raise ConfigError(f"fold models need tune.cv_folds >= 2 and tune.final_fit='fold_models'; got cv_folds="
                              f"{settings.cv_folds}, final_fit={settings.final_fit!r}")
        results = self._fit_results(train_data, tuning_data, column_types, hyperparameters, time_limit, seed,
                                    settings, fit_options)
        folds = []
        for i, result in enumerate(results):
            result.history["tuning"] = {**result.history["tuning"], "fold": i}
            folds.append(type(self)(**self.get_params())._take(result, self.config_, self.fit_log_))
        return folds

    def _fit_results(self, train_data, tuning_data, column_types, hyperparameters, time_limit, seed, settings,
                     fit_options: dict[str, Any]) -> list:
        """The fit's results: one plain fit (``settings`` None), or the search's model fits; sets
        ``config_`` (the model's config) and ``fit_log_``."""
        from transmodal.engine.run_log import captured_log
        from transmodal.fitting.precheck import check_before_fit
        from transmodal.fitting.state import FitRequest

        train, tuning = read_table(train_data), None if tuning_data is None else read_table(tuning_data)
        if "zero_shot" in getattr(self, "history_", {}) and "init_from" not in fit_options:
            from transmodal.alignment.zero_shot_head import few_shot_tables

            # a zero-shot predictor: few-shot training starts from its head, on its column only
            fit_options["init_from"] = self
            train, tuning = few_shot_tables(self, train, tuning)
        self.config_ = FitConfig.from_dict(hyperparameters)
        if time_limit is not None and not (isinstance(time_limit, (int, float)) and 0 < time_limit < float("inf")):
            raise ConfigError(f"{spelled('time_limit=', '--time-limit ')}{time_limit!r} is out of range; valid: "
                              "seconds > 0, or none for no limit")
        request = FitRequest(tuple(self.labels), self.problem_type, self.eval_metric, self.allowed_root, self.config_,
                             column_types, time_limit, seed, dict(fit_options))
        with captured_log() as lines:  # status lines of every transmodal logger: the model folder's fit.log
            check_before_fit(request, train, tuning)  # labels, columns, files: reported before torch loads
            log.info("the tables are usable; loading the training engine (torch, Lightning)")

            from transmodal.fitting.pipeline import run_fit

            if settings is None:
                results = [run_fit(request, train, tuning)]
            else:
                from transmodal.tuning.study import run_study

                outcome = run_study(request, train, tuning, settings)
                results, self.config_ = outcome.results, outcome.config
                for result in results:
                    result.history["tuning"] = outcome.summary
                    if result.report is not None:
                        result.report["tuning"] = {**outcome.summary, "trials": outcome.trials}
        self.fit_log_ = lines
        return results

    def _take(self, result, config: FitConfig | None = None, fit_log: list[str] | None = None) -> "MultimodalPredictor":
        """Become the fitted model of ``result`` (a fit's :class:`~transmodal.fitting.pipeline.FitResult`)."""
        if config is not None:
            self.config_ = config
        if fit_log is not None:
            self.fit_log_ = fit_log
        self.spec_, self.net_, self.history_ = result.spec, result.net, result.history
        self.bad_rows_, self.report_ = result.bad_rows, result.report
        self.tuning_scores_ = result.tuning_scores  # the kept epoch's scores of the tuning rows (not saved)
        if self.spec_.adapters:
            from transmodal.encoders.adapters import merge_for_inference, quantized_after_merge

            if quantized_after_merge(self.spec_.adapters):  # predict as the saved and loaded model will
                merge_for_inference(self.net_, self.spec_.adapters)
        return self

    @classmethod
    def from_zero_shot(cls, aligned, column: str, classes: Sequence[str], templates: Sequence[str] | None = None,
                       label: str = "label", class_column: str | None = None,
                       descriptions: dict[str, Sequence[str]] | None = None) -> "MultimodalPredictor":
        """A predictor of ``label`` that needs no labelled rows: the head is the class names' text
        embeddings from an aligned model (pretrained CLIP/SigLIP/CLAP or trained), scaled as the
        model scales them (:mod:`transmodal.alignment.zero_shot_head`).

        ``predict``, ``predict_proba``, ``evaluate``, ``save`` and ``load`` work as for any predictor;
        ``fit`` on a few labelled rows starts from this head (the encoder stays as its settings say:
        frozen for a pretrained tower) unless ``init_from`` is given.

        Args:
            aligned: An :class:`~transmodal.alignment.model.AlignmentModel`.
            column: The aligned column to classify (image, audio or text).
            classes: The class names; output columns are in sorted order.
            templates: Prompts with ``{}`` for the class name; several are averaged.
            label: The label column's name (for ``evaluate`` and ``fit``).
            class_column: The aligned column whose tower embeds the prompts (default: the other one).
            descriptions: ``{class: [text, ...]}`` describing classes in place of their names
                (each text goes through every template; all are averaged).
        """
        from transmodal.alignment.zero_shot_head import zero_shot_network

        predictor = cls(label=label, allowed_root=aligned.allowed_root)
        predictor.spec_, predictor.config_, predictor.net_, predictor.history_ = zero_shot_network(
            aligned, column, classes, templates, label, class_column, descriptions)
        predictor.bad_rows_, predictor.report_ = [], None
        return predictor

    def encode_targets(self, table: Table, tasks: list[TaskSpec]) -> tuple[dict[str, np.ndarray], list[BadRow]]:
        """Targets per task and bad rows (missing labels; with several tasks only rows lacking all)."""
        from transmodal.fitting.tables import encode_targets

        return encode_targets(table, tasks)

    # ---- prediction --------------------------------------------------------------------------
    def dataset(self, data, with_targets: bool = False):
        """A validated :class:`TableDataset` for ``data`` (raises DataError on bad cells)."""
        from transmodal.data.dataset import TableDataset

        self._check_fitted()
        table, bad = read_features(data, self.column_types_, self._root())
        targets = None
        if with_targets:
            check_columns(table, self.labels, "evaluation compares the predictions with them")
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
        """Class probabilities: a DataFrame with one column per class (a dict of them per task), with
        the index of a DataFrame given (0..n-1 for a path)."""
        scores = self._scores(data)["scores"]
        index = given_index(data)
        frames = {t.name: pd.DataFrame(scores[t.name], columns=t.classes, index=index) for t in self.tasks_
                  if t.problem_type != "regression"}
        if not frames:
            raise ConfigError("predict_proba needs a classification task; use predict for regression")
        return frames[self.labels[0]] if isinstance(self.label, str) else frames

    def predict(self, data, keep_columns: Sequence[str] | None = None) -> pd.Series | pd.DataFrame:
        """Predicted labels (a Series; a DataFrame with one column per task for several labels), with
        the index of a DataFrame given (0..n-1 for a path): ``df["pred"] = predictor.predict(df)``
        aligns row by row.

        Args:
            keep_columns: Columns of ``data`` to pass through in front of the predictions (ids to
                join on); the result is then a DataFrame. A kept column named like a label becomes
                ``<name>_input``.

        Raises:
            DataError: a kept column is not in ``data`` (the closest one is named).
        """
        scores = self._scores(data)["scores"]
        frame = pd.DataFrame({task.name: task.decode(scores[task.name]) for task in self.tasks_},
                             index=given_index(data))
        result = frame[self.labels[0]] if isinstance(self.label, str) else frame
        return _with_kept_columns(data, result, keep_columns) if keep_columns else result

    @property
    def classes_(self) -> np.ndarray | dict[str, np.ndarray | None] | None:
        """The classes of the label in the order of :meth:`predict_proba`'s columns (None for a
        regression label); a dict per label for several labels."""
        classes = {t.name: np.asarray(t.classes) if t.problem_type != "regression" else None for t in self.tasks_}
        return classes[self.labels[0]] if isinstance(self.label, str) else classes

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
        """The fused embedding of each row, (N, hidden_dim), in the order of the rows given (a numpy
        array has no index: ``pd.DataFrame(predictor.embed(df), index=df.index)`` keeps it)."""
        return self._scores(data)["embedding"]

    # ---- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the model folder (safetensors + JSON + manifest); returns its path.

        The folder is written beside ``path`` and renamed into place under a lock, so a reader sees
        the old model or the new one. The manifest also records the digests of frozen pretrained
        weights read from a local path; with ``TRANSMODAL_SIGNING_KEY`` set it is signed.

        Raises:
            ConfigError: ``path`` holds files transmodal did not write (it is new, empty or a model
                folder otherwise), or another process keeps writing it.
        """
        from transmodal.persistence import save_folder
        from transmodal.report.files import write_run_files
        from transmodal.saved.loader import reference_weights

        self._check_fitted()
        external = reference_weights(self.net_, [s.name for s in self.inputs_])
        # report.html, report.json, bad_rows.csv (skipped rows) are written before the folder is in place
        return save_folder(path, self.saved_config(), self.saved_state(),
                           extra=lambda staging: write_run_files(self, staging), external=external)

    def saved_config(self) -> dict[str, Any]:
        """Everything but the weights, as JSON-serialisable data: the model spec, the user's fit
        configuration and the history."""
        return {
            "version": FORMAT_VERSION, "params": {k: v if not isinstance(v, Path) else str(v)
                                                  for k, v in self.get_params().items()},
            **self.spec_.to_dict(), "fit_config": self.config_.to_dict(), "history": getattr(self, "history_", {}),
        }

    def saved_state(self) -> dict[str, Any]:
        """Network weights, minus what rebuilds from a reference (frozen pretrained encoders, the
        frozen base weights of adapted encoders)."""
        from transmodal.saved.loader import saved_state

        return saved_state(self.net_, self.spec_)

    @classmethod
    def load(cls, path: str | Path, trust_remote_code: bool = False,
             allowed_root: str | Path | None = None) -> "MultimodalPredictor":
        """Load a model folder saved by :meth:`save`; verifies the manifest first and rebuilds the
        network from the saved model spec (adapters included); runs no fit stage.

        Args:
            allowed_root: Refuse image/audio paths outside this folder. The folder's own saved
                ``allowed_root`` applies only where it is narrower (inside this one); it never widens it.

        Raises:
            ModelLoadError: the folder is incomplete, tampered with, holds a pickle, or asks for
                remote code while ``trust_remote_code`` is False.
        """
        from transmodal.saved.loader import load_fitted

        return cls.from_fitted(load_fitted(path, trust_remote_code, allowed_root))

    @classmethod
    def from_fitted(cls, fitted) -> "MultimodalPredictor":
        """A predictor from a :class:`~transmodal.saved.loader.FittedModel` (a model folder's or an
        ensemble member's saved parts), its adapters merged for prediction (saving still writes them
        apart)."""
        predictor = cls(**fitted.params)
        predictor.spec_, predictor.config_, predictor.net_ = fitted.spec_, fitted.config_, fitted.net_
        predictor.history_ = fitted.history_
        if predictor.spec_.adapters:
            from transmodal.encoders.adapters import merge_for_inference

            merge_for_inference(predictor.net_, predictor.spec_.adapters)  # predicts at the base model's cost
        return predictor

    def __repr__(self) -> str:
        return f"MultimodalPredictor(label={self.label!r}, problem_type={self.problem_type!r})"


def _with_kept_columns(data, predictions: pd.Series | pd.DataFrame, keep: Sequence[str]) -> pd.DataFrame:
    """``data``'s ``keep`` columns, then the predictions, row by row (same index)."""
    table = read_table(data)
    check_columns(table, list(keep), f"{spelled('keep_columns', '--id')} names them")
    kept = table.frame[list(keep)].set_axis(predictions.index, axis="index")
    predictions = predictions.to_frame() if isinstance(predictions, pd.Series) else predictions
    kept = kept.rename(columns=lambda c: f"{c}_input" if c in predictions.columns else c)  # e.g. the label
    return pd.concat([kept, predictions], axis=1)


def _summary(results: dict[str, dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over the tasks that report it."""
    keys = sorted({k for r in results.values() for k in r})
    return {k: float(np.nanmean([r[k] for r in results.values() if k in r])) for k in keys}
