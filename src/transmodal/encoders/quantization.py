"""Dynamic int8 quantisation of a frozen pretrained encoder's Linear layers (``quantize="int8"``).

On a CPU without AMX/AVX-512 this is the lever that pays (about 1.6x on a MiniLM-sized model;
bf16 autocast and ``torch.compile`` are slower there). It uses ``torch.ao.quantization
.quantize_dynamic``, which the pinned torch provides (torchao's replacement is not installed).
A quantised model has no trainable parameters, so only a frozen encoder can be quantised; its
weights are rebuilt from the checkpoint on load and quantised again, never saved.

The quantised model is kept outside the encoder's module tree (:func:`attach_quantized`): packed
int8 weights are not tensors, so they must not appear in ``state_dict`` (best-state copies,
checkpoints, saving) nor be moved by ``.to(device)`` (dynamic int8 kernels run on the CPU).
"""

from __future__ import annotations

import warnings
from typing import Any

from torch import nn

from transmodal.errors import ConfigError

QUANTIZE_CHOICES = (None, "int8")


def check_quantize(kind: str, quantize: Any, frozen: bool) -> str | None:
    """Validate an encoder's ``quantize`` setting.

    Raises:
        ConfigError: an unknown mode, or quantising an encoder that trains.
    """
    if quantize not in QUANTIZE_CHOICES:
        raise ConfigError(f"{kind} quantize={quantize!r} is not a valid choice; valid: None, 'int8'")
    if quantize and not frozen:
        raise ConfigError(f"{kind} quantize={quantize!r} needs frozen=True: an int8 model cannot be trained; "
                          "drop quantize to fine-tune the encoder")
    return quantize


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose ``nn.Linear`` layers are dynamically quantised to int8."""
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch.ao's deprecation notices: the API still works on the pinned torch
        warnings.simplefilter("ignore")
        return quantize_dynamic(model.eval(), {nn.Linear}, dtype=__import__("torch").qint8)


def attach_quantized(encoder: nn.Module, attribute: str, model: nn.Module) -> None:
    """Set ``encoder.<attribute>`` to the int8 copy of ``model`` without registering it as a submodule
    (see the module doc); :func:`hidden_models` finds it for the weights digest."""
    if attribute in encoder._modules:
        del encoder._modules[attribute]
    encoder.__dict__[attribute] = quantize_int8(model)


def hidden_models(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules held by ``module`` (and its submodules) outside the module tree: quantised models."""
    found = []
    for name, sub in module.named_modules():
        for key, value in vars(sub).items():
            if isinstance(value, nn.Module) and key not in sub._modules:
                found.append((f"{name}.{key}" if name else key, value))
    return found


def refuse_training(encoder: nn.Module) -> None:
    """Raise when something would train a quantised encoder (unfreezing, adapters)."""
    quantize = getattr(encoder, "settings", {}).get("quantize")
    if quantize:
        raise ConfigError(f"the {encoder.settings.get('name', type(encoder).__name__)} encoder is quantised "
                          f"({quantize}) and cannot be trained; drop quantize to fine-tune it or add adapters")
