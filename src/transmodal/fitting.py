"""The steps of ``MultimodalPredictor.fit``, with hooks for extensions.

Extensions (transfer learning, alignment losses, multi-task weighting, ...) register a
:class:`FitHook` in ``FIT_HOOKS`` from their own file. A hook names the ``fit(**options)`` keys it
accepts and may act at three points: ``on_data`` (tables read and validated), ``on_net`` (network
built, before training: load or freeze weights, add loss terms or callbacks) and ``after_fit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from transmodal.config import FitConfig
from transmodal.data.dataset import TableDataset
from transmodal.data.readers import Table
from transmodal.data.schema import build_inputs, infer_column_types
from transmodal.data.validation import bad_row_indices, validate_features
from transmodal.errors import BadRow, ConfigError, DataError
from transmodal.registry import Registry

FIT_HOOKS: Registry = Registry("fit hook", ("transmodal.transfer", "transmodal.alignment", "transmodal.multitask",
                                            "transmodal.fusion",
                                            "transmodal.checkpointing", "transmodal.report"))


@dataclass
class FitContext:
    """Everything one fit works on; hooks read and change it."""

    predictor: Any
    config: FitConfig
    train: Table
    tune: Table | None
    seed: int
    time_limit: float | None
    options: dict[str, Any]
    bad_rows: list[BadRow] = field(default_factory=list)
    train_set: TableDataset | None = None
    tune_set: TableDataset | None = None
    net: Any = None
    extra_losses: list = field(default_factory=list)
    callbacks: list = field(default_factory=list)
    history: dict[str, Any] = field(default_factory=dict)
    trainer_options: dict[str, Any] = field(default_factory=dict)  # extra Trainer kwargs; "ckpt_path" resumes
    select_epoch: bool = True  # keep the best tuning epoch (False: keep the last; see FitConfig.select_epoch)


class FitHook:
    """Base of fit extensions; every method does nothing by default."""

    options: ClassVar[tuple[str, ...]] = ()  # fit(**options) keys this hook consumes

    def active(self, ctx: FitContext) -> bool:
        """Whether the hook takes part in this fit."""
        return any(ctx.options.get(key) is not None for key in self.options)

    def before_data(self, ctx: FitContext) -> None:
        """Before the schema is inferred and the tables validated (e.g. fill labels from a teacher)."""

    def on_data(self, ctx: FitContext) -> None: ...

    def on_net(self, ctx: FitContext) -> None: ...

    def after_fit(self, ctx: FitContext) -> None: ...

    def on_load(self, predictor: Any) -> None:
        """Called by ``MultimodalPredictor.load`` after the network is built, before its weights are
        read (e.g. to re-insert adapters or load base weights)."""


def run_load_hooks(predictor: Any) -> None:
    """Run every registered hook's ``on_load`` on a predictor being loaded."""
    for name in FIT_HOOKS.names():
        FIT_HOOKS.get(name)().on_load(predictor)


def _hooks(ctx: FitContext) -> list[FitHook]:
    hooks = [FIT_HOOKS.get(name)() for name in FIT_HOOKS.names()]
    known = {key for hook in hooks for key in hook.options}
    unknown = sorted(set(ctx.options) - known)
    if unknown:
        raise ConfigError(f"unknown fit option(s) {unknown}; known: {sorted(known)}")
    return [hook for hook in hooks if hook.active(ctx)]


def _drop_bad(table: Table, bad: list[BadRow], config: FitConfig, what: str) -> Table:
    """Raise on bad rows, or (on_bad_rows="skip") return the table without them."""
    if not bad:
        return table
    rows = bad_row_indices(bad)
    if config.on_bad_rows != "skip" or not rows or any(b.row < 0 for b in bad):
        hint = " (or pass hyperparameters={'on_bad_rows': 'skip'} to train on the good rows)" \
            if config.on_bad_rows != "skip" else ""
        raise DataError(f"{table.source}: {len(rows)} {what} row(s) cannot be used{hint}", bad)
    keep = np.setdiff1d(np.arange(len(table.frame)), rows)
    if len(keep) == 0:
        raise DataError(f"{table.source}: every row is bad", bad)
    return Table(table.frame.iloc[keep].reset_index(drop=True), table.source, table.base_dir)


def prepare_data(ctx: FitContext, column_types: dict[str, str] | None) -> None:
    """Infer the schema and tasks, validate, and split off a tuning set when none is given."""
    predictor = ctx.predictor
    predictor.tasks_ = predictor.prepare_tasks(ctx.train)
    predictor.column_types_ = infer_column_types(ctx.train.frame, predictor.labels, column_types)
    predictor.inputs_ = build_inputs(predictor.column_types_)
    root = predictor._root()
    ctx.select_epoch = bool(ctx.config.select_epoch)
    for attr, what in (("train", "training"), ("tune", "tuning")):
        table = getattr(ctx, attr)
        if table is None:
            continue
        bad = validate_features(table, predictor.column_types_, root) + predictor.encode_targets(table, predictor.tasks_)[1]
        ctx.bad_rows += bad
        setattr(ctx, attr, _drop_bad(table, bad, ctx.config, what))
    if ctx.tune is None:
        first = predictor.tasks_[0]
        ctx.train, ctx.tune = tuning_split(ctx.train, first.name, first.problem_type, ctx.config.holdout_fraction,
                                           ctx.seed)
        if ctx.tune is None:
            # no rows held out (e.g. a few labelled examples per class): train the whole epoch budget
            # and keep the last epoch; the validation scores logged are then on the training rows
            ctx.tune, ctx.select_epoch = ctx.train, False


