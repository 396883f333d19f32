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

``quantize="int8_per_token"`` makes the same int8 copy with each Linear layer's activations scaled
per token instead of per batch (:mod:`transmodal.encoders.int8_per_token`): a row's features then do
not depend on the rows encoded with it.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from transmodal.encoders.threads import intra_op_threads
from transmodal.errors import ConfigError

INT8_MODES = ("int8", "int8_per_token")
QUANTIZE_CHOICES = (None, *INT8_MODES)


def check_quantize(kind: str, quantize: Any, frozen: bool) -> str | None:
    """Validate an encoder's ``quantize`` setting.

    Raises:
        ConfigError: an unknown mode, or quantising an encoder built to train.
    """
    if quantize not in QUANTIZE_CHOICES:
        raise ConfigError(f"{kind} quantize={quantize!r} is not a valid choice; valid: "
                          f"{', '.join(map(repr, QUANTIZE_CHOICES))}")
    if quantize and not frozen:
        raise ConfigError(f"{kind} quantize={quantize!r} needs frozen=True: an int8 model cannot be trained; "
                          "drop quantize to fine-tune the encoder")
    return quantize


ADAPTER_PARTS = {"lora_A", "lora_B"}  # peft's low-rank factors inside an adapted layer: not quantised


def quantize_int8(model: nn.Module, mode: str = "int8") -> nn.Module:
    """A copy of ``model`` whose ``nn.Linear`` layers are dynamically quantised to int8 (weights per
    output channel, activations per batch; with ``mode="int8_per_token"`` per token).

    In a model with merged LoRA adapters only the base layers are quantised: a merged layer's forward
    pass runs its base layer alone, so its two low-rank factors (two thirds of the ``Linear``
    modules) would be quantised for nothing."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    names = [name for name, module in model.named_modules()
             if isinstance(module, nn.Linear) and not ADAPTER_PARTS.intersection(name.split("."))]
    with warnings.catch_warnings(), intra_op_threads(1):  # small one-off operations (encoders/threads.py)
        warnings.simplefilter("ignore")  # torch.ao's deprecation notices: the API works on the pinned torch
        copy = quantize_dynamic(model, dict.fromkeys(names, per_channel_dynamic_qconfig), dtype=torch.qint8,
                                inplace=False)
    if mode == "int8_per_token":
        from transmodal.encoders.int8_per_token import scale_per_token

        return scale_per_token(copy)
    return copy


class QuantizedCopy:
    """An int8 copy of a model, made again when the model's weights or the mode change."""

    def __init__(self) -> None:
        self.versions: tuple[Any, ...] | None = None
        self.model: nn.Module | None = None

    def of(self, model: nn.Module, mode: str = "int8") -> nn.Module:
        versions = (mode, *(p._version for p in model.parameters()))
        if self.model is None or versions != self.versions:
            self.model, self.versions = quantize_int8(model, mode), versions
        return self.model


def int8_mode(encoder: nn.Module) -> str | None:
    """The int8 mode ``encoder``'s forward pass runs in (``"int8"`` or ``"int8_per_token"``), or None
    (fp32): its ``quantize`` setting when frozen, else, predicting (eval mode) with its adapters
    merged, its ``merged_quantize`` (:func:`transmodal.encoders.adapters.merge_for_inference`)."""
    if getattr(encoder, "frozen", False) and getattr(encoder, "settings", {}).get("quantize"):
        return encoder.settings["quantize"]
    if not encoder.training and getattr(encoder, "merged_quantize", None):
        return encoder.merged_quantize
    return None


def runs_int8(encoder: nn.Module) -> bool:
    """Whether ``encoder``'s forward pass runs on an int8 copy (:func:`int8_mode`)."""
    return int8_mode(encoder) is not None


def model_for_forward(encoder: nn.Module, model: nn.Module) -> nn.Module:
    """``model``, or its int8 copy when :func:`runs_int8`. The copy is kept outside the module tree
    (not in ``state_dict``, not moved by ``.to``: int8 kernels run on the CPU)."""
    mode = int8_mode(encoder)
    if mode is None:
        return model
    copy = encoder.__dict__.setdefault("_int8_copy", QuantizedCopy())
    return copy.of(model, mode)


def drop_quantize(encoder: nn.Module) -> None:
    """An encoder that trains runs in fp32: forget its ``quantize`` setting."""
    if getattr(encoder, "settings", {}).get("quantize"):
        encoder.settings["quantize"] = None
        encoder.__dict__.pop("_int8_copy", None)
