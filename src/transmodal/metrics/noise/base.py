"""The noise contract and one registry per modality.

A noise corrupts the processed inputs of one model input in a batch, at test time only::

    noise = noise_registry("image").get("gaussian")
    batch = noise(batch, "photo", level=0.3, generator=torch.Generator().manual_seed(0))

``level`` runs from 0 (clean) to 1 (strongest); ``noise(batch, name, 0.0, g)`` leaves the batch
unchanged. A noise returns a new batch dict (the input tensors are not modified in place). Noises
act on what encoders ``prepare`` (image ``pixels`` (B, C, H, W) in [-1, 1], audio ``waveform``
(B, S), text ``input_ids``/``token_ids`` (B, L), tabular ``numeric`` (B, N) standardised), so they
work the same for every encoder of a modality that prepares those tensors.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from transmodal.registry import Registry

MODALITIES = ("image", "audio", "text", "tabular")
NOISES: dict[str, Registry] = {m: Registry(f"{m} noise", "transmodal.metrics.noise") for m in MODALITIES}

# fn(inputs: dict[str, Tensor], level: float, generator) -> dict[str, Tensor]
InputNoise = Callable[[dict[str, torch.Tensor], float, torch.Generator], dict[str, torch.Tensor]]


def noise_registry(modality: str) -> Registry:
    """The registry of noises for ``modality`` (image, audio, text, tabular)."""
    return NOISES[modality]


class Noise:
    """A registered noise: wraps an input-level function into a batch-level one.

    Args:
        fn: ``fn(inputs, level, generator) -> inputs`` on the processed tensors of one input.
        description: One line for listings.
    """

    def __init__(self, fn: InputNoise, description: str) -> None:
        self.fn = fn
        self.description = description

    def __call__(self, batch: dict[str, Any], name: str, level: float, generator: torch.Generator) -> dict[str, Any]:
        if level <= 0 or name not in batch["inputs"]:
            return batch
        inputs = dict(batch["inputs"])
        inputs[name] = self.fn(dict(inputs[name]), float(level), generator)
        return {**batch, "inputs": inputs}


def register_noise(modalities: str | tuple[str, ...], *names: str):
    """Decorator registering ``fn(inputs, level, generator)`` under ``names`` for ``modalities``."""
    modalities = (modalities,) if isinstance(modalities, str) else modalities

    def decorator(fn: InputNoise) -> InputNoise:
        line = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else fn.__name__
        for modality in modalities:
            for name in names:
                NOISES[modality].register(name)(Noise(fn, line))
        return fn

    return decorator


def uniform(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Uniform [0, 1) numbers of ``shape`` on CPU from ``generator``."""
    return torch.rand(shape, generator=generator)


def normal(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Standard normal numbers of ``shape`` on CPU from ``generator``."""
    return torch.randn(shape, generator=generator)


def missing(batch: dict[str, Any], name: str, level: float, generator: torch.Generator) -> dict[str, Any]:
    """Mark input ``name`` absent (mask False) in a random fraction ``level`` of the rows (a batch
    without that input is returned as it is, as by every other noise)."""
    if level <= 0 or name not in batch["masks"]:
        return batch
    mask = batch["masks"][name]
    drop = uniform(tuple(mask.shape), generator) < level
    return {**batch, "masks": {**batch["masks"], name: mask & ~drop.to(mask.device)}}


class MissingNoise(Noise):
    """The modality-independent ``missing`` noise (acts on the masks, not the inputs)."""

    def __init__(self) -> None:
        super().__init__(lambda inputs, level, generator: inputs, "mark the input absent in a fraction `level` of the rows")

    def __call__(self, batch, name, level, generator):
        return missing(batch, name, level, generator)


for _modality in MODALITIES:
    NOISES[_modality].register("missing")(MissingNoise())
