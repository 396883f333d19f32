"""The adapters' settings when not given, defined once: the ``transfer`` section's defaults
(:class:`transmodal.transfer.settings.TransferSettings`) and those
:func:`transmodal.encoders.adapters.adapter_spec` fills into a saved adapter spec, ``lora_alpha``'s
included (:func:`resolved_lora_alpha`). No heavy import here: a fit checks its ``transfer`` section
before it loads torch (:mod:`transmodal.fitting.precheck`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AdapterDefaults:
    """What an adapter setting is when not given (read as class attributes: ``AdapterDefaults.r``)."""

    method: str = "lora"  # "lora" or "ia3" (peft)
    r: int = 8  # LoRA rank; its scaling numerator lora_alpha defaults to 2 r (resolved_lora_alpha)
    lora_dropout: float = 0.0  # dropout on the LoRA path
    train_norms: bool = True  # also train the normalisation layers of built-in nets


def resolved_lora_alpha(r: int, lora_alpha: float | None) -> float:
    """LoRA's scaling numerator: ``lora_alpha`` when given, else ``2 r`` (None: not given).

    Args:
        r: The LoRA rank.
        lora_alpha: The ``transfer.lora_alpha`` setting, or None.
    """
    return float(2 * r if lora_alpha is None else lora_alpha)
