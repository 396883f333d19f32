"""Optimizer parameter groups: new parts at the base rate, pretrained encoders at their own rate."""

from __future__ import annotations

from typing import Any

from torch import nn

from transmodal.config import FitConfig
from transmodal.model import MultimodalNet

# parameters of adapters (peft LoRA / IA3) inside a pretrained encoder are new parts
ADAPTER_PREFIXES = ("lora_", "ia3_")


def _split_decay(params: list[tuple[str, nn.Parameter]]) -> tuple[list, list]:
    decay = [p for n, p in params if p.ndim >= 2 and "placeholder" not in n]
    no_decay = [p for n, p in params if not (p.ndim >= 2 and "placeholder" not in n)]
    return decay, no_decay


def parameter_groups(net: MultimodalNet, config: FitConfig) -> list[dict[str, Any]]:
    """AdamW groups: trainable parameters of pretrained encoders (``weights_from_reference``) use
    ``encoder_learning_rate``, everything else (adapters included) ``learning_rate``; biases and
    norms get no weight decay. With ``transfer.layer_decay`` set, encoder rates shrink layer-wise
    (:func:`layer_scales`)."""
    pretrained_ids = {
        id(p) for name in net.input_names if net.encoder(name).weights_from_reference
        for n, p in net.encoder(name).named_parameters()
        if not any(part.startswith(ADAPTER_PREFIXES) for part in n.split("."))
    }
    decay_rate = (config.transfer or {}).get("layer_decay")
    scales = layer_scales(net, float(decay_rate)) if decay_rate else {}
    named = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    groups = []
    for is_pretrained, lr in ((False, config.learning_rate), (True, config.encoder_learning_rate)):
        params = [(n, p) for n, p in named if (id(p) in pretrained_ids) == is_pretrained]
        for scale in sorted({scales.get(id(p), 1.0) for _, p in params}, reverse=True):
            decay, no_decay = _split_decay([(n, p) for n, p in params if scales.get(id(p), 1.0) == scale])
            groups += [{"params": decay, "lr": lr * scale, "weight_decay": config.weight_decay},
                       {"params": no_decay, "lr": lr * scale, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def layer_scales(net: MultimodalNet, decay: float) -> dict[int, float]:
    """Layer-wise learning-rate decay: ``id(parameter) -> decay**k`` for an encoder parameter in the
    k-th of its ``layer_groups()`` counted from the top (k = 1 for the top group); parameters
    outside encoders keep the full rate."""
    scales = {}
    for name in net.input_names:
        groups = net.encoder(name).layer_groups()  # bottom -> top
        for depth, group in enumerate(reversed(groups), start=1):
            for parameter in group:
                scales[id(parameter)] = decay ** depth
    return scales
