"""Batched inference without Lightning: outputs, scores and fused embeddings for a dataset."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from transmodal.config import FitConfig
from transmodal.data.dataset import TableDataset
from transmodal.engine.cache import EmbeddingCache
from transmodal.model import MultimodalNet, outputs_to_scores


@torch.no_grad()
def run_inference(net: MultimodalNet, dataset: TableDataset, config: FitConfig,
                  batch_size: int | None = None, transform=None, cache: EmbeddingCache | None = None) -> dict[str, Any]:
    """Scores per task and fused embeddings for every row of ``dataset``.

    Args:
        transform: Optional ``fn(batch) -> batch`` applied before the forward pass (noise, masking).
        cache: Features of frozen inputs for this dataset's rows, filled on the first pass and read
            on later ones (see :func:`frozen_cache`). Only for transforms that leave those inputs
            unchanged (e.g. masking), since cached features ignore the inputs.

    Returns:
        ``{"scores": {task: ndarray (N, K) or (N,)}, "embedding": ndarray (N, H)}``.
    """
    from transmodal.engine.training import make_loader

    net.eval()
    loader = make_loader(dataset, net, _with_batch(config, batch_size), shuffle=False)
    scores: dict[str, list] = {t.name: [] for t in net.tasks}
    embeddings = []
    for batch in loader:
        if transform is not None:
            batch = transform(batch)
        out = net(batch["inputs"], batch["masks"], features=cache.features(net, batch) if cache is not None else None)
        for task in net.tasks:
            scores[task.name].append(outputs_to_scores(out["outputs"][task.name].float(), task).numpy())
        embeddings.append(out["embedding"].float().numpy())
    return {"scores": {k: np.concatenate(v) for k, v in scores.items()},
            "embedding": np.concatenate(embeddings) if embeddings else np.zeros((0, 0), np.float32)}


def frozen_cache(net: MultimodalNet, dataset: TableDataset) -> EmbeddingCache:
    """An empty cache for the frozen inputs of ``net`` over the rows of ``dataset``."""
    from transmodal.engine.cache import frozen_dims

    return EmbeddingCache(len(dataset), frozen_dims(net))


def _with_batch(config: FitConfig, batch_size: int | None) -> FitConfig:
    if batch_size is None:
        return config
    from dataclasses import replace

    return replace(config, batch_size=batch_size)
