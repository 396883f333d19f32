"""Training towers into a shared space on the engine's trainer: positives by item, tuning MRR.

The loader, frozen-feature cache, parameter groups, optimiser and trainer are the predictor's
(:mod:`transmodal.engine`); this file holds only what is particular to alignment: which rows are
positives, the contrastive loss over every pair of towers, and the retrieval score used to select
the epoch.
"""

from __future__ import annotations

import itertools
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from transmodal.alignment.config import AlignConfig
from transmodal.alignment.towers import AlignmentNet
from transmodal.data.dataset import TableDataset
from transmodal.data.readers import Table
from transmodal.engine.cache import EmbeddingCache
from transmodal.engine.contract import EncoderNet
from transmodal.engine.optim import configure_adamw, parameter_groups
from transmodal.engine.training import table_loader
from transmodal.errors import DataError
from transmodal.losses.contrastive import positive_mask
from transmodal.metrics.retrieval import first_relevant_rank


def row_keys(frame: pd.DataFrame, columns: list[str], item_column: str | None) -> list[np.ndarray]:
    """Integer keys per row: one per column (rows with the same cell show the same item) and the
    item column's values when given. Two rows are positives when any key agrees."""
    keys = [pd.factorize(frame[c].astype(str))[0] for c in columns]
    if item_column is not None:
        keys.append(pd.factorize(frame[item_column].astype(str))[0])
    return keys


def loader(dataset: TableDataset, net: EncoderNet, config: AlignConfig, shuffle: bool, seed: int = 0) -> DataLoader:
    """Batches of ``dataset`` prepared by each tower's encoder (shuffled by ``(seed, epoch)``)."""
    return table_loader(dataset, net, config.batch_size, config.num_workers, shuffle=shuffle, seed=seed)


