"""Optimizer parameter groups: new parts at the base rate, pretrained encoders at their own rate."""

from __future__ import annotations

from typing import Any

from torch import nn

from transmodal.config import FitConfig
from transmodal.model import MultimodalNet


def _split_decay(params: list[tuple[str, nn.Parameter]]) -> tuple[list, list]:
    decay = [p for n, p in params if p.ndim >= 2 and "placeholder" not in n]
    no_decay = [p for n, p in params if not (p.ndim >= 2 and "placeholder" not in n)]
    return decay, no_decay


def parameter_groups(net: MultimodalNet, config: FitConfig) -> list[dict[str, Any]]:
    """AdamW groups: trainable parameters of pretrained encoders (``weights_from_reference``) use
    ``encoder_learning_rate``, everything else ``learning_rate``; biases and norms get no weight
    decay."""
    pretrained_ids = {
        id(p) for name in net.input_names if net.encoder(name).weights_from_reference
        for p in net.encoder(name).parameters()
    }
    named = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    groups = []
    for is_pretrained, lr in ((False, config.learning_rate), (True, config.encoder_learning_rate)):
        params = [(n, p) for n, p in named if (id(p) in pretrained_ids) == is_pretrained]
        decay, no_decay = _split_decay(params)
        groups += [{"params": decay, "lr": lr, "weight_decay": config.weight_decay},
                   {"params": no_decay, "lr": lr, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]
