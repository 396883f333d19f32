"""Modality importance: how much the eval metric drops without each input.

Two measures: ``mask`` removes the input through its presence mask (the model sees it as absent,
exactly as for a row lacking it), and ``permutation`` shuffles the input's column(s) across rows,
which breaks its link to the label while keeping its distribution.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

METHODS = ("mask", "permutation")


def _hide(name: str):
    def transform(batch):
        masks = dict(batch["masks"])
        masks[name] = masks[name] & False
        return {**batch, "masks": masks}

    return transform


def _permuted(predictor, table, spec, rng: np.random.Generator):
    """A dataset of ``table`` whose columns of input ``spec`` are shuffled by one permutation."""
    from transmodal.data.dataset import TableDataset
    from transmodal.data.readers import Table

    frame = table.frame.copy()
    order = rng.permutation(len(frame))
    for column in spec.columns:
        frame[column] = frame[column].to_numpy()[order]
    targets, _ = predictor.encode_targets(table, predictor.tasks_)
    return TableDataset(Table(frame, table.source, table.base_dir), predictor.inputs_, targets, predictor._root())


def modality_importance(predictor, data, method: str = "mask", repeats: int = 3,
                        seed: int = 0) -> dict[str, float]:
    """``{input: drop of the eval metric}`` when the input is removed (``method="mask"``, through
    its presence mask) or shuffled across rows (``method="permutation"``); oriented so that
    positive = the input helps.

    Args:
        predictor: A fitted MultimodalPredictor.
        data: Labelled data (DataFrame or path).
        method: ``mask`` or ``permutation``.
        repeats: Permutations averaged per input (``permutation`` only).
        seed: Seed of the permutations.
    """
    from transmodal.data.readers import read_table
    from transmodal.errors import ConfigError
    from transmodal.experiments.robustness import dataset_score
    from transmodal.metrics.base import METRICS

    if method not in METHODS:
        raise ConfigError(f"unknown importance method {method!r}; known: {list(METHODS)}")
    dataset = predictor.dataset(data, with_targets=True)  # raises NotFittedError first
    metric = METRICS.get(predictor.eval_metric_)
    clean = metric.score(dataset_score(predictor, dataset))
    rng = np.random.default_rng(seed)
    result = {}
    for spec in predictor.inputs_:
        if method == "mask":
            drops: Sequence[float] = [clean - metric.score(dataset_score(predictor, dataset, _hide(spec.name)))]
        else:
            table = read_table(data)
            drops = [clean - metric.score(dataset_score(predictor, _permuted(predictor, table, spec, rng)))
                     for _ in range(max(1, repeats))]
        result[spec.name] = float(np.mean(drops))
    return result
