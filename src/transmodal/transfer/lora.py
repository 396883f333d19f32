"""``lora``: low-rank (LoRA) or IA3 adapters from ``peft`` inside every encoder.

Adapters go on the ``Linear`` and ``Conv1d/2d`` layers of each encoder: the attention and
feed-forward projections of a transformers model, the convolutions and projection of a built-in
net. Base weights stay frozen; the adapters, the fusion and the heads train (and, for built-in
nets, the small normalisation layers).

A saved LoRA predictor holds only what changed plus a reference to the base: frozen base weights of
a transformers encoder rebuild from its checkpoint, those of a built-in net from the ``init_from``
folder, whose path and weights' SHA-256 are stored in ``config.json`` (``transfer.base``) and
checked on load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from transmodal.errors import ConfigError, ModelLoadError
from transmodal.transfer.base import STRATEGIES, encoders, set_trainable

ADAPTED = (nn.Linear, nn.Conv1d, nn.Conv2d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)
METHODS = ("lora", "ia3")


@STRATEGIES.register("lora")
def lora(ctx, options: dict) -> None:
    """Insert adapters in every encoder; only they (plus fusion and heads) train.

    Options:
        method: ``lora`` (default) or ``ia3``.
        r: LoRA rank (default 8).
        lora_alpha: LoRA scaling numerator (default 2 r).
        lora_dropout: Dropout on the LoRA path (default 0.0).
        train_norms: Also train the normalisation layers of built-in nets (default True).
    """
    spec = adapter_spec(options)
    adapters = {}
    chosen = {id(e) for e in encoders(ctx.net, options)}
    for name in ctx.net.input_names:
        encoder = ctx.net.encoder(name)
        if id(encoder) not in chosen:
            continue
        entry = {**spec, "train_norms": bool(spec["train_norms"]) and not encoder.weights_from_reference}
        if inject(encoder, entry):
            adapters[name] = entry
    if not adapters:
        raise ConfigError("transfer.strategy=lora: no encoder has a Linear or Conv layer to adapt")
    ctx.config.transfer["adapters"] = adapters
    base = base_reference(ctx.options.get("init_from"))
    if base is not None:
        ctx.config.transfer["base"] = base
    ctx.net.base_weight_keys = base_keys(ctx.net, adapters, base is not None)


def adapter_spec(options: dict) -> dict[str, Any]:
    """The JSON adapter settings from the ``transfer`` options (defaults filled in)."""
    method = options.get("method", "lora")
    if method not in METHODS:
        raise ConfigError(f"unknown transfer.method {method!r}; known: {list(METHODS)}")
    r = int(options.get("r", 8))
    return {"method": method, "r": r, "lora_alpha": float(options.get("lora_alpha", 2 * r)),
            "lora_dropout": float(options.get("lora_dropout", 0.0)),
            "train_norms": bool(options.get("train_norms", True))}


def target_modules(encoder: nn.Module) -> list[str]:
    """Names (inside ``encoder``) of the layers that get adapters."""
    return [name for name, module in encoder.named_modules() if name and isinstance(module, ADAPTED)]


def inject(encoder, spec: dict[str, Any]) -> bool:
    """Put ``spec``'s adapters into ``encoder`` in place; False when there is nothing to adapt."""
    import peft

    targets = target_modules(encoder)
    if not targets:
        return False
    if spec["method"] == "lora":
        config = peft.LoraConfig(r=spec["r"], lora_alpha=spec["lora_alpha"], lora_dropout=spec["lora_dropout"],
                                 target_modules=targets)
    else:
        config = peft.IA3Config(target_modules=targets, feedforward_modules=[])
    encoder.frozen = False  # adapters train: no embedding cache, training mode
    encoder.settings["frozen"] = False
    set_trainable(encoder, True)
    peft.inject_adapter_in_model(config, encoder)  # freezes everything but the adapters
    if spec.get("train_norms"):
        for module in encoder.modules():
            if isinstance(module, NORMS):
                set_trainable(module, True)
    return True


def base_reference(init_from: Any) -> dict[str, str] | None:
    """``{"path", "sha256"}`` of the ``init_from`` folder's weights, or None (no folder given)."""
    from transmodal.persistence import WEIGHTS_FILE, sha256

    if not isinstance(init_from, (str, Path)):
        return None
    weights = Path(init_from).resolve() / WEIGHTS_FILE
    return {"path": str(weights.parent), "sha256": sha256(weights)}


def base_keys(net, adapters: dict[str, dict], has_base_folder: bool) -> set[str]:
    """State keys of frozen base parameters that rebuild from a reference and are not saved."""
    from transmodal.fusion.base import module_key

    keys = set()
    for name in adapters:
        encoder = net.encoder(name)
        if not (encoder.weights_from_reference or has_base_folder):
            continue
        prefix = f"encoders.{module_key(name)}."
        keys |= {prefix + key for key, p in encoder.named_parameters() if not p.requires_grad}
    return keys


def restore(predictor) -> None:
    """On load: copy the base weights (verified) into the plain network, then re-insert adapters."""
    transfer = predictor.config_.transfer or {}
    adapters = transfer.get("adapters")
    if not adapters:
        return
    net = predictor.net_
    base = transfer.get("base")
    if base:
        load_base(net, base, list(adapters))
    for name, spec in adapters.items():
        inject(net.encoder(name), spec)
    net.base_weight_keys = base_keys(net, adapters, bool(base))


def load_base(net, base: dict[str, str], inputs: list[str]) -> None:
    """Copy ``inputs``' encoder weights from the base folder after checking its SHA-256.

    Raises:
        ModelLoadError: the base folder is gone or its weights changed since the adapters were trained.
    """
    from transmodal.fusion.base import module_key
    from transmodal.persistence import WEIGHTS_FILE, load_weights, sha256

    weights = Path(base["path"]) / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelLoadError(f"the base model of these adapters is missing: {weights} does not exist")
    if sha256(weights) != base["sha256"]:
        raise ModelLoadError(f"the base model {weights} changed since the adapters were trained (SHA-256 differs)")
    prefixes = tuple(f"encoders.{module_key(n)}." for n in inputs)
    own = net.state_dict()
    state = {k: v for k, v in load_weights(base["path"]).items()
             if k.startswith(prefixes) and k in own and own[k].shape == v.shape}
    net.load_state_dict(state, strict=False)
