"""peft adapters (LoRA or IA3) inside an encoder: inserted by the ``lora`` transfer strategy during a
fit, and again by the loader from the saved model spec.

Adapters go on the ``Linear`` and ``Conv1d/2d`` layers of an encoder: the attention and
feed-forward projections of a transformers model, the convolutions and projection of a built-in
net. Base weights stay frozen; with ``train_norms`` the small normalisation layers train too.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from transmodal.encoders.adapter_defaults import AdapterDefaults, resolved_lora_alpha
from transmodal.encoders.hf_loading import LAYER_NAMES, layer_number
from transmodal.encoders.quantization import INT8_MODES
from transmodal.encoders.threads import intra_op_threads
from transmodal.errors import ConfigError

ADAPTED = (nn.Linear, nn.Conv1d, nn.Conv2d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)
METHODS = ("lora", "ia3")
INFERENCE_QUANTIZE = (None, *INT8_MODES, "auto")


def adapter_spec(options: dict) -> dict[str, Any]:
    """The JSON adapter settings from the ``transfer`` options (defaults filled in:
    :class:`~transmodal.encoders.adapter_defaults.AdapterDefaults`, ``lora_alpha`` 2 ``r``:
    :func:`~transmodal.encoders.adapter_defaults.resolved_lora_alpha`).

    ``inference_quantize`` (None when not given: fp32; the ``lora`` strategy's default is ``"auto"``)
    may be ``"auto"`` here;
    :func:`resolve_inference_quantize` settles it per encoder before the adapters go in.

    Raises:
        ConfigError: unknown ``method`` or ``inference_quantize``.
    """
    method = options.get("method", AdapterDefaults.method)
    if method not in METHODS:
        raise ConfigError(f"unknown transfer.method {method!r}; known: {list(METHODS)}")
    quantize = options.get("inference_quantize")
    if quantize not in INFERENCE_QUANTIZE:
        raise ConfigError(f"transfer.inference_quantize={quantize!r} is not a valid choice; valid: "
                          f"{list(INFERENCE_QUANTIZE)}")
    r = int(options.get("r", AdapterDefaults.r))
    top = options.get("top_layers")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ConfigError(f"transfer.top_layers must be a whole number >= 1 or null, got {top!r}")
    if top is not None and method != "lora":
        raise ConfigError(f"transfer.top_layers applies to method 'lora', not {method!r}")
    return {"method": method, "r": r, "lora_alpha": resolved_lora_alpha(r, options.get("lora_alpha")),
            "lora_dropout": float(options.get("lora_dropout", AdapterDefaults.lora_dropout)),
            "train_norms": bool(options.get("train_norms", AdapterDefaults.train_norms)),
            "inference_quantize": quantize,
            **({"top_layers": top} if top is not None else {})}  # only when set: older specs unchanged


def resolve_inference_quantize(encoder, spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with ``inference_quantize="auto"`` replaced by the encoder's own ``quantize`` setting
    (called before :func:`inject`, which drops that setting: adapters train in fp32)."""
    if spec.get("inference_quantize") != "auto":
        return spec
    return {**spec, "inference_quantize": getattr(encoder, "settings", {}).get("quantize")}


def target_modules(encoder: nn.Module) -> list[str]:
    """Names (inside ``encoder``) of the layers that get adapters."""
    return [name for name, module in encoder.named_modules() if name and isinstance(module, ADAPTED)]


def layer_indexes(targets: list[str]) -> list[int]:
    """The transformer layer numbers (``layer.N.``, ``layers.N.``, ``blocks.N.``) in ``targets``'
    names, sorted, each once."""
    return sorted({n for n in map(layer_number, targets) if n is not None})


def top_layer_indexes(encoder: nn.Module, targets: list[str], top: int) -> list[int]:
    """The numbers of the top ``top`` transformer layers among ``targets`` (peft's
    ``layers_to_transform``).

    Raises:
        ConfigError: the encoder's layers are not numbered (e.g. a built-in CNN).
    """
    numbers = layer_indexes(targets)
    if not numbers:
        raise ConfigError(f"transfer.top_layers={top}: {type(encoder).__name__} has no numbered transformer layers; "
                          "leave top_layers unset to adapt every layer")
    return numbers[-top:]


def _set_trainable(module: nn.Module, trainable: bool) -> None:
    for parameter in module.parameters():
        parameter.requires_grad_(trainable)


def inject(encoder, spec: dict[str, Any]) -> bool:
    """Put ``spec``'s adapters into ``encoder`` in place; False when there is nothing to adapt."""
    import peft

    from transmodal.encoders.quantization import drop_quantize

    drop_quantize(encoder)  # adapters train in fp32
    targets = target_modules(encoder)
    if not targets:
        return False
    if spec["method"] == "lora":
        top = spec.get("top_layers")
        config = peft.LoraConfig(r=spec["r"], lora_alpha=spec["lora_alpha"], lora_dropout=spec["lora_dropout"],
                                 target_modules=targets,
                                 layers_to_transform=top_layer_indexes(encoder, targets, top) if top else None,
                                 layers_pattern=list(LAYER_NAMES) if top else None)
    else:
        config = peft.IA3Config(target_modules=targets, feedforward_modules=[])
    encoder.frozen = False  # adapters train: no embedding cache, training mode
    encoder.settings["frozen"] = False
    _set_trainable(encoder, True)
    peft.inject_adapter_in_model(config, encoder)  # freezes everything but the adapters
    if spec.get("train_norms"):
        for module in encoder.modules():
            if isinstance(module, NORMS):
                _set_trainable(module, True)
    return True


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


def adapter_layers(module) -> list[tuple[str, Any]]:
    """``(name, layer)`` of every peft adapter layer inside ``module`` that can merge (LoRA, IA3)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    return [(name, sub) for name, sub in module.named_modules()
            if isinstance(sub, BaseTunerLayer) and hasattr(sub, "get_delta_weight")]


def merge_for_inference(net, adapters: dict[str, dict] | None = None) -> int:
    """Merge every adapter of ``net`` into its base weights (a forward pass then costs what the base
    model costs); returns the layers merged. The adapter weights stay in place, so
    :func:`unmerged_state` still saves the base and the adapters apart.

    Args:
        adapters: The model spec's adapters per input; an input whose entry says
            ``inference_quantize`` ``"int8"`` (or ``"int8_per_token"``) then predicts through an int8
            copy of its merged encoder
            (:func:`transmodal.encoders.quantization.model_for_forward`).
    """
    merged = 0
    with torch.no_grad(), intra_op_threads(1):  # small one-off operations: see transmodal.encoders.threads
        for _, layer in adapter_layers(net):
            if not layer.merged:
                _merge(layer)
                merged += 1
    for name, spec in (adapters or {}).items():
        if spec.get("inference_quantize") in INT8_MODES:
            net.encoder(name).merged_quantize = spec["inference_quantize"]
    return merged


def _plain_lora(layer, adapter: str) -> bool:
    """Whether ``adapter`` of ``layer`` is a plain LoRA of a ``Linear`` layer (no DoRA-like variant, no
    bias of its own); convolutions' adapters (built-in image and audio networks) merge through peft."""
    return (hasattr(layer, "lora_A") and adapter in layer.lora_A and adapter not in getattr(layer, "lora_variant", {})
            and not getattr(layer, "lora_bias", {}).get(adapter, False)
            and isinstance(layer.get_base_layer(), nn.Linear) and isinstance(layer.lora_A[adapter], nn.Linear))


def lora_delta(layer, adapter: str):
    """The weight ``adapter`` adds to ``layer``'s base weight, (out, in): ``B @ A * scaling``, as
    peft's ``get_delta_weight`` computes it. The product goes through ``bmm``: a 2-thread ``mm`` of
    such thin matrices (rank 8) waits on thread hand-offs (:mod:`transmodal.encoders.threads`)."""
    a, b = layer.lora_A[adapter].weight, layer.lora_B[adapter].weight  # (r, in), (out, r)
    delta = torch.bmm(b.unsqueeze(0), a.unsqueeze(0))[0] * layer.scaling[adapter]  # (out, in)
    return delta.T if getattr(layer, "fan_in_fan_out", False) else delta


def _merge(layer) -> None:
    """Merge ``layer``'s active adapters into its base weight (plain LoRA by :func:`lora_delta`, others
    by peft), keeping peft's record of what is merged (``merged_adapters``)."""
    plain = [name for name in layer.active_adapters if _plain_lora(layer, name)]
    if len(plain) != len(layer.active_adapters):
        layer.merge()
        return
    weight = layer.get_base_layer().weight
    for name in plain:
        weight.data += lora_delta(layer, name).to(weight.dtype)
        layer.merged_adapters.append(name)


def quantized_after_merge(adapters: dict[str, dict]) -> bool:
    """Whether any adapted encoder predicts in int8 once merged (see :func:`merge_for_inference`)."""
    return any(spec.get("inference_quantize") in INT8_MODES for spec in adapters.values())


def unmerged_state(net, state: dict[str, Any]) -> dict[str, Any]:
    """``state`` (``net.state_dict()``) with the base weights of merged adapter layers as they were
    before merging (base minus each merged adapter's delta); ``net`` itself is left merged."""
    state = dict(state)
    with torch.no_grad():
        for name, layer in adapter_layers(net):
            if not layer.merged:
                continue
            if not hasattr(layer, "lora_A"):
                raise NotImplementedError(f"{type(layer).__name__} ({name}) cannot be unmerged for saving")
            key = f"{name}.base_layer.weight"
            delta = sum(lora_delta(layer, adapter) if _plain_lora(layer, adapter) else layer.get_delta_weight(adapter)
                        for adapter in layer.merged_adapters)
            state[key] = state[key] - delta
    return state


def folded_state(module: nn.Module) -> dict[str, Any]:
    """``module``'s state as the same module without adapters holds it: every adapter merged into its
    base layer (when it is not already) and the base layer's tensors under the plain layer's names.

    For copying an adapted encoder (a source predictor's, an aligned tower's) into an encoder built
    without adapters: the copy then computes what the adapted encoder computes. ``module`` itself is
    left as it is (the merge happens on a copy).
    """
    import copy

    from peft.tuners.tuners_utils import BaseTunerLayer

    plain = copy.deepcopy(module)
    plain.__dict__.pop("_int8_copy", None)  # an int8 forward copy is not state
    layers = [(name, sub) for name, sub in plain.named_modules() if isinstance(sub, BaseTunerLayer)]
    with torch.no_grad(), intra_op_threads(1):
        for name, layer in layers:
            if not layer.merged:
                _merge(layer) if hasattr(layer, "get_delta_weight") else layer.merge()
            parent, _, child = name.rpartition(".")
            setattr(plain.get_submodule(parent), child, layer.get_base_layer())
    return plain.state_dict()
