"""The optimiser: AdamW parameter groups (new parts at the base rate, pretrained encoders at their
own rate) and the warm-up + cosine schedule, for any network the engine trains."""

from __future__ import annotations

from typing import Any, Callable, Protocol

import torch
from torch import nn

from transmodal.engine.contract import EncoderNet, named_encoders
from transmodal.engine.schedule import warmup_cosine

# parameters of adapters (peft LoRA / IA3) inside a pretrained encoder are new parts
ADAPTER_PREFIXES = ("lora_", "ia3_")


class RateConfig(Protocol):
    """The rates a configuration (``FitConfig``, ``AlignConfig``) gives the optimiser."""

    learning_rate: float  # new parts
    encoder_learning_rate: float  # trainable pretrained encoders
    weight_decay: float


def _split_decay(params: list[tuple[str, nn.Parameter]]) -> tuple[list, list]:
    decay = [p for n, p in params if p.ndim >= 2 and "placeholder" not in n]
    no_decay = [p for n, p in params if not (p.ndim >= 2 and "placeholder" not in n)]
    return decay, no_decay


def parameter_groups(net: nn.Module, config: RateConfig, layer_decay: float | None = None) -> list[dict[str, Any]]:
    """AdamW groups of ``net`` (an :class:`~transmodal.engine.contract.EncoderNet`): trainable
    parameters of pretrained encoders (``weights_from_reference``) use ``encoder_learning_rate``,
    everything else (adapters included) ``learning_rate``; biases, norms and other 1-d parameters
    get no weight decay.

    Args:
        net: ``MultimodalNet`` or ``AlignmentNet``.
        config: The rates.
        layer_decay: Encoder rates shrink layer-wise by this factor (:func:`layer_scales`); None
            takes ``config.transfer["layer_decay"]`` when the configuration has a transfer section.
    """
    encoders = named_encoders(net)
    pretrained_ids = {
        id(p) for encoder in encoders.values() if encoder.weights_from_reference
        for n, p in encoder.named_parameters()
        if not any(part.startswith(ADAPTER_PREFIXES) for part in n.split("."))
    }
    if layer_decay is None:  # AlignConfig has no transfer section
        layer_decay = (getattr(config, "transfer", None) or {}).get("layer_decay")
    scales = layer_scales(net, float(layer_decay)) if layer_decay else {}
    named = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    groups = []
    for is_pretrained, lr in ((False, config.learning_rate), (True, config.encoder_learning_rate)):
        params = [(n, p) for n, p in named if (id(p) in pretrained_ids) == is_pretrained]
        for scale in sorted({scales.get(id(p), 1.0) for _, p in params}, reverse=True):
            decay, no_decay = _split_decay([(n, p) for n, p in params if scales.get(id(p), 1.0) == scale])
            groups += [{"params": decay, "lr": lr * scale, "weight_decay": config.weight_decay},
                       {"params": no_decay, "lr": lr * scale, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def new_part_groups(module: nn.Module, config: RateConfig) -> list[dict[str, Any]]:
    """AdamW groups of a module that is all new parts (an auxiliary module trained beside the
    network for an extra loss): ``learning_rate``, no decay on 1-d parameters."""
    decay, no_decay = _split_decay([(n, p) for n, p in module.named_parameters() if p.requires_grad])
    groups = [{"params": decay, "lr": config.learning_rate, "weight_decay": config.weight_decay},
              {"params": no_decay, "lr": config.learning_rate, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def layer_scales(net: EncoderNet, decay: float) -> dict[int, float]:
    """Layer-wise learning-rate decay: ``id(parameter) -> decay**k`` for an encoder parameter in the
    k-th of its ``layer_groups()`` counted from the top (k = 1 for the top group); parameters
    outside encoders keep the full rate."""
    scales = {}
    for encoder in named_encoders(net).values():
        groups = encoder.layer_groups()  # bottom -> top
        for depth, group in enumerate(reversed(groups), start=1):
            for parameter in group:
                scales[id(parameter)] = decay ** depth
    return scales


def configure_adamw(groups: list[dict[str, Any]], total_steps: int | Callable[[], int],
                    warmup_ratio: float) -> dict[str, Any]:
    """AdamW over ``groups`` with a per-step linear warm-up (``warmup_ratio`` of the steps) then
    cosine decay, as Lightning's ``configure_optimizers`` returns it.

    Args:
        total_steps: The steps of the schedule, or a function giving them at each step (a module
            whose :class:`~transmodal.engine.budget.TimeBudget` shortens the schedule to the steps
            that fit in the time limit); the warm-up is sized from its first value.
    """
    steps = total_steps if callable(total_steps) else (lambda: total_steps)
    optimizer = torch.optim.AdamW(groups)
    warmup = int(warmup_ratio * max(1, steps()))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer,
                                                 lambda step: warmup_cosine(step, max(1, steps()), warmup))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
