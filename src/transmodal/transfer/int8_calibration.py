"""Refitting fusion and heads on the int8 features a LoRA predictor predicts from.

A LoRA predictor with ``transfer.inference_quantize="int8"`` predicts through int8 copies of its
merged encoders (:func:`transmodal.encoders.adapters.merge_for_inference`): the cost of a frozen
int8 encoder. Its fusion and heads were trained on the fp32 features of the unmerged encoders, so
int8's small feature error reaches a head fitted to fp32 features (issue 15 c: -0.0066 AUROC on a
weak model). :func:`calibrate_heads`, run after training, merges the adapters, encodes the training
and tuning rows once through the int8 copies (length-sorted, as a prediction does; the merged
encoders' features never go to the embedding store), and trains the fusion and heads on those
features for a few epochs with every encoder frozen. The epoch with the best tuning score is kept;
when none beats the head as trained (scored on the same int8 features), the head as trained is kept.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from typing import Any, Iterator

import numpy as np
import torch

from transmodal.config import FitConfig
from transmodal.data.dataset import TableDataset
from transmodal.encoders.adapters import merge_for_inference, quantized_after_merge
from transmodal.engine.contract import named_encoders
from transmodal.model import MultimodalNet

log = logging.getLogger(__name__)


def calibrate_heads(net: MultimodalNet, config: FitConfig, train: TableDataset, tune: TableDataset,
                    eval_metric: str, adapters: dict[str, dict], epochs: int, seed: int = 0,
                    select_epoch: bool = True, class_weights: dict | None = None,
                    sampler_weights: np.ndarray | None = None) -> tuple[dict[str, Any], dict | None]:
    """Merge ``net``'s adapters and refit its fusion and heads on the features the merged encoders
    give when predicting: int8 for an input whose adapter says ``inference_quantize="int8"``, fp32
    otherwise (see the module doc; the fit calls it for int8 only, fp32 is a control for benchmarks).

    Args:
        config: The fit's training config; the calibration uses it with ``max_epochs=epochs``.
        adapters: The model spec's adapters per input.
        select_epoch: Keep the best epoch by tuning score (or the head as trained); False: the last.

    Returns:
        A record for the fit history (seconds, tuning scores before and after, epoch kept), and the
        kept state's scores of the tuning rows per task (None when ``epochs`` is 0).
    """
    from transmodal.engine.training import fit_network

    merge_for_inference(net, adapters)
    if epochs <= 0:
        return {}, None
    start, kind = time.perf_counter(), "int8" if quantized_after_merge(adapters) else "fp32"
    calibration = dataclasses.replace(config, max_epochs=epochs, patience=epochs, embedding_cache=True)
    stored = [name for name, encoder in named_encoders(net).items() if encoder.frozen]  # frozen before: their store rows
    with frozen_encoders(net):
        caches = prediction_features(net, calibration, {"train": train, "val": tune}, stored)
        encoded = time.perf_counter() - start
        before, before_scores = scored_tuning_rows(net, tune, calibration, eval_metric, caches["val"])
        trained = {k: v.detach().clone() for k, v in net.state_dict().items() if not k.startswith("encoders.")}
        log.info("calibration: fusion and heads refitted on %s features of the merged encoders (%d epoch(s); "
                 "tuning score with the head as trained: %.4f)", kind, epochs, before)
        history = fit_network(net, calibration, train, tune, eval_metric, class_weights or {}, sampler_weights,
                              seed, None, select_epoch=select_epoch, caches=caches)
        kept = not select_epoch or history["best_score"] > before
        if not kept:
            net.load_state_dict(trained, strict=False)
    net.eval()
    record = {"features": kind, "epochs": epochs, "encoding_seconds": round(encoded, 3),
              "seconds": round(time.perf_counter() - start, 3), "tuning_score_as_trained": before,
              "tuning_score_calibrated": history["best_score"], "best_epoch": history["best_epoch"],
              "kept": "calibrated" if kept else "as trained"}
    log.info("calibration: kept the head %s (tuning score %.4f) in %.1f s", record["kept"],
             history["best_score"] if kept else before, record["seconds"])
    return record, (history.get("tuning_scores") if kept else before_scores)


@contextlib.contextmanager
def frozen_encoders(net: MultimodalNet) -> Iterator[None]:
    """Within the block every encoder of ``net`` is frozen (eval mode, cached, no gradient); their
    flags and trainable parameters are as before afterwards."""
    before = []
    for encoder in named_encoders(net).values():
        before.append((encoder, encoder.frozen, [p.requires_grad for p in encoder.parameters()]))
        encoder.frozen = True
        for parameter in encoder.parameters():
            parameter.requires_grad_(False)
        encoder.train(False)
    try:
        yield
    finally:
        for encoder, frozen, grads in before:
            encoder.frozen = frozen
            for parameter, grad in zip(encoder.parameters(), grads):
                parameter.requires_grad_(grad)


def prediction_features(net: MultimodalNet, config: FitConfig, datasets: dict[str, TableDataset],
                        stored: list[str]) -> dict[str, Any]:
    """``{"train", "val"}`` caches of every input's features as a prediction computes them (the
    encoders frozen by :func:`frozen_encoders`); only the ``stored`` inputs (frozen before the
    calibration, so their features are the encoder's own) go through the embedding store: an adapted
    encoder's merged features are not written there."""
    from transmodal.embedding_store import open_store
    from transmodal.engine.cache import stage_caches
    from transmodal.engine.encoding import fill_cache

    store = open_store() if config.embedding_store else None
    caches = stage_caches(net, datasets)
    for stage, cache in caches.items():
        for names, shared in (([n for n in cache.names if n in stored], store),
                              ([n for n in cache.names if n not in stored], None)):
            if names:
                fill_cache(net, datasets[stage], cache, shared, config.encode_batch_size, names=names, min_write=1)
    return caches


@torch.no_grad()
def scored_tuning_rows(net: MultimodalNet, tune: TableDataset, config: FitConfig, eval_metric: str,
                       cache) -> tuple[float, dict[str, np.ndarray]]:
    """The early-stopping score of ``net`` on the tuning rows (features from ``cache``) and the
    rows' scores per task."""
    from transmodal.engine.inference import run_inference
    from transmodal.engine.module import tuning_score

    scores = run_inference(net, tune, config, cache=cache)["scores"]
    pairs = {name: [(torch.from_numpy(np.asarray(values)), torch.from_numpy(np.asarray(tune.targets[name])))]
             for name, values in scores.items()}
    return tuning_score(net.tasks, eval_metric, pairs)[0], scores
