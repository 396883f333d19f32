"""Batched inference without Lightning: outputs, scores and fused embeddings for a dataset.

The prediction path builds no Trainer and no DataLoader: frozen inputs are encoded up front (each
distinct cell once, length-sorted, through the persistent embedding store; see
:mod:`transmodal.engine.encoding`), then rows are collated in order, batch by batch, and run through
the rest of the network.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from transmodal.config import FitConfig
from transmodal.data.dataset import Collator, TableDataset
from transmodal.engine.cache import EmbeddingCache, frozen_dims
from transmodal.engine.contract import named_encoders
from transmodal.model import MultimodalNet, outputs_to_scores


@torch.no_grad()
def run_inference(net: MultimodalNet, dataset: TableDataset, config: FitConfig,
                  batch_size: int | None = None, transform=None, cache: EmbeddingCache | None = None) -> dict[str, Any]:
    """Scores per task and fused embeddings for every row of ``dataset``.

    Args:
        transform: Optional ``fn(batch) -> batch`` applied before the forward pass (noise, masking).
            Without a ``cache`` the frozen inputs are then encoded from the transformed batch.
        cache: Features of frozen inputs for this dataset's rows, filled up front when incomplete and
            reused by later passes (see :func:`frozen_cache`). Only for transforms that leave those
            inputs unchanged (e.g. masking), since cached features ignore the inputs. Without a
            transform, every input is encoded up front for the call (length-sorted, each distinct
            cell once; frozen encoders through the store).

    Returns:
        ``{"scores": {task: ndarray (N, K) or (N,)}, "embedding": ndarray (N, H)}``.
    """
    if net.training:  # walking every module costs milliseconds on a one-row prediction
        net.eval()
    if cache is None and transform is None:  # in eval mode every encoder is a function of the cell alone
        cache = EmbeddingCache(len(dataset), {n: e.output_dim for n, e in named_encoders(net).items()})
    if cache is not None:
        fill_missing_inputs(net, dataset, cache, config)
    collate = Collator(named_encoders(net))
    size = batch_size or config.batch_size
    scores: dict[str, list] = {t.name: [] for t in net.tasks}
    embeddings = []
    skipped, dataset.skip_inputs = dataset.skip_inputs, set(cache.names) if cache is not None else set()
    try:
        for start in range(0, len(dataset), size):
            batch = collate([dataset[row] for row in range(start, min(start + size, len(dataset)))])
            if transform is not None:
                batch = transform(batch)
            out = net(batch["inputs"], batch["masks"], features=cache.features(net, batch) if cache is not None else None)
            for task in net.tasks:
                scores[task.name].append(outputs_to_scores(out["outputs"][task.name].float(), task).numpy())
            embeddings.append(out["embedding"].float().numpy())
    finally:
        dataset.skip_inputs = skipped
    return {"scores": {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in scores.items()},
            "embedding": np.concatenate(embeddings) if embeddings else np.zeros((0, 0), np.float32)}


def fill_missing_inputs(net: MultimodalNet, dataset: TableDataset, cache: EmbeddingCache, config: FitConfig) -> None:
    """Encode up front the inputs of ``cache`` that are not complete yet (store per the config)."""
    from transmodal.embedding_store import open_store
    from transmodal.engine.encoding import fill_cache

    todo = [name for name in cache.names if not cache.complete(name)]
    if todo:
        store = open_store() if config.embedding_store else None
        fill_cache(net, dataset, cache, store, config.encode_batch_size, names=todo)


def frozen_cache(net: MultimodalNet, dataset: TableDataset) -> EmbeddingCache:
    """An empty cache for the frozen inputs of ``net`` over the rows of ``dataset``."""
    return EmbeddingCache(len(dataset), frozen_dims(net))
