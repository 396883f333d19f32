"""Running a predictor fit: data loaders, embedding caches, callbacks and the shared trainer."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from transmodal.config import FitConfig
from transmodal.data.dataset import Collator, TableDataset
from transmodal.engine.cache import stage_caches
from transmodal.engine.contract import EncoderNet, named_encoders
from transmodal.engine.encoding import fill_stage_caches

MIN_TRAINING_SHARE = 0.1  # of a time limit, left for training however long the encoding took
from transmodal.model import MultimodalNet


def make_loader(dataset: TableDataset, net: EncoderNet, config: FitConfig, shuffle: bool,
                sampler_weights: np.ndarray | None = None, seed: int = 0) -> DataLoader:
    """A DataLoader whose collate runs each encoder's ``prepare``.

    Training loaders (``shuffle`` or ``sampler_weights``) draw their row order from an
    :class:`~transmodal.engine.sampler.EpochSampler`, a pure function of (seed, epoch) that a
    checkpoint can resume mid-epoch; with ``config.group_by_length`` its batches hold rows of
    similar text length.
    """
    return table_loader(dataset, net, config.batch_size, config.num_workers, shuffle, sampler_weights, seed,
                        group_by_length=config.group_by_length)


def table_loader(dataset: TableDataset, net: EncoderNet, batch_size: int, num_workers: int = 0,
                 shuffle: bool = False, sampler_weights: np.ndarray | None = None, seed: int = 0,
                 group_by_length: bool = False) -> DataLoader:
    """The loader behind :func:`make_loader`, for any network (``MultimodalNet``, ``AlignmentNet``):
    a plain ordered DataLoader for evaluation, a resumable one over an ``EpochSampler`` for training
    (``shuffle`` or ``sampler_weights``); ``group_by_length`` batches rows of similar text length."""
    from transmodal.engine.sampler import EpochSampler, ResumableLoader

    options = dict(batch_size=batch_size, collate_fn=Collator(named_encoders(net)), num_workers=num_workers,
                   persistent_workers=False)
    if not shuffle and sampler_weights is None:
        return DataLoader(dataset, shuffle=False, **options)
    lengths = dataset.text_lengths() if group_by_length else None
    sampler = EpochSampler(len(dataset), seed, sampler_weights, shuffle=True, lengths=lengths, batch_size=batch_size)
    return ResumableLoader(dataset, sampler=sampler, generator=torch.Generator().manual_seed(seed), **options)


def fit_network(net: MultimodalNet, config: FitConfig, train: TableDataset, tune: TableDataset,
                eval_metric: str, class_weights: dict[str, torch.Tensor | None],
                sampler_weights: np.ndarray | None, seed: int, time_limit: float | None,
                extra_losses: list | None = None, callbacks: list | None = None,
                trainer_options: dict[str, Any] | None = None, select_epoch: bool = True,
                auxiliary_modules: dict[str, Any] | None = None,
                caches: dict[str, Any] | None = None, select_metric: str | None = None) -> dict[str, Any]:
    """Train ``net`` in place and restore its best state (``select_epoch``: the best epoch by
    ``select_metric`` on the tuning rows, default ``eval_metric``, with early stopping on it;
    otherwise train every epoch of the budget and keep the last). ``auxiliary_modules`` train
    beside ``net`` for the extra loss terms and are not part of it. ``caches`` (``{"train", "val"}``
    :class:`~transmodal.engine.cache.EmbeddingCache` of the frozen inputs, from
    :func:`frozen_stage_caches`) are used as given: inputs already complete in them are not encoded again.

    Returns:
        The history: ``{"epochs": [...], "best_epoch": int, "best_score": float (the eval metric's
        tuning score of the kept epoch), "select_metric": str, "fit_seconds": float, "global_rank",
        "world_size", "epoch_selected", "scheduled_steps", "optimizer_steps"}``.
    """
    from transmodal.engine.callbacks import CacheSwitch
    from transmodal.engine.module import SELECT_SCORE, PredictorModule
    from transmodal.engine.trainer import TrainerSettings, build_trainer, start_run

    start_run(seed)
    train_loader = make_loader(train, net, config, shuffle=True, sampler_weights=sampler_weights, seed=seed)
    tune_loader = make_loader(tune, net, config, shuffle=False)
    begin = time.monotonic()
    if caches is None:
        caches, encoding = frozen_stage_caches(net, config, train, tune)
    else:
        encoding = {}
    if time_limit:  # the up-front encoding counts: the limit is for the whole training stage
        time_limit = max(time_limit - (time.monotonic() - begin), MIN_TRAINING_SHARE * time_limit)
    run = build_trainer(TrainerSettings.from_config(config),
                        [CacheSwitch({"train": train, "val": tune}), *(callbacks or [])],
                        time_limit, select_epoch, trainer_options, val_batches=len(tune_loader),
                        monitor=SELECT_SCORE)
    steps = run.total_steps(len(train), config.batch_size)
    module = PredictorModule(net, config, eval_metric, class_weights, caches, steps, auxiliary_modules,
                             select_metric=select_metric)
    module.extra_losses.extend(extra_losses or [])
    return {**run.fit(module, train_loader, tune_loader), "select_metric": module.select_metric,
            "epoch_selected": select_epoch, "encoding": encoding, "trainer": run.hardware()}


def frozen_stage_caches(net: EncoderNet, config: FitConfig, train: TableDataset,
                        tune: TableDataset) -> tuple[dict[str, Any], dict[str, dict]]:
    """The ``{"train", "val"}`` caches of ``net``'s frozen inputs, filled up front (through the
    embedding store when ``config.embedding_store``), and the encoding statistics per stage and input."""
    caches = stage_caches(net, {"train": train, "val": tune}, enabled=config.embedding_cache)
    encoding = fill_stage_caches(net, caches, {"train": train, "val": tune}, config.embedding_store,
                                 config.encode_batch_size, config.accelerator)
    return caches, encoding
