"""Dynamic int8 quantisation of a frozen pretrained encoder's Linear layers (``quantize="int8"``).

On a CPU without AMX/AVX-512 this is the lever that pays (about 1.6x on a MiniLM-sized model;
bf16 autocast and ``torch.compile`` are slower there). It uses ``torch.ao.quantization
.quantize_dynamic``, which the pinned torch provides (torchao's replacement is not installed).

The encoder keeps its fp32 model as its registered weights (so state dicts, weight copies from a
source model and fine-tuning work as for any encoder); a *frozen* encoder with ``quantize="int8"``
runs its forward pass on an int8 copy of that model (:func:`model_for_forward`), made on first
use and made again whenever the fp32 weights change (their in-place version counters move). An
encoder that is unfrozen or given adapters trains in fp32 and drops the setting, so its saved spec
says what it is (:func:`drop_quantize`).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from transmodal.encoders.threads import intra_op_threads
from transmodal.errors import ConfigError

QUANTIZE_CHOICES = (None, "int8")


def check_quantize(kind: str, quantize: Any, frozen: bool) -> str | None:
    """Validate an encoder's ``quantize`` setting.

    Raises:
        ConfigError: an unknown mode, or quantising an encoder built to train.
    """
    if quantize not in QUANTIZE_CHOICES:
        raise ConfigError(f"{kind} quantize={quantize!r} is not a valid choice; valid: None, 'int8'")
    if quantize and not frozen:
        raise ConfigError(f"{kind} quantize={quantize!r} needs frozen=True: an int8 model cannot be trained; "
                          "drop quantize to fine-tune the encoder")
    return quantize


ADAPTER_PARTS = {"lora_A", "lora_B"}  # peft's low-rank factors inside an adapted layer: not quantised


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose ``nn.Linear`` layers are dynamically quantised to int8 (weights per
    output channel, activations per batch).

    In a model with merged LoRA adapters only the base layers are quantised: a merged layer's forward
    pass runs its base layer alone, so its two low-rank factors (two thirds of the ``Linear``
    modules) would be quantised for nothing."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    names = [name for name, module in model.named_modules()
             if isinstance(module, nn.Linear) and not ADAPTER_PARTS.intersection(name.split("."))]
    with warnings.catch_warnings(), intra_op_threads(1):  # small one-off operations (encoders/threads.py)
        warnings.simplefilter("ignore")  # torch.ao's deprecation notices: the API works on the pinned torch
        return quantize_dynamic(model, dict.fromkeys(names, per_channel_dynamic_qconfig), dtype=torch.qint8,
                                inplace=False)


class QuantizedCopy:
    """An int8 copy of a model, made again when the model's weights change."""

    def __init__(self) -> None:
        self.versions: tuple[int, ...] | None = None
        self.model: nn.Module | None = None

    def of(self, model: nn.Module) -> nn.Module:
        versions = tuple(p._version for p in model.parameters())
        if self.model is None or versions != self.versions:
            self.model, self.versions = quantize_int8(model), versions
        return self.model


def runs_int8(encoder: nn.Module) -> bool:
    """Whether ``encoder``'s forward pass runs on an int8 copy: frozen with ``quantize="int8"``, or
    predicting (eval mode) with its adapters merged and ``merged_quantize="int8"``
    (:func:`transmodal.encoders.adapters.merge_for_inference`)."""
    frozen_int8 = getattr(encoder, "frozen", False) and getattr(encoder, "settings", {}).get("quantize")
    merged_int8 = not encoder.training and getattr(encoder, "merged_quantize", None)
    return bool(frozen_int8 or merged_int8)


def model_for_forward(encoder: nn.Module, model: nn.Module) -> nn.Module:
    """``model``, or its int8 copy when :func:`runs_int8`. The copy is kept outside the module tree
    (not in ``state_dict``, not moved by ``.to``: int8 kernels run on the CPU)."""
    if not runs_int8(encoder):
        return model
    copy = encoder.__dict__.setdefault("_int8_copy", QuantizedCopy())
    return copy.of(model)


def drop_quantize(encoder: nn.Module) -> None:
    """An encoder that trains runs in fp32: forget its ``quantize`` setting."""
    if getattr(encoder, "settings", {}).get("quantize"):
        encoder.settings["quantize"] = None
        encoder.__dict__.pop("_int8_copy", None)
