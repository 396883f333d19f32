"""Running a fit: data loaders, embedding caches, callbacks and the Lightning trainer."""

from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from transmodal.config import FitConfig
from transmodal.data.dataset import Collator, TableDataset
from transmodal.engine.cache import EmbeddingCache
from transmodal.model import MultimodalNet


# Lightning notices a user cannot act on: worker count (rows are prepared in the main process by
# design), frozen encoders in eval mode (they stay there on purpose), Lightning's own use of a
# deprecated torch API
LIGHTNING_NOTICES = (".*does not have many workers.*", r".*module\(s\) in eval mode at the start of training.*",
                     r".*isinstance\(treespec, LeafSpec\).*")


@contextlib.contextmanager
def lightning_notices_silenced():
    """A ``warnings.catch_warnings()`` block that hides :data:`LIGHTNING_NOTICES`; add more filters
    inside it."""
    with warnings.catch_warnings():
        for pattern in LIGHTNING_NOTICES:
            warnings.filterwarnings("ignore", pattern)
        yield


def make_loader(dataset: TableDataset, net: MultimodalNet, config: FitConfig, shuffle: bool,
                sampler_weights: np.ndarray | None = None, seed: int = 0) -> DataLoader:
    """A DataLoader whose collate runs each encoder's ``prepare``.

    Training loaders (``shuffle`` or ``sampler_weights``) draw their row order from an
    :class:`~transmodal.engine.sampler.EpochSampler`, a pure function of (seed, epoch) that a
    checkpoint can resume mid-epoch; with ``config.group_by_length`` its batches hold rows of
    similar text length.
    """
    from transmodal.engine.sampler import EpochSampler, ResumableLoader

    encoders = {name: net.encoder(name) for name in net.input_names}
    options = dict(batch_size=config.batch_size, collate_fn=Collator(encoders), num_workers=config.num_workers,
                   persistent_workers=False)
    if not shuffle and sampler_weights is None:
        return DataLoader(dataset, shuffle=False, **options)
    lengths = dataset.text_lengths() if config.group_by_length else None
    sampler = EpochSampler(len(dataset), seed, sampler_weights, shuffle=True, lengths=lengths,
                           batch_size=config.batch_size)
    return ResumableLoader(dataset, sampler=sampler, generator=torch.Generator().manual_seed(seed), **options)


def frozen_dims(net: MultimodalNet) -> dict[str, int]:
    """Input name -> feature size for every input whose encoder is frozen (cacheable)."""
    return {n: net.encoder(n).output_dim for n in net.input_names if net.encoder(n).frozen}


def fit_network(net: MultimodalNet, config: FitConfig, train: TableDataset, tune: TableDataset,
                eval_metric: str, class_weights: dict[str, torch.Tensor | None],
                sampler_weights: np.ndarray | None, seed: int, time_limit: float | None,
                extra_losses: list | None = None, callbacks: list | None = None,
                trainer_options: dict[str, Any] | None = None, select_epoch: bool = True) -> dict[str, Any]:
    """Train ``net`` in place and restore its best state (``select_epoch``; otherwise train every
    epoch of the budget, with no early stopping, and keep the last).

    Returns:
        The history: ``{"epochs": [...], "best_epoch": int, "best_score": float, "fit_seconds": float}``.
    """
    import time

    import lightning as L

    from transmodal.engine.callbacks import BestState, CacheSwitch, History
    from transmodal.engine.module import PredictorModule

    import logging

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    L.seed_everything(seed, workers=True, verbose=False)
    train_loader = make_loader(train, net, config, shuffle=True, sampler_weights=sampler_weights, seed=seed)
    tune_loader = make_loader(tune, net, config, shuffle=False)
    dims = frozen_dims(net) if config.embedding_cache else {}
    caches = {"train": EmbeddingCache(len(train), dims), "val": EmbeddingCache(len(tune), dims)} if dims else {}
    best, history = BestState(keep_last=not select_epoch), History()
    from lightning.pytorch.callbacks import Checkpoint, EarlyStopping

    stopping = [EarlyStopping("val_score", mode="max", patience=config.patience)] if select_epoch else []
    all_callbacks = [best, history, CacheSwitch({"train": train, "val": tune}), *stopping] + list(callbacks or [])
    options = dict(
        max_epochs=config.max_epochs, max_time=_max_time(time_limit),
        accelerator=config.accelerator, devices=config.devices, strategy=config.strategy,
        num_nodes=config.num_nodes, precision=config.precision,
        gradient_clip_val=config.gradient_clip, callbacks=all_callbacks,
        enable_checkpointing=False, logger=False, enable_model_summary=False,
        enable_progress_bar=config.progress_bar, num_sanity_val_steps=0, deterministic="warn",
    )
    options.update({k: v for k, v in (trainer_options or {}).items() if k != "ckpt_path"})
    options["enable_checkpointing"] = any(isinstance(c, Checkpoint) for c in all_callbacks)
    trainer = L.Trainer(**options)
    # each process sees its share of the rows (the distributed sampler pads them to equal counts)
    rows_per_process = math.ceil(len(train) / trainer.world_size)
    steps = config.max_epochs * math.ceil(rows_per_process / config.batch_size)
    module = PredictorModule(net, config, eval_metric, class_weights, caches, steps)
    module.extra_losses.extend(extra_losses or [])
    start = time.perf_counter()
    with lightning_notices_silenced():
        warnings.filterwarnings("ignore", ".*deterministic.*")
        warnings.filterwarnings("ignore", ".*checkpoint that ended before the epoch ended.*")
        trainer.fit(module, train_loader, tune_loader, ckpt_path=(trainer_options or {}).get("ckpt_path"))
    train.skip_inputs, tune.skip_inputs = set(), set()
    return {"epochs": history.epochs, "best_epoch": best.best_epoch, "best_score": best.best_score,
            "fit_seconds": time.perf_counter() - start, "global_rank": trainer.global_rank,
            "world_size": trainer.world_size, "epoch_selected": select_epoch,
            "scheduled_steps": module.total_steps, "optimizer_steps": trainer.global_step}


def _max_time(seconds: float | None):
    if not seconds:
        return None
    from datetime import timedelta

    return timedelta(seconds=float(seconds))
