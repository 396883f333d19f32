"""``lora``: low-rank (LoRA) or IA3 adapters from ``peft`` inside every encoder.

Adapters go on the ``Linear`` and ``Conv1d/2d`` layers of each encoder
(:mod:`transmodal.encoders.adapters`). Base weights stay frozen; the adapters, the fusion and the
heads train (and, for built-in nets, the small normalisation layers).

A saved LoRA predictor holds only what changed plus a reference to the base: frozen base weights of
a transformers encoder rebuild from its checkpoint, those of a built-in net from the ``init_from``
folder, whose path and weights' SHA-256 are stored in the saved model spec (``base``) and checked on
load; the adapters' settings are in the spec too (``adapters``), so loading re-inserts them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L

from transmodal.encoders.adapters import adapter_spec, inject, resolve_inference_quantize
from transmodal.errors import ConfigError
from transmodal.transfer.base import STRATEGIES, StrategyContext, encoders, trains_encoders
from transmodal.transfer.settings import TransferSettings

DEFAULT_INFERENCE_QUANTIZE = TransferSettings.inference_quantize  # transfer.inference_quantize when not given


@STRATEGIES.register("lora")
@trains_encoders
def lora(ctx: StrategyContext, options: dict) -> None:
    """Insert adapters in every encoder; only they (plus fusion and heads) train.

    Options:
        method: ``lora`` (default) or ``ia3``.
        r: LoRA rank (default 8).
        lora_alpha: LoRA scaling numerator (default 2 r).
        lora_dropout: Dropout on the LoRA path (default 0.0).
        train_norms: Also train the normalisation layers of built-in nets (default True).
        top_layers: Adapters only in the top N transformer layers of each encoder (default None:
            every layer). A BERT-like text encoder then runs its frozen lower layers once per row
            during the fit and keeps their outputs in memory (:mod:`transmodal.encoders.layer_cache`):
            an epoch runs only the top layers (about half a step's time for the top 3 of MiniLM's 6).
        inference_quantize: ``"int8"``: predict through an int8 copy of the merged encoder (faster
            on a CPU), with fusion and heads refitted on its int8 features after training
            (``calibrate_epochs``, default 3; :mod:`transmodal.transfer.int8_calibration`); ``"auto"``:
            as the encoder was set before the adapters went in (int8 for the packaged MiniLM on a
            CPU), and fp32 in a fit with a time limit (the calibration's encoding pass is not in its
            budget); the default (test AUROC of the transfer benchmark's LoRA predictor: int8
            0.9617, fp32 0.9610; benchmarks/RESULTS.md, issue 15 c); ``None``: fp32.
        calibrate_epochs: Epochs of that refit (0: the head as trained predicts from int8 features).
    """
    spec = adapter_spec({"inference_quantize": DEFAULT_INFERENCE_QUANTIZE, **options})
    if spec["inference_quantize"] == "auto" and ctx.time_limit:  # int8 calibrates after training: an
        spec = {**spec, "inference_quantize": None}  # extra encoding pass a time budget does not plan for
    chosen = {id(e) for e in encoders(ctx.net, options)}
    for name in ctx.net.input_names:
        encoder = ctx.net.encoder(name)
        if id(encoder) not in chosen:
            continue
        entry = {**resolve_inference_quantize(encoder, spec),
                 "train_norms": bool(spec["train_norms"]) and not encoder.weights_from_reference}
        if inject(encoder, entry):
            ctx.adapters[name] = entry
    if not ctx.adapters:
        raise ConfigError("transfer.strategy=lora: no encoder has a Linear or Conv layer to adapt")
    ctx.base = base_reference(ctx.init_from)
    if spec.get("top_layers"):
        cached = {name: lower_layers(ctx.net.encoder(name), spec["top_layers"]) for name in ctx.adapters}
        cached = {name: below for name, below in cached.items() if below}
        if cached:
            ctx.callbacks.append(LowerLayerCaching(cached))


def lower_layers(encoder, top: int) -> int | None:
    """How many of ``encoder``'s transformer layers (counted from the input) can be run once per row
    when only its top ``top`` train: None when it cannot cache them (not a BERT-like text encoder, or
    the encoder's ``can_cache_lower_layers`` refuses that many: e.g. no layer below the top ``top``)
    or when anything below the top layers trains."""
    from transmodal.encoders.layer_cache import layer_stack

    stack = layer_stack(getattr(encoder, "model", None)) if hasattr(encoder, "can_cache_lower_layers") else None
    if stack is None:
        return None
    embeddings, layers = stack
    below = len(layers) - top
    if not encoder.can_cache_lower_layers(below):
        return None
    lower = [embeddings, *layers[:below]]
    if any(p.requires_grad for module in lower for p in module.parameters()):
        return None
    return below


class LowerLayerCaching(L.Callback):
    """Switches the lower-layer cache of the adapted text encoders on for one fit (training and its
    validation passes) and off at its end, so the fitted predictor runs every layer and keeps no
    rows in memory.

    Args:
        below: Input name -> layers run once per row.
    """

    def __init__(self, below: dict[str, int]) -> None:
        self.below = dict(below)

    def _switch(self, module: L.LightningModule, on: bool) -> None:
        for name, below in self.below.items():
            module.net.encoder(name).cache_lower_layers(below if on else None)

    def on_fit_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._switch(module, True)

    def on_fit_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._switch(module, False)

    def on_exception(self, trainer: L.Trainer, module: L.LightningModule, exception: BaseException) -> None:
        self._switch(module, False)


def base_reference(init_from: Any) -> dict[str, str] | None:
    """``{"path", "sha256"}`` of the ``init_from`` folder's weights, or None (no folder given)."""
    from transmodal.persistence import WEIGHTS_FILE, sha256

    if not isinstance(init_from, (str, Path)):
        return None
    weights = Path(init_from).resolve() / WEIGHTS_FILE
    return {"path": str(weights.parent), "sha256": sha256(weights)}