class AlignmentModule(L.LightningModule):
    """Contrastive training of every pair of towers; validation scores the tuning MRR.

    Args:
        net: The towers and loss.
        config: The alignment configuration.
        keys: ``{"train": [...], "val": [...]}`` row keys (see :func:`row_keys`).
        caches: ``{"train": EmbeddingCache, "val": EmbeddingCache}`` for frozen encoders (may be
            empty), filled batch by batch.
        total_steps: Optimizer steps of the run (in each process).
    """

    def __init__(self, net: AlignmentNet, config: AlignConfig, keys: dict[str, list[np.ndarray]],
                 caches: dict[str, EmbeddingCache], total_steps: int) -> None:
        super().__init__()
        self.net = net
        self.config = config
        self.keys = {stage: [torch.as_tensor(k) for k in ks] for stage, ks in keys.items()}
        self.caches = caches
        self.total_steps = max(1, total_steps)
        self.pairs = list(itertools.combinations(net.columns, 2))
        self._val: list[tuple[torch.Tensor, dict[str, tuple[torch.Tensor, torch.Tensor]]]] = []

    def embed(self, batch: dict[str, Any], stage: str) -> dict[str, torch.Tensor]:
        """Shared-space embeddings (B, D) per column, frozen encoders' features from the cache."""
        cache = self.caches.get(stage)
        given = cache.features(self.net, batch, self.device) if cache is not None else {}  # column -> (B, D_enc)
        out = {}
        for column in self.net.columns:
            tower = self.net.tower(column)
            features = given[column] if column in given else tower.encoder(batch["inputs"][column])  # (B, D_enc)
            out[column] = tower.project(features)
        return out

    def positives(self, index: torch.Tensor, stage: str) -> torch.Tensor:
        """(B, B) True where rows ``index`` show the same item."""
        index = index.cpu()
        return positive_mask(*[k[index] for k in self.keys[stage]]).to(self.device)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        embeddings = self.embed(batch, "train")
        positives = self.positives(batch["index"], "train")  # (B, B)
        losses = {}
        for a, b in self.pairs:
            rows = batch["masks"][a] & batch["masks"][b]
            terms = self.net.loss(embeddings[a][rows], embeddings[b][rows], positives[rows][:, rows])
            losses.update({f"{a}|{b}/{name}": value for name, value in terms.items()})
        total = sum(losses.values()) / len(self.pairs)
        self.log("train_loss", total, prog_bar=True, on_step=False, on_epoch=True, batch_size=len(batch["index"]))
        self.log("temperature", 1.0 / self.net.loss.scale.detach(), on_step=False, on_epoch=True)
        return total

    def on_validation_epoch_start(self) -> None:
        self._val = []

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        embeddings = self.embed(batch, "val")
        self._val.append((batch["index"].cpu(), {c: (e.detach().float().cpu(), batch["masks"][c].cpu())
                                                 for c, e in embeddings.items()}))

    def on_validation_epoch_end(self) -> None:
        index, embeddings, masks = self._validation_rows()
        relevant = positive_mask(*[k[index] for k in self.keys["val"]]).numpy()  # (N, N)
        scores = []
        for a, b in self.pairs:
            rows = (masks[a] & masks[b]).numpy()  # (N,)
            if not rows.any():
                continue
            similarity = (embeddings[a] @ embeddings[b].t()).numpy()[rows][:, rows]  # (n, n)
            rel = relevant[rows][:, rows]
            for sim, r in ((similarity, rel), (similarity.T, rel.T)):
                scores.append(float((1.0 / first_relevant_rank(sim, r)).mean()))
        # every process scores the same gathered rows; syncing keeps early stopping in step
        self.log("val_score", float(np.mean(scores)) if scores else 0.0, prog_bar=True, sync_dist=True)

    def _validation_rows(self) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Row indices (N,), embeddings ``{column: (N, D)}`` and masks ``{column: (N,)}`` of this
        epoch's tuning rows; under DDP gathered from every process, without the rows the
        distributed sampler repeats to even out the shares."""
        columns = self.net.columns
        if self._val:
            index = torch.cat([i for i, _ in self._val])
            embeddings = {c: torch.cat([v[c][0] for _, v in self._val]) for c in columns}
            masks = {c: torch.cat([v[c][1] for _, v in self._val]) for c in columns}
        else:
            index = torch.zeros(0, dtype=torch.long)
            embeddings = {c: torch.zeros(0, self.net.tower(c).embed_dim) for c in columns}
            masks = {c: torch.zeros(0, dtype=torch.bool) for c in columns}
        if self.trainer.world_size == 1:
            return index, embeddings, masks
        index = self._gather(index)
        embeddings = {c: self._gather(e) for c, e in embeddings.items()}
        masks = {c: self._gather(m.to(torch.uint8)).bool() for c, m in masks.items()}
        first = torch.as_tensor(np.unique(index.numpy(), return_index=True)[1])  # each row once
        return index[first], {c: e[first] for c, e in embeddings.items()}, {c: m[first] for c, m in masks.items()}

    def _gather(self, values: torch.Tensor) -> torch.Tensor:
        """(n, ...) of each process -> (world_size * n, ...) on the CPU; shares are equal-sized."""
        gathered = self.all_gather(values.to(self.device))  # (world_size, n, ...)
        return gathered.reshape(-1, *values.shape[1:]).cpu()

    def configure_optimizers(self):
        return configure_adamw(parameter_groups(self.net, self.config), lambda: self.total_steps,
                               self.config.warmup_ratio)


def fit_alignment(net: AlignmentNet, config: AlignConfig, train: TableDataset, tune: TableDataset,
                  keys: dict[str, list[np.ndarray]], seed: int, time_limit: float | None = None,
                  callbacks: list | None = None, trainer_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train ``net`` in place on ``config``'s hardware (one process, or one per device under DDP),
    restore the best epoch (by tuning MRR) and return the history.

    Args:
        net: The towers.
        config: The alignment configuration (its trainer fields choose the hardware).
        train: Training rows.
        tune: Tuning rows (MRR for early stopping and epoch selection).
        keys: ``{"train": [...], "val": [...]}`` row keys (see :func:`row_keys`).
        seed: Seed of the row order and initialisation.
        time_limit: Seconds of training before stopping (None: no limit).
        callbacks: More Lightning callbacks.
        trainer_options: Overrides of ``L.Trainer`` keyword arguments.

    Returns:
        The engine's history (:meth:`~transmodal.engine.trainer.Run.fit`) plus ``"trainer"``: the
        accelerator, devices, nodes, strategy and precision the fit ran with.
    """
    from transmodal.engine.cache import stage_caches
    from transmodal.engine.callbacks import CacheSwitch
    from transmodal.engine.trainer import TrainerSettings, build_trainer, start_run

    start_run(seed)
    train_loader = loader(train, net, config, shuffle=True, seed=seed)
    tune_loader = loader(tune, net, config, shuffle=False)
    caches = stage_caches(net, {"train": train, "val": tune})
    run = build_trainer(TrainerSettings.from_config(config),
                        [CacheSwitch({"train": train, "val": tune}), *(callbacks or [])],
                        time_limit, trainer_options=trainer_options, val_batches=len(tune_loader))
    module = AlignmentModule(net, config, keys, caches, run.total_steps(len(train), config.batch_size))
    history = run.fit(module, train_loader, tune_loader)
    net.eval()
    return {**history, "trainer": run.hardware()}


def split_by_item(table: Table, group_column: str, fraction: float, seed: int) -> tuple[Table, Table]:
    """A random split in which rows of the same item (same ``group_column`` value) stay together."""
    from sklearn.model_selection import GroupShuffleSplit

    groups = table.frame[group_column].astype(str).to_numpy()
    if len(set(groups)) < 4:
        raise DataError(f"{table.source}: too few items to hold out tuning data; give tuning_data")
    train_rows, tune_rows = next(GroupShuffleSplit(1, test_size=fraction, random_state=seed)
                                 .split(groups, groups=groups))
    part = lambda rows: Table(table.frame.iloc[np.sort(rows)].reset_index(drop=True), table.source, table.base_dir)  # noqa: E731
    return part(train_rows), part(tune_rows)
