"""Training towers into a shared space with Lightning: cached frozen features, positives by item."""

from __future__ import annotations

import itertools
import math
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from transmodal.alignment.config import AlignConfig
from transmodal.alignment.towers import AlignmentNet
from transmodal.data.dataset import Collator, TableDataset
from transmodal.engine.schedule import warmup_cosine
from transmodal.losses.contrastive import positive_mask
from transmodal.metrics.retrieval import first_relevant_rank


def row_keys(frame: pd.DataFrame, columns: list[str], item_column: str | None) -> list[np.ndarray]:
    """Integer keys per row: one per column (rows with the same cell show the same item) and the
    item column's values when given. Two rows are positives when any key agrees."""
    keys = [pd.factorize(frame[c].astype(str))[0] for c in columns]
    if item_column is not None:
        keys.append(pd.factorize(frame[item_column].astype(str))[0])
    return keys


def loader(dataset: TableDataset, net: AlignmentNet, config: AlignConfig, shuffle: bool) -> DataLoader:
    """Batches of ``dataset`` prepared by each tower's encoder."""
    encoders = {c: net.encoder(c) for c in net.columns}
    return DataLoader(dataset, batch_size=config.batch_size, shuffle=shuffle, collate_fn=Collator(encoders),
                      num_workers=config.num_workers)


@torch.no_grad()
def frozen_features(net: AlignmentNet, dataset: TableDataset, config: AlignConfig) -> dict[str, torch.Tensor]:
    """Encoder features (N, D_enc) of every frozen encoder's column, computed once per fit."""
    frozen = [c for c in net.columns if net.encoder(c).frozen]
    if not frozen:
        return {}
    values = {c: torch.zeros(len(dataset), net.encoder(c).output_dim) for c in frozen}
    dataset.skip_inputs = set(net.columns) - set(frozen)
    for batch in loader(dataset, net, config, shuffle=False):
        for column in frozen:
            values[column][batch["index"]] = net.encoder(column).eval()(batch["inputs"][column]).float()
    dataset.skip_inputs = set(frozen)  # training decodes only the trainable towers' files
    return values


def parameter_groups(net: AlignmentNet, config: AlignConfig) -> list[dict[str, Any]]:
    """AdamW groups: trainable pretrained encoders at ``encoder_learning_rate``, the rest at
    ``learning_rate``; no weight decay on biases, norms and the temperature."""
    pretrained = {id(p) for c in net.columns if net.encoder(c).weights_from_reference for p in net.encoder(c).parameters()}
    groups = []
    for is_pretrained, lr in ((False, config.learning_rate), (True, config.encoder_learning_rate)):
        params = [p for p in net.parameters() if p.requires_grad and (id(p) in pretrained) == is_pretrained]
        groups += [{"params": [p for p in params if p.ndim >= 2], "lr": lr, "weight_decay": config.weight_decay},
                   {"params": [p for p in params if p.ndim < 2], "lr": lr, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


class AlignmentModule(L.LightningModule):
    """Contrastive training of every pair of towers; validation scores the tuning MRR.

    Args:
        net: The towers and loss.
        config: The alignment configuration.
        keys: ``{"train": [...], "val": [...]}`` row keys (see :func:`row_keys`).
        cached: ``{"train": {column: (N, D_enc)}, "val": {...}}`` features of frozen encoders.
        total_steps: Optimizer steps of the run.
    """

    def __init__(self, net: AlignmentNet, config: AlignConfig, keys: dict[str, list[np.ndarray]],
                 cached: dict[str, dict[str, torch.Tensor]], total_steps: int) -> None:
        super().__init__()
        self.net = net
        self.config = config
        self.keys = {stage: [torch.as_tensor(k) for k in ks] for stage, ks in keys.items()}
        self.cached = cached
        self.total_steps = max(1, total_steps)
        self.pairs = list(itertools.combinations(net.columns, 2))
        self._val: list[tuple[torch.Tensor, dict[str, torch.Tensor]]] = []

    def embed(self, batch: dict[str, Any], stage: str) -> dict[str, torch.Tensor]:
        """Shared-space embeddings (B, D) per column, frozen features from the cache."""
        out = {}
        for column in self.net.columns:
            cache = self.cached[stage].get(column)
            tower = self.net.tower(column)
            features = cache[batch["index"]].to(self.device) if cache is not None else tower.encoder(batch["inputs"][column])
            out[column] = tower.project(features)
        return out

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        embeddings = self.embed(batch, "train")
        positives = positive_mask(*[k[batch["index"]].to(self.device) for k in self.keys["train"]])  # (B, B)
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
        masks = {c: batch["masks"][c] for c in self.net.columns}
        self._val.append((batch["index"].cpu(), {c: (e.detach().cpu(), masks[c].cpu()) for c, e in embeddings.items()}))

    def on_validation_epoch_end(self) -> None:
        index = torch.cat([i for i, _ in self._val])
        keys = [k[index] for k in self.keys["val"]]
        relevant = positive_mask(*keys).numpy()  # (N, N)
        scores = []
        for a, b in self.pairs:
            ea, ma = (torch.cat([v[a][j] for _, v in self._val]) for j in (0, 1))
            eb, mb = (torch.cat([v[b][j] for _, v in self._val]) for j in (0, 1))
            rows = (ma & mb).numpy()
            similarity = (ea @ eb.t()).numpy()[rows][:, rows]
            rel = relevant[rows][:, rows]
            for sim, r in ((similarity, rel), (similarity.T, rel.T)):
                scores.append(float((1.0 / first_relevant_rank(sim, r)).mean()))
        self.log("val_score", float(np.mean(scores)), prog_bar=True)

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(parameter_groups(self.net, self.config))
        warmup = int(self.config.warmup_ratio * self.total_steps)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: warmup_cosine(s, self.total_steps, warmup))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def fit_alignment(net: AlignmentNet, config: AlignConfig, train: TableDataset, tune: TableDataset,
                  keys: dict[str, list[np.ndarray]], seed: int) -> dict[str, Any]:
    """Train ``net`` in place, restore the best epoch (by tuning MRR) and return the history."""
    import logging
    import time

    from lightning.pytorch.callbacks import EarlyStopping

    from transmodal.engine.callbacks import BestState, History
    from transmodal.engine.training import lightning_notices_silenced

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    L.seed_everything(seed, workers=True, verbose=False)
    start = time.perf_counter()
    cached = {"train": frozen_features(net, train, config), "val": frozen_features(net, tune, config)}
    steps = config.max_epochs * math.ceil(len(train) / config.batch_size)
    module = AlignmentModule(net, config, keys, cached, steps)
    best, history = BestState(), History()
    trainer = L.Trainer(max_epochs=config.max_epochs, accelerator="cpu", devices=1, logger=False,
                        enable_checkpointing=False, enable_model_summary=False,
                        enable_progress_bar=config.progress_bar, num_sanity_val_steps=0,
                        gradient_clip_val=config.gradient_clip,
                        callbacks=[best, history, EarlyStopping("val_score", mode="max", patience=config.patience)])
    with lightning_notices_silenced():
        trainer.fit(module, loader(train, net, config, shuffle=True), loader(tune, net, config, shuffle=False))
    train.skip_inputs, tune.skip_inputs = set(), set()
    net.eval()
    return {"epochs": history.epochs, "best_epoch": best.best_epoch, "best_score": best.best_score,
            "fit_seconds": time.perf_counter() - start}
