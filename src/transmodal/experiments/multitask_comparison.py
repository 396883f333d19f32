"""The multi-task comparison: one multi-task model against one single-task model per task, trained on
the same rows with the same budget, scored on the same test rows, with LibMTL's delta_m."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from transmodal.data.readers import Table, read_table
from transmodal.errors import ConfigError


@dataclass
class MultitaskComparison:
    """What :func:`compare_with_single_task` measured.

    Attributes:
        table: One row per (task, metric): ``task``, ``metric``, ``single``, ``multi``, ``change_%``
            (relative change, positive = the multi-task model is better).
        delta_m: LibMTL's delta_m in percent over the tasks' metrics.
        fit_seconds: Wall time of each fit: ``"multi-task"`` and ``"single:<task>"`` (and
            ``"encode + first multi-task fit"`` with frozen encoders).
        multi: ``{task: {metric: value}}`` of the multi-task model on the test rows (every metric).
        single: The same for the single-task models.
        models: The fitted predictors, keyed like ``fit_seconds`` (not part of :meth:`to_dict`).
    """

    table: pd.DataFrame
    delta_m: float
    fit_seconds: dict[str, float]
    multi: dict[str, dict[str, float]] = field(default_factory=dict)
    single: dict[str, dict[str, float]] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def single_task_seconds(self) -> float:
        """Wall time of all single-task fits together."""
        return sum(v for k, v in self.fit_seconds.items() if k.startswith("single:"))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``table`` as a list of row dicts)."""
        return {"delta_m": self.delta_m, "fit_seconds": self.fit_seconds,
                "single_task_seconds": self.single_task_seconds,
                "table": self.table.to_dict(orient="records"), "multi": self.multi, "single": self.single}


def compare_with_single_task(train, test, labels: Sequence[str], problem_type: str | Mapping[str, str] | None = None,
                             hyperparameters: dict[str, Any] | None = None, tuning=None, seed: int = 0,
                             metrics: Mapping[str, str | list[str]] | None = None,
                             on_fit: Callable[[str, float], None] | None = None) -> MultitaskComparison:
    """Fit one multi-task predictor on ``labels`` and one single-task predictor per label, on the
    same training and tuning rows with the same hyperparameters, and compare them on ``test``.

    Each single-task model sees the feature columns only (the other labels are dropped, so that
    they are not features) and the rows where its label is present. Without ``tuning`` one
    holdout of ``train`` (stratified by the first label, ``holdout_fraction`` of the
    hyperparameters) is made here and given to every fit. Frozen encoders' features are computed
    once and shared by the fits (``feature_memo``); the fit that computes them is timed apart
    (``"encode + first multi-task fit"``) and the multi-task model is fitted again (same seed, same
    model), so that every compared fit time reads the same memoised features.

    Args:
        train, test, tuning: DataFrames, table paths or Tables.
        labels: Two or more label columns.
        problem_type: One problem type for every label, or ``{label: problem type}``; others are
            inferred.
        hyperparameters: Shared by every fit; its ``multitask`` section applies to the multi-task
            model only.
        seed: Seed of the holdout and of every fit.
        metrics: ``{task: metric name(s)}`` counted in delta_m; default: each task's default
            evaluation metric (accuracy, rmse, macro-F1 for multilabel).
        on_fit: Optional ``fn(model_name, seconds)`` called after each fit.

    Returns:
        A :class:`MultitaskComparison`.

    Raises:
        ConfigError: fewer than two labels.
    """
    from transmodal.predictor import MultimodalPredictor

    labels = list(labels)
    if len(labels) < 2:
        raise ConfigError(f"a multi-task comparison needs two or more labels, got {labels}")
    hp = dict(hyperparameters or {})
    given = {t: problem_type for t in labels} if isinstance(problem_type, str) else dict(problem_type or {})
    test_t = read_table(test)
    train_t, tune_t = (read_table(train), read_table(tuning)) if tuning is not None else \
        _holdout(read_table(train), labels[0], given.get(labels[0]), hp, seed)
    seconds: dict[str, float] = {}
    models: dict[str, Any] = {}

    def fit(name: str, predictor, columns_dropped: list[str], label: str | None, settings: dict):
        start = time.perf_counter()
        predictor.fit(_without(train_t, columns_dropped, label), seed=seed, hyperparameters=settings,
                      tuning_data=None if tune_t is None else _without(tune_t, columns_dropped, label),
                      feature_memo=True)
        seconds[name], models[name] = time.perf_counter() - start, predictor
        if on_fit is not None:
            on_fit(name, seconds[name])
        return predictor

    multi_model = fit("multi-task", MultimodalPredictor(labels, problem_type=given or None), [], None, hp)
    if _reads_memo(multi_model):  # that fit also encoded every row for the frozen encoders: time a second one
        seconds["encode + first multi-task fit"] = seconds.pop("multi-task")
        multi_model = fit("multi-task", MultimodalPredictor(labels, problem_type=given or None), [], None, hp)
    kinds = {task.name: task.problem_type for task in multi_model.tasks_}
    evaluated = multi_model.evaluate(test_t)
    multi = {t: dict(evaluated[t]) for t in labels}
    single_hp = {k: v for k, v in hp.items() if k != "multitask"}
    single = {}
    for label in labels:
        others = [t for t in labels if t != label]
        model = fit(f"single:{label}", MultimodalPredictor(label, problem_type=kinds[label]), others, label, single_hp)
        single[label] = dict(model.evaluate(_without(test_t, others, label)))
    counted = dict(metrics or {t: _default_metric(kinds[t]) for t in labels})
    from transmodal.multitask.report import comparison_table, delta_m

    return MultitaskComparison(comparison_table(multi, single, counted), delta_m(multi, single, counted),
                               seconds, multi, single, models)


def _reads_memo(predictor) -> bool:
    """Whether the fitted network has a frozen encoder reading the process-wide feature memo."""
    from transmodal.engine.feature_memo import MemoizedForward

    net = predictor.net_
    return any(isinstance(net.encoder(name).forward, MemoizedForward) for name in net.input_names)


def _default_metric(problem_type: str) -> str:
    from transmodal.metrics.base import DEFAULT_EVAL_METRIC

    return DEFAULT_EVAL_METRIC[problem_type]


def _holdout(table: Table, label: str, problem_type: str | None, hp: dict, seed: int) -> tuple[Table, Table | None]:
    """(training rows, tuning rows) every fit shares; no tuning rows when ``holdout_fraction`` is 0
    (each fit then keeps its last epoch)."""
    from transmodal.config import FitConfig
    from transmodal.fitting import tuning_split
    from transmodal.heads.task import infer_problem_type

    kind = problem_type or infer_problem_type(table.frame[label])
    return tuning_split(table, label, kind, FitConfig.from_dict(hp).holdout_fraction, seed)


def _without(table: Table, columns: list[str], label: str | None) -> Table:
    """``table`` without ``columns``, and (for a single-task model) without rows missing ``label``."""
    from transmodal.data.cells import is_missing

    frame = table.frame.drop(columns=[c for c in columns if c in table.frame.columns])
    if label is not None:
        frame = frame[~frame[label].map(is_missing)]
    return Table(frame.reset_index(drop=True), table.source, table.base_dir)