def tuning_split(table: Table, label: str, problem_type: str, fraction: float, seed: int) -> tuple[Table, Table | None]:
    """(training rows, tuning rows) of a fit given no tuning data: ``holdout_fraction`` of the rows
    held out by :func:`holdout_split`, or no tuning rows (``None``) when it is 0.

    Raises:
        ConfigError: ``fraction`` outside [0, 1).
    """
    if not 0 <= fraction < 1:
        raise ConfigError(f"holdout_fraction must be in [0, 1), got {fraction}")
    if fraction == 0:
        return table, None
    return holdout_split(table, label, fraction, seed, problem_type)


def holdout_split(table: Table, label: str, fraction: float, seed: int, problem_type: str) -> tuple[Table, Table]:
    """A (stratified for classification) random split into training and tuning tables."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(table.frame))
    if len(rows) < 4:
        raise DataError(f"{table.source}: {len(rows)} rows are too few to hold out tuning data; give tuning_data")
    labels = table.frame[label].map(str).to_numpy(dtype=str)  # missing labels (partial labels) become "nan"
    stratify = labels if problem_type in ("binary", "multiclass") and _can_stratify(labels, fraction) else None
    train_rows, tune_rows = train_test_split(rows, test_size=fraction, random_state=seed, stratify=stratify)
    part = lambda idx: Table(table.frame.iloc[np.sort(idx)].reset_index(drop=True), table.source, table.base_dir)  # noqa: E731
    return part(train_rows), part(tune_rows)


def _can_stratify(labels: np.ndarray, fraction: float) -> bool:
    _, counts = np.unique(labels, return_counts=True)
    return counts.min() >= 2 and int(fraction * len(labels)) >= len(counts)


def run_fit(predictor, train: Table, tune: Table | None, column_types, time_limit, seed, options) -> None:
    """Every step of ``fit``; sets the predictor's learned attributes."""
    from transmodal.build import build_net, class_weights, fit_encoders, sampler_weights
    from transmodal.engine.training import fit_network
    from transmodal.metrics.base import DEFAULT_EVAL_METRIC, METRICS
    from transmodal.losses.base import check_loss_choice

    import torch

    torch.manual_seed(seed)
    ctx = FitContext(predictor, predictor.config_, train, tune, seed, time_limit, dict(options))
    hooks = _hooks(ctx)
    for hook in hooks:
        hook.before_data(ctx)
    prepare_data(ctx, column_types)
    for hook in hooks:
        hook.on_data(ctx)
    tasks = predictor.tasks_
    (train_targets, late_train), (tune_targets, late_tune) = (predictor.encode_targets(t, tasks)
                                                             for t in (ctx.train, ctx.tune))
    if late_train or late_tune:  # rows added by hooks (e.g. joint source rows) must encode cleanly
        raise DataError("labels added while preparing the fit cannot be encoded", late_train + late_tune)
    root = predictor._root()
    ctx.train_set = TableDataset(ctx.train, predictor.inputs_, train_targets, root)
    ctx.tune_set = TableDataset(ctx.tune, predictor.inputs_, tune_targets, root)
    predictor.encoder_settings_ = fit_encoders(ctx.train_set, ctx.config.encoders, seed)
    ctx.net = build_net(predictor.inputs_, predictor.encoder_settings_, tasks, ctx.config)
    predictor.eval_metric_ = predictor.eval_metric or DEFAULT_EVAL_METRIC[tasks[0].problem_type]
    METRICS.get(predictor.eval_metric_)  # unknown names fail before training
    check_loss_choice(ctx.config.loss, tasks)  # unknown or misfit loss names fail before training too
    for hook in hooks:
        hook.on_net(ctx)
    # encoder settings may change in hooks (e.g. freezing): keep the saved copy in sync
    predictor.encoder_settings_ = {n: dict(ctx.net.encoder(n).settings) for n in ctx.net.input_names}
    predictor.net_ = ctx.net
    ctx.history = fit_network(
        ctx.net, ctx.config, ctx.train_set, ctx.tune_set, predictor.eval_metric_,
        class_weights(tasks, train_targets, ctx.config.class_weight),
        sampler_weights(tasks, train_targets, ctx.config.sampler), seed, time_limit,
        ctx.extra_losses, ctx.callbacks, ctx.trainer_options, select_epoch=ctx.select_epoch,
    )
    ctx.net.eval()
    predictor.history_ = ctx.history
    predictor.bad_rows_ = ctx.bad_rows
    for hook in hooks:
        hook.after_fit(ctx)
