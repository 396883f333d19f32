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


def base_reference(init_from: Any) -> dict[str, str] | None:
    """``{"path", "sha256"}`` of the ``init_from`` folder's weights, or None (no folder given)."""
    from transmodal.persistence import WEIGHTS_FILE, sha256

    if not isinstance(init_from, (str, Path)):
        return None
    weights = Path(init_from).resolve() / WEIGHTS_FILE
    return {"path": str(weights.parent), "sha256": sha256(weights)}
