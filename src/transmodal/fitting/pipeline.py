"""``run_fit``: every stage of ``MultimodalPredictor.fit``, in order, in one place.

Read top to bottom: the request is checked and the extensions it asks for are chosen from
:data:`EXTENSIONS` (an explicit, ordered list); then each stage of
:data:`~transmodal.fitting.state.STAGES` runs: core stages here, extension stages through the
:class:`~transmodal.fitting.state.Extension` methods of the same name. The network is built once, in
``build``; nothing replaces it afterwards.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from transmodal.errors import ConfigError, DataError
from transmodal.fitting.extensions.aligned_init import AlignedInit
from transmodal.fitting.extensions.alignment_loss import AlignmentLoss
from transmodal.fitting.extensions.callbacks import Callbacks
from transmodal.fitting.extensions.cross_modal_distill import CrossModalDistill
from transmodal.fitting.extensions.domain_adaptation import DomainAdaptation
from transmodal.fitting.extensions.feature_memo import FeatureMemo
from transmodal.fitting.extensions.joint_source import JointSource
from transmodal.fitting.extensions.knowledge_transfer import KnowledgeTransfer
from transmodal.fitting.extensions.multitask import Multitask
from transmodal.fitting.extensions.report import Report
from transmodal.fitting.extensions.resume import Resume
from transmodal.fitting.extensions.source_model import SourceModel
from transmodal.fitting.extensions.transfer_strategy import TransferStrategy
from transmodal.fitting.extensions.unimodal_loss import UnimodalLoss
from transmodal.fitting.state import Extension, FitRequest, FitState
from transmodal.fitting.tables import encode_targets, read_tables
from transmodal.saved.spec import Architecture, ModelSpec

log = logging.getLogger(__name__)

# The extensions, in the order they act within each stage.
EXTENSIONS: tuple[type[Extension], ...] = (
    CrossModalDistill,   # prepare_tables: teacher labels; attach: distillation terms
    JointSource,         # prepare_targets: source rows and task; finish: drop the source head
    Multitask,           # prepare_targets: check the multitask section; finish: record task weights
    SourceModel,         # initialise + load_weights: a saved predictor's encoders, fusion and heads
    AlignedInit,         # initialise + load_weights: an alignment model's towers as encoders
    KnowledgeTransfer,   # initialise + load_weights: Z = f(X) from a source model, neighbour bank
    TransferStrategy,    # adapt: what trains (linear_probe, finetune, partial, lora, l2sp, distill)
    DomainAdaptation,    # attach: alignment with unlabelled target rows
    AlignmentLoss,       # attach: pairwise InfoNCE between the inputs' features
    UnimodalLoss,        # attach: each input alone through fusion and heads
    FeatureMemo,         # attach: frozen encoders share features across fits
    Resume,              # attach: checkpoints and resuming
    Callbacks,           # attach: callbacks that watch training (tuning: pruning)
    Report,              # finish: tuning-set evaluation and data summary for report.html
)


@dataclass
class FitResult:
    """What a fit produced: the spec, the trained network, its history, skipped rows, report data,
    and the kept epoch's scores of the tuning rows (``{task: (N, K) or (N,)}`` in the order of the
    tuning rows kept, or None)."""

    spec: ModelSpec
    net: Any
    history: dict[str, Any]
    bad_rows: list
    report: dict[str, Any] | None
    tuning_scores: dict[str, Any] | None = None


def chosen_extensions(request: FitRequest) -> list[Extension]:
    """The extensions this fit uses, in :data:`EXTENSIONS` order.

    Raises:
        ConfigError: an option no extension reads, or an unknown or mistyped ``transfer`` setting.
    """
    from transmodal.transfer.settings import TransferSettings

    TransferSettings.from_dict(request.config.transfer)  # typos and wrong types fail before any work
    known = {key for cls in EXTENSIONS for key in cls.options}
    unknown = sorted(set(request.options) - known)
    if unknown:
        raise ConfigError(f"unknown fit option(s) {unknown}; known: {sorted(known)}")
    return [cls() for cls in EXTENSIONS if cls.wanted(request)]


def run_fit(request: FitRequest, train, tune) -> FitResult:
    """Every stage of ``fit``, in order.

    Args:
        request: What was asked.
        train: The training table.
        tune: The tuning table, or None (a holdout of ``train``).
    """
    import torch

    torch.manual_seed(request.seed)
    extensions = chosen_extensions(request)
    state = FitState(request, train, tune)
    for ext in extensions:
        ext.prepare_tables(state)
    read_tables(state)
    log_rows(state, held_out=tune is None)
    for ext in extensions:
        ext.prepare_targets(state)
    check_choices(state)
    state.encoder_choices = dict(request.config.encoders)
    state.architecture = Architecture.of(request.config)
    for ext in extensions:
        ext.initialise(state)
    build(state)
    for ext in extensions:
        ext.load_weights(state)
    for ext in extensions:
        ext.adapt(state)
    state.net.train()  # Lightning keeps each module's mode: frozen encoders stay in eval mode, the rest train
    for ext in extensions:
        ext.attach(state)
    train_network(state)
    for ext in extensions:
        ext.finish(state)
    return FitResult(state.spec(), state.net, {**state.history, **state.records}, state.bad_rows, state.report,
                     state.tuning_scores)


def check_choices(state: FitState) -> None:
    """Fail before any encoding when the eval metric, the epoch metric or a loss name is unknown or
    does not fit."""
    from transmodal.losses.base import check_loss_choice
    from transmodal.metrics.base import DEFAULT_EVAL_METRIC, METRICS, epoch_metric

    problem_type = state.tasks[0].problem_type
    state.eval_metric = state.request.eval_metric or DEFAULT_EVAL_METRIC[problem_type]
    METRICS.get(state.eval_metric)
    state.select_metric = epoch_metric(state.config.select_epoch_by, state.request.eval_metric, problem_type)
    check_loss_choice(state.config.loss, state.tasks)


def build(state: FitState) -> None:
    """The ``build`` stage: datasets, encoder settings fitted on the training rows, the network."""
    from transmodal.build import build_net, fit_encoders
    from transmodal.data.dataset import TableDataset
    from transmodal.transfer.base import trained_inputs

    (train_targets, late_train), (tune_targets, late_tune) = (encode_targets(t, state.tasks)
                                                             for t in (state.train, state.tune))
    if late_train or late_tune:  # rows added by extensions (e.g. joint source rows) must encode cleanly
        raise DataError("labels added while preparing the fit cannot be encoded", late_train + late_tune)
    root = state.root
    state.train_set = TableDataset(state.train, state.inputs, train_targets, root)
    state.tune_set = TableDataset(state.tune, state.inputs, tune_targets, root)
    trained = trained_inputs(state.config.transfer, [spec.name for spec in state.inputs])
    fitted = fit_encoders(state.train_set, state.encoder_choices, state.seed,
                          skip=set(state.fixed_encoders), last_layer=trained)
    state.encoder_settings = {spec.name: dict(state.fixed_encoders.get(spec.name) or fitted[spec.name])
                              for spec in state.inputs}
    log.info("loading the encoders: %s", ", ".join(f"{name} {encoder_text(settings)}"
                                                   for name, settings in state.encoder_settings.items()))
    start = time.perf_counter()
    state.net = build_net(state.spec(), state.config)
    sizes = [(p.numel(), p.requires_grad) for p in state.net.parameters()]
    log.info("network built in %.1f s: %s parameters, %s trainable", time.perf_counter() - start,
             f"{sum(n for n, _ in sizes):,}", f"{sum(n for n, grad in sizes if grad):,}")


def log_rows(state: FitState, held_out: bool) -> None:
    """Log what the ``read`` stage kept: skipped bad rows, training and tuning rows."""
    if "student_column" in state.options:  # the quick check before the fit did not see these tables
        from transmodal.fitting.log import log_schema

        log_schema(state)
    skipped = len({(b.file, b.row) for b in state.bad_rows if b.row >= 0})
    if skipped:
        log.info("skipped %d bad row(s) (on_bad_rows=skip; listed in the model folder's bad_rows.csv)", skipped)
    if state.tune is state.train:
        log.info("%s training rows, no tuning rows: every epoch trains, the last one is kept",
                 f"{len(state.train.frame):,}")
        return
    log.info("%s training rows, %s tuning rows%s", f"{len(state.train.frame):,}", f"{len(state.tune.frame):,}",
             f" (a {state.config.holdout_fraction:.0%} holdout of the training table)" if held_out else "")


def encoder_text(settings: dict[str, Any]) -> str:
    """``hf_text (packaged:all-MiniLM-L6-v2, frozen, layers all)``: an encoder's name, checkpoint,
    freezing and pooled layers."""
    details = [str(settings[k]) for k in ("checkpoint",) if settings.get(k)]
    details += ["frozen"] if settings.get("frozen") else []
    details += [f"layers {settings['layers']}"] if settings.get("layers") else []
    return f"{settings.get('name')}" + (f" ({', '.join(details)})" if details else "")


def train_network(state: FitState) -> None:
    """The ``train`` stage: the training engine on the built network, with the extensions' additions."""
    from transmodal.build import class_weights, sampler_weights
    from transmodal.engine.training import fit_network

    config = state.training_config()
    targets = state.train_set.targets
    additions = state.training
    state.history = fit_network(
        state.net, config, state.train_set, state.tune_set, state.eval_metric,
        class_weights(state.tasks, targets, config.class_weight),
        sampler_weights(state.tasks, targets, config.sampler), state.seed, state.request.time_limit,
        additions.extra_losses, additions.callbacks, additions.trainer_options, select_epoch=state.select_epoch,
        auxiliary_modules=additions.modules, select_metric=state.select_metric,
    )
    state.net.eval()
    state.tuning_scores = state.history.pop("tuning_scores", None)  # arrays: not part of the saved history
    history = state.history
    kept = f"best epoch by tuning {state.select_metric}" if state.select_epoch else "last epoch"
    log.info("%s: epoch %d kept (tuning %s %.4f); %d epoch(s) trained in %.1f s", kept, history["best_epoch"] + 1,
             state.eval_metric, history["best_score"], len(history["epochs"]), history["fit_seconds"])
