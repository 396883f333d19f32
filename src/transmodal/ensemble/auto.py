"""``AutoPredictor``: the best model for one label of a table within a time budget.

It fits the members a preset lists (classical models on n-gram features, LightGBM, the fusion
network with frozen or LoRA-tuned encoders) and weights them by greedy forward selection on their
tuning-row predictions (:mod:`transmodal.ensemble.training`). It sits above
:class:`~transmodal.predictor.MultimodalPredictor` (its neural members are predictors), as the
experiments do; the predictor never imports it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from transmodal.data.readers import given_index
from transmodal.errors import ConfigError, DataError, NotFittedError, spelled

_log = logging.getLogger(__name__)
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


class AutoPredictor:
    """Learns one label column from a table with an ensemble of models chosen by a preset.

    Args:
        label: The label column (one; fit one AutoPredictor per label for several).
        problem_type: ``binary``, ``multiclass`` or ``regression``; inferred when None.
        eval_metric: Metric the members are selected and weighted on (default: ``roc_auc`` for
            binary, ``log_loss`` for multiclass, ``rmse`` for regression).
        allowed_root: When set, image/audio paths outside this folder are refused.

    Example:
        >>> auto = AutoPredictor(label="Recommended IND").fit("train.csv", presets="best", time_limit=600)
        >>> auto.leaderboard("test.csv")
    """

    def __init__(self, label: str, problem_type: str | None = None, eval_metric: str | None = None,
                 allowed_root: str | Path | None = None) -> None:
        self.label = label
        self.problem_type = problem_type
        self.eval_metric = eval_metric
        self.allowed_root = allowed_root

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"label": self.label, "problem_type": self.problem_type, "eval_metric": self.eval_metric,
                "allowed_root": None if self.allowed_root is None else str(self.allowed_root)}

    @property
    def labels(self) -> list[str]:
        """The label column as a list (the interface of a predictor)."""
        return [self.label]

    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            raise NotFittedError("this AutoPredictor is not fitted yet; call fit() or load()")

    def _root(self) -> Path | None:
        return Path(self.allowed_root) if self.allowed_root is not None else None

    # ---- fitting -----------------------------------------------------------------------------
    def fit(self, train_data, tuning_data=None, presets: str = "medium", time_limit: float | None = None,
            column_types: dict[str, str] | None = None, hyperparameters: dict[str, Any] | None = None,
            seed: int = 0, log=None) -> "AutoPredictor":
        """Fit the preset's members within ``time_limit`` seconds and select the ensemble.

        Args:
            tuning_data: Rows the ensemble weights are fitted on (default: out-of-fold predictions
                on a small table, a holdout of the preset's fraction on a larger one).
            presets: ``fast``, ``medium`` or ``best`` (``transmodal/presets/*.yaml``).
            time_limit: Seconds for the whole fit (default: the preset's); members are skipped or
                stopped to keep it, and the members fitted so far form the ensemble.
            column_types: ``{column: modality}`` overrides of the inferred modalities.
            hyperparameters: ``{member name: {option: value}}`` overrides of the preset's members;
                ``on_bad_rows``: ``"raise"`` (default) or ``"skip"`` rows with bad cells or labels.
            log: A function called with one line per member, beside the ``transmodal.ensemble.auto``
                logger's line (default: the logger's only).

        Returns:
            self (``fit_log_``: the fit's status lines, the saved folder's ``fit.log``).
        """
        from transmodal.engine.run_log import captured_log

        with captured_log() as lines:
            self._fit(train_data, tuning_data, presets, time_limit, column_types, hyperparameters, seed, log)
        self.fit_log_ = lines
        return self

    def _fit(self, train_data, tuning_data, presets: str, time_limit: float | None,
             column_types: dict[str, str] | None, hyperparameters: dict[str, Any] | None, seed: int, log) -> None:
        from transmodal.ensemble.members.base import MemberContext
        from transmodal.ensemble.members.shared import FitMemo
        from transmodal.ensemble.presets import load_preset
        from transmodal.ensemble.training import fit_members, make_splits
        from transmodal.metrics.base import METRICS

        start = time.monotonic()
        if not isinstance(self.label, str):
            raise ConfigError("an ensemble (presets) learns one label; fit one AutoPredictor per label")
        hyperparameters = dict(hyperparameters or {})
        on_bad_rows = hyperparameters.pop("on_bad_rows", "raise")  # as a predictor's fit reads it
        if on_bad_rows not in ("raise", "skip"):
            raise ConfigError(f"on_bad_rows must be 'raise' or 'skip', got {on_bad_rows!r}")
        preset = load_preset(presets).with_overrides(hyperparameters)
        if time_limit is not None and not (isinstance(time_limit, (int, float)) and 0 < time_limit < float("inf")):
            raise ConfigError(f"{spelled('time_limit=', '--time-limit ')}{time_limit!r} is out of range; valid: "
                              "seconds > 0, or none for the preset's")
        limit = float(time_limit if time_limit is not None else preset.time_limit)
        frame, y, tuning_rows = self._training_rows(train_data, tuning_data, column_types, on_bad_rows == "skip")
        metric = METRICS.get(self.eval_metric_)
        memo = FitMemo()  # feature state the members share during this fit (the TF-IDF), closed after it
        context = MemberContext(self.label, self.task_, dict(self.column_types_), self.eval_metric_, seed,
                                None if self.allowed_root is None else str(self.allowed_root), memo)
        splits, selection = make_splits(y, self.task_.problem_type, preset, seed, tuning_rows)
        y_selection = self._metric_targets(y[selection])
        raw = lambda p, rows: metric(y_selection[rows], self._metric_scores(p[rows]), self.task_)  # noqa: E731
        try:
            results = fit_members(preset, context, frame, y, splits, selection, limit - (time.monotonic() - start),
                                  raw, _member_lines(log))
        finally:
            memo.close()
        self.blend_ = preset.blend
        self._select(results, raw, metric.score, preset, y_selection)
        self.selection_targets_ = y_selection  # with selection_predictions_: in memory only, never saved
        self.preset_, self.time_limit_ = preset.name, limit
        self.fit_seconds_ = time.monotonic() - start
        self.bagged_ = len(splits) > 1

    def tune(self, train_data, tuning_data=None, tune: dict[str, Any] | None = None,
             hyperparameters: dict[str, Any] | None = None, column_types: dict[str, str] | None = None,
             time_limit: float | None = None, seed: int = 0, **fit_options: Any) -> "AutoPredictor":
        """Search hyperparameters of the fusion network with trials scored on folds, and keep the
        chosen configuration's fold models as this ensemble: their predictions averaged
        (``tune.final_fit="fold_models"``; :mod:`transmodal.ensemble.tuned`).

        Args:
            tune: :class:`~transmodal.tuning.settings.TuneSettings` as a dict (``cv_folds`` 3 when
                not given, at least 2; ``final_fit`` must be ``fold_models`` if given).
            hyperparameters: The base :class:`~transmodal.config.FitConfig` (as a dict) trials change.
            Other arguments: as :meth:`MultimodalPredictor.fit <transmodal.predictor.MultimodalPredictor.fit>`
            (``time_limit`` applies to each fit).

        Returns:
            self: one ``neural`` member (the k fold predictors) with weight 1; ``tuning_`` is the
            study's summary, ``trials_`` its trials (``trials.csv`` in the saved folder).
        """
        from transmodal.ensemble.tuned import tune_fold_models

        return tune_fold_models(self, train_data, tuning_data, tune, hyperparameters, column_types, time_limit,
                                seed, **fit_options)

    def _training_rows(self, train_data, tuning_data, column_types, skip_bad: bool) -> tuple[pd.DataFrame, np.ndarray, Any]:
        """The validated training (+ tuning) rows, the encoded label, the tuning rows' positions;
        sets ``task_``, ``column_types_``, ``eval_metric_`` and ``bad_rows_``."""
        from transmodal.data.readers import read_table
        from transmodal.data.schema import infer_column_types
        from transmodal.data.validation import bad_row_indices, validate_features
        from transmodal.fitting.tables import prepare_tasks

        train = read_table(train_data)
        (self.task_,) = prepare_tasks(train, [self.label], self.problem_type)
        if self.task_.problem_type == "multilabel":
            raise ConfigError("an ensemble (presets) learns binary, multiclass or regression labels; "
                              "use MultimodalPredictor for a multilabel column")
        self.column_types_ = infer_column_types(train.frame, [self.label], column_types)
        self.eval_metric_ = self.eval_metric or DEFAULT_METRIC[self.task_.problem_type]
        frames, ys, self.bad_rows_ = [], [], []
        for data in [train] + ([read_table(tuning_data)] if tuning_data is not None else []):
            bad = validate_features(data, self.column_types_, self._root())
            targets, label_bad = self.task_.encode(data.frame[self.label], data.source, allow_missing=False) \
                if self.label in data.frame.columns else (None, [])
            if targets is None:
                raise DataError(f"{data.source}: the label column {self.label!r} is missing")
            drop = bad_row_indices(bad + label_bad)
            if drop and not skip_bad:
                from transmodal.errors import setting_hint

                raise DataError(f"{data.source}: {len(drop)} row(s) cannot be used (or pass "
                                f"{setting_hint('on_bad_rows', 'skip')} to train on the good rows)", bad + label_bad)
            self.bad_rows_ += bad + label_bad
            keep = np.setdiff1d(np.arange(len(data.frame)), sorted(drop))
            frames.append(data.frame.iloc[keep].reset_index(drop=True))
            ys.append(targets[keep])
        if len(frames[0]) < 4:
            raise DataError(f"{train.source}: {len(frames[0])} usable row(s); an ensemble needs at least 4")
        tuning_rows = np.arange(len(frames[0]), len(frames[0]) + len(frames[1])) if len(frames) > 1 else None
        return pd.concat(frames, ignore_index=True), np.concatenate(ys), tuning_rows

    def _select(self, results, raw, orient, preset, targets: np.ndarray) -> None:
        """Weights by the ``preset``'s selection (greedy forward selection; ``stacking`` for a binary
        label) over the members that were fitted; ``targets`` are the selection rows' labels; ``raw(p, rows)``
        scores predictions of the selection rows on a row mask, ``orient`` makes that
        higher-is-better. A member stopped before all its folds predicted some rows only: it takes
        part when the rows every taking part member predicted stay at least half of them. Sets
        ``weights_``, ``members_``, ``tuning_score_``, ``results_`` and ``selection_predictions_``
        (``{member: its scores of the selection rows}``, NaN where a fold was not fitted; kept in
        memory for diagnosis, not saved)."""
        from transmodal.ensemble.selection import blend_scores, greedy_weights, stacked_weights
        from transmodal.ensemble.training import covered

        fitted = [r for r in results if r.member is not None]
        if not fitted:
            why = "; ".join(f"{r.name}: {r.status}" for r in results)
            raise ConfigError(f"no member could be fitted ({why}); raise {spelled('time_limit', '--time-limit')} "
                              "or choose a preset whose members read these columns")
        rows = np.ones(len(fitted[0].predictions), dtype=bool)
        chosen = []
        for r in sorted(fitted, key=lambda r: -covered(r.predictions).sum()):
            both = rows & covered(r.predictions)
            if both.sum() >= 0.5 * len(rows) or not chosen:
                rows, chosen = both, chosen + [r]
            else:
                r.status += "; left out: it predicted too few tuning rows"
        chosen = [r for r in fitted if r in chosen]  # preset order
        predictions = [np.nan_to_num(r.predictions) for r in chosen]
        if preset.selection == "stacking" and self.task_.problem_type == "binary" and len(chosen) > 1:
            weights = stacked_weights([p[rows] for p in predictions], targets[rows], preset.stacking_c)
        else:
            weights, _ = greedy_weights(predictions, lambda p: orient(raw(p, rows)), preset.selection_rounds,
                                        self.blend_)
        self.weights_ = {r.name: float(w) for r, w in zip(chosen, weights)}
        self.members_ = {r.name: r.member for r in chosen}  # only those with a weight are saved
        self.tuning_score_ = float(raw(blend_scores(predictions, weights, self.blend_), rows))
        self.selection_predictions_ = {r.name: r.predictions for r in fitted}
        self.results_ = [{"member": r.name, "kind": r.kind, "options": r.options, "status": r.status,
                          "tuning_score": float(r.tuning_score), "fit_seconds": float(r.fit_seconds),
                          "weight": self.weights_.get(r.name, 0.0)} for r in results]

    @property
    def tasks_(self) -> list:
        """The task as a list (the interface of a predictor, read by the server)."""
        self._check_fitted()
        return [self.task_]

    # ---- prediction --------------------------------------------------------------------------
    def _metric_targets(self, y: np.ndarray) -> np.ndarray:
        task = self.task_
        return y * task.target_std + task.target_mean if task.problem_type == "regression" else y

    def _metric_scores(self, scores: np.ndarray) -> np.ndarray:
        task = self.task_
        return scores * task.target_std + task.target_mean if task.problem_type == "regression" else scores

    def _frame(self, data, with_targets: bool = False) -> tuple[pd.DataFrame, np.ndarray | None]:
        from transmodal.data.validation import bad_row_indices, check_columns, read_features

        self._check_fitted()
        table, bad = read_features(data, self.column_types_, self._root())
        targets = None
        if with_targets:
            check_columns(table, [self.label], "evaluation compares the predictions with them")
            targets, label_bad = self.task_.encode(table.frame[self.label], table.source, allow_missing=False)
            bad += label_bad
        if bad:
            raise DataError(f"{table.source}: {len(bad_row_indices(bad))} row(s) cannot be used", bad)
        return table.frame, targets

    def member_scores(self, data) -> dict[str, np.ndarray]:
        """Each member's scores of ``data`` (probabilities ``(N, C)``, or values ``(N,)`` in
        the label's units), with the seconds each took in ``last_predict_seconds_``."""
        frame, _ = self._frame(data)
        return self._member_scores(frame, every=True)

    def _member_scores(self, frame: pd.DataFrame, every: bool = False) -> dict[str, np.ndarray]:
        """Scores of the members with a weight (``every``: of every member held)."""
        out, self.last_predict_seconds_ = {}, {}
        for name, member in self.members_.items():
            if not every and self.weights_.get(name, 0.0) <= 0:
                continue
            begin = time.perf_counter()
            out[name] = member.predict(frame)
            self.last_predict_seconds_[name] = time.perf_counter() - begin
        return out

    def _ensemble(self, scores: dict[str, np.ndarray]) -> np.ndarray:
        """The members' scores combined with their weights in the fit's ``blend_`` space."""
        from transmodal.ensemble.selection import blend_scores

        used = [name for name in scores if self.weights_.get(name, 0.0) > 0]
        return blend_scores([scores[n] for n in used], [self.weights_[n] for n in used], self.blend_)

    def _scores(self, data) -> np.ndarray:
        frame, _ = self._frame(data)
        return self._ensemble(self._member_scores(frame))

    def predict_proba(self, data) -> pd.DataFrame:
        """Class probabilities (one column per class), with the index of a DataFrame given."""
        if self.task_.problem_type == "regression":
            raise ConfigError("predict_proba needs a classification task; use predict for regression")
        return pd.DataFrame(self._scores(data), columns=self.task_.classes, index=given_index(data))

    def predict(self, data) -> pd.Series:
        """Predicted labels (a Series named after the label), with the index of a DataFrame given."""
        scores = self._scores(data)
        if self.task_.problem_type == "regression":
            values = self._metric_scores(scores)
        else:
            values = self.task_.decode(scores)
        return pd.Series(values, index=given_index(data), name=self.label)

    def evaluate(self, data, metrics: Sequence[str] | None = None) -> dict[str, float]:
        """Every reported metric of the ensemble on labelled ``data`` (a flat dict)."""
        from transmodal.metrics.base import compute_metrics

        frame, targets = self._frame(data, with_targets=True)
        scores = self._ensemble(self._member_scores(frame))
        return compute_metrics(self._metric_targets(targets), self._metric_scores(scores), self.task_, metrics)

    def embed(self, data) -> np.ndarray:
        """The fused embedding ``(N, hidden_dim)`` of the neural member with the largest weight.

        Raises:
            ConfigError: the ensemble has no neural member.
        """
        neural = [n for n, m in self.members_.items() if m.kind == "neural"]
        if not neural:
            raise ConfigError("embed needs a neural member; this ensemble has none "
                              f"(members: {sorted(self.members_)})")
        best = max(neural, key=self.weights_.get)
        frame, _ = self._frame(data)
        return np.mean([p.embed(frame) for p in self.members_[best].models], axis=0)

    def leaderboard(self, data=None) -> pd.DataFrame:
        """One row per member and one for the ensemble: kind, status, tuning score, score on
        ``data`` (when given, labelled), fit seconds, predict seconds (on ``data``), weight."""
        from transmodal.ensemble.leaderboard import leaderboard

        self._check_fitted()
        return leaderboard(self, data)

    # ---- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the model folder (safetensors + JSON + LightGBM text models + manifest)."""
        from transmodal.ensemble.persist import save_ensemble

        self._check_fitted()
        return save_ensemble(self, path)

    @classmethod
    def load(cls, path: str | Path, trust_remote_code: bool = False,
             allowed_root: str | Path | None = None) -> "AutoPredictor":
        """Load a folder written by :meth:`save`; the manifest is checked first (see
        :mod:`transmodal.ensemble.files`).

        Raises:
            ModelLoadError: incomplete, tampered with, a pickle, or not an ensemble folder.
        """
        from transmodal.ensemble.persist import load_ensemble

        return load_ensemble(cls, path, trust_remote_code, allowed_root)

    def info(self) -> dict[str, Any]:
        """What the ensemble is: label, task, columns, preset, metric, and each member's row."""
        self._check_fitted()
        return {"label": self.label, "problem_type": self.task_.problem_type, "classes": self.task_.classes,
                "columns": dict(self.column_types_), "preset": self.preset_, "eval_metric": self.eval_metric_,
                "time_limit": self.time_limit_, "fit_seconds": self.fit_seconds_, "members": self.results_}

    def __repr__(self) -> str:
        return f"AutoPredictor(label={self.label!r}, problem_type={self.problem_type!r})"


def _member_lines(log: Callable[[str], None] | None) -> Callable[[str], None]:
    """One member's line to the module's logger (the CLI's status lines, ``fit.log``) and to ``log``."""
    def say(line: str) -> None:
        _log.info("member %s", line)
        if log is not None:
            log(line)

    return say

