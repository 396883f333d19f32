"""``hf_aligned``: one tower of a pretrained aligned ``transformers`` model (CLIP, SigLIP, CLAP).

The tower (vision, text or audio transformer) and the model's own projection into its shared space
are kept; the output is the model's (unnormalised) embedding of the item, exactly what
``get_image_features`` / ``get_text_features`` / ``get_audio_features`` return, so that an
:class:`~transmodal.alignment.model.AlignmentModel` built on two such towers scores pairs as the
original model does. Inputs go through the checkpoint's own processor: its image processor (PIL
backend), feature extractor or tokenizer, with the padding the family was trained with (SigLIP's
text is padded to a fixed length, because its text tower pools the last position).

The model's logit scale and bias (``logit_scale``, ``logit_bias``, ``logit_scale_a``) are read
once at load into ``pretrained_scalars``; the alignment model turns them into its loss module's
temperature. ``load_weights=False`` builds the architecture from the checkpoint's config alone
(random weights): used when a saved model holds a copy of the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np
import torch
from torch import nn

from transmodal.encoders.base import ENCODERS, Encoder
from transmodal.encoders.hf_loading import load_failed, pretrained_kwargs, resolve_checkpoint, transformer_layer_groups
from transmodal.errors import ConfigError, ModelLoadError


@dataclass(frozen=True)
class Family:
    """Where an aligned model family keeps each tower.

    Attributes:
        towers: modality -> (tower attribute, projection attribute or None) on the full model.
        scalars: Names of the model's scalar parameters that score pairs (log scale, bias).
        text_padding: ``longest`` or ``max_length`` (the text tower pools a fixed position).
        text_length: Default tokens per text.
    """

    towers: dict[str, tuple[str, str | None]]
    scalars: tuple[str, ...]
    text_padding: str = "longest"
    text_length: int = 77


FAMILIES: dict[str, Family] = {
    "clip": Family({"image": ("vision_model", "visual_projection"), "text": ("text_model", "text_projection")},
                   ("logit_scale",)),
    "siglip": Family({"image": ("vision_model", None), "text": ("text_model", None)},
                     ("logit_scale", "logit_bias"), text_padding="max_length", text_length=64),
    "clap": Family({"audio": ("audio_model", "audio_projection"), "text": ("text_model", "text_projection")},
                   ("logit_scale_a", "logit_scale_t")),
}
PLACEHOLDER_SIDE = 224  # white image standing in for a missing one
PLACEHOLDER_SECONDS = 1.0  # silence standing in for a missing clip


def model_family(config: Any) -> str:
    """The family name of a transformers config.

    Raises:
        ConfigError: the checkpoint is not a CLIP, SigLIP or CLAP model.
    """
    family = getattr(config, "model_type", "")
    if family not in FAMILIES:
        raise ConfigError(f"hf_aligned needs a CLIP, SigLIP or CLAP checkpoint (model_type one of "
                          f"{sorted(FAMILIES)}), got model_type {family!r}")
    return family


def load_aligned_model(checkpoint: str, load_weights: bool = True) -> tuple[nn.Module, str]:
    """The full aligned model of ``checkpoint`` (weights loaded, or random from its config) and
    its family.

    Raises:
        ModelLoadError: the checkpoint cannot be read.
        ConfigError: it is not a CLIP, SigLIP or CLAP model.
    """
    from transformers import AutoConfig, AutoModel

    path = resolve_checkpoint(checkpoint)
    kwargs = pretrained_kwargs(False)
    try:
        config = AutoConfig.from_pretrained(path, **kwargs)
        family = model_family(config)
        model = AutoModel.from_pretrained(path, **kwargs) if load_weights else AutoModel.from_config(config)
    except (OSError, ValueError) as err:
        raise load_failed("aligned", str(checkpoint), err) from err
    return model.eval(), family


def load_processor(checkpoint: str, modality: str) -> Any:
    """The tokenizer (text), image processor (PIL backend) or feature extractor (audio)."""
    import transformers
    from transformers import AutoFeatureExtractor, AutoImageProcessor, AutoTokenizer

    path = resolve_checkpoint(checkpoint)
    kwargs = pretrained_kwargs(False)
    try:
        if modality == "text":
            return AutoTokenizer.from_pretrained(path, **kwargs)
        if modality == "audio":
            return AutoFeatureExtractor.from_pretrained(path, **kwargs)
        extra = {"backend": "pil"} if int(transformers.__version__.split(".")[0]) >= 5 else {"use_fast": False}
        return AutoImageProcessor.from_pretrained(path, **kwargs, **extra)
    except (OSError, ValueError) as err:
        raise load_failed(modality, str(checkpoint), err) from err


def output_size(model: nn.Module, family: str, modality: str) -> int:
    """Size of the shared space the tower projects into."""
    config = model.config
    if family in ("clip", "clap"):
        return int(config.projection_dim)
    if modality == "text":
        return int(getattr(config.text_config, "projection_size", None) or config.text_config.hidden_size)
    return int(config.vision_config.hidden_size)


class AlignedTowerEncoder(Encoder):
    """One tower and projection of a CLIP, SigLIP or CLAP checkpoint (see the module docstring).

    Args:
        checkpoint: A model id (in the local Hugging Face cache) or a folder saved by ``save_pretrained``
            with its processor files.
        frozen: When True no parameter trains (and the embeddings may be cached).
        max_length: Tokens per text (text towers; default: the family's, capped by the tokenizer).
        max_seconds: Clips are cropped to their first ``max_seconds`` (audio; default: the
            feature extractor's own length).
        load_weights: False builds the architecture with random weights (weights come from a saved copy).
        trust_remote_code: Must stay False: aligned checkpoints never run their own code.
    """

    weights_from_reference = True
    DEFAULTS: ClassVar[dict[str, Any]] = {"checkpoint": None, "frozen": True, "max_length": None, "max_seconds": None,
                                          "load_weights": True, "trust_remote_code": False}

    def __init__(self, **settings: Any) -> None:
        settings = self.with_defaults(settings)
        if settings["trust_remote_code"]:
            raise ModelLoadError("hf_aligned never runs a checkpoint's own code; trust_remote_code must be False")
        if not settings["checkpoint"]:
            raise ConfigError("hf_aligned needs a 'checkpoint' setting (a model id or folder)")
        super().__init__(**settings)
        model, self.family = load_aligned_model(settings["checkpoint"], bool(settings["load_weights"]))
        tower_name, projection_name = self._tower_names(self.family)
        self.tower = getattr(model, tower_name)
        self.projection = getattr(model, projection_name) if projection_name else nn.Identity()
        self.pretrained_scalars = {name: float(getattr(model, name).detach()) for name in FAMILIES[self.family].scalars}
        self.output_dim = output_size(model, self.family, self.modality)
        del model  # the other tower is dropped
        self.processor = load_processor(settings["checkpoint"], self.modality)
        self._setup_inputs(settings)
        if self.frozen:
            self.freeze(True)
        self.train(self.training)

    def _tower_names(self, family: str) -> tuple[str, str | None]:
        towers = FAMILIES[family].towers
        if self.modality not in towers:
            raise ConfigError(f"a {family} checkpoint has no {self.modality} tower (it has {sorted(towers)})")
        return towers[self.modality]

    def _setup_inputs(self, settings: dict[str, Any]) -> None:
        """Modality-specific input settings (overridden per modality)."""

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:  # (B, output_dim)
        pooled = self.tower(**inputs).pooler_output  # (B, H)
        return self.projection(pooled)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """The tower's embeddings, each layer, then the rest and the projection."""
        groups = transformer_layer_groups(self.tower)
        groups[-1] = groups[-1] + list(self.projection.parameters())
        return groups


@ENCODERS["image"].register("hf_aligned")
class AlignedImageEncoder(AlignedTowerEncoder):
    """The image tower of a CLIP or SigLIP checkpoint."""

    modality = "image"

    def prepare(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        """``pixel_values`` (B, 3, H, W) from the checkpoint's image processor."""
        from PIL import Image

        images = [Image.new("RGB", (PLACEHOLDER_SIDE,) * 2, (255, 255, 255)) if item is None
                  else item if item.mode == "RGB" else item.convert("RGB") for item in items]
        return {"pixel_values": self.processor(images=images, return_tensors="pt")["pixel_values"].float()}


@ENCODERS["text"].register("hf_aligned")
class AlignedTextEncoder(AlignedTowerEncoder):
    """The text tower of a CLIP, SigLIP or CLAP checkpoint."""

    modality = "text"

    def _setup_inputs(self, settings: dict[str, Any]) -> None:
        family = FAMILIES[self.family]
        length = int(settings["max_length"] or family.text_length)
        limit = getattr(self.processor, "model_max_length", None)
        positions = getattr(self.tower.config, "max_position_embeddings", None)
        for cap in (limit, positions):
            if cap and cap < 100_000:
                length = min(length, int(cap))
        self.max_length = length
        self.padding = family.text_padding
        if self.processor.pad_token is None:
            self.processor.pad_token = self.processor.eos_token or self.processor.unk_token

    def prepare(self, items: Sequence[str | None]) -> dict[str, torch.Tensor]:
        """Token ids (B, T) and, when the tokenizer makes one, the attention mask (B, T)."""
        texts = ["" if item is None else str(item) for item in items]
        encoded = self.processor(texts, padding=self.padding, truncation=True, max_length=self.max_length,
                                 return_tensors="pt")
        return {k: encoded[k].long() for k in ("input_ids", "attention_mask") if k in encoded}


@ENCODERS["audio"].register("hf_aligned")
class AlignedAudioEncoder(AlignedTowerEncoder):
    """The audio tower of a CLAP checkpoint; clips are resampled to the extractor's rate and
    cropped to ``max_seconds`` (deterministically: the first seconds, where the extractor would
    crop at random)."""

    modality = "audio"

    def _setup_inputs(self, settings: dict[str, Any]) -> None:
        self.sampling_rate = int(self.processor.sampling_rate)
        default = getattr(self.processor, "nb_max_samples", None)
        seconds = settings["max_seconds"]
        self.max_samples = int(round(float(seconds) * self.sampling_rate)) if seconds else int(default or self.sampling_rate * 10)

    def prepare(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        """``input_features`` (B, 1, T, F) and ``is_longer`` (B, 1) from the feature extractor."""
        from transmodal.data.audio_files import resample
        from transmodal.encoders.audio_hf import to_mono

        waves = []
        for item in items:
            if item is None:
                waves.append(np.zeros(int(PLACEHOLDER_SECONDS * self.sampling_rate), dtype=np.float32))
                continue
            wave, rate = item
            waves.append(resample(to_mono(wave), int(rate), self.sampling_rate)[: self.max_samples])
        encoded = self.processor(waves, sampling_rate=self.sampling_rate, return_tensors="pt")
        return {k: encoded[k] for k in ("input_features", "is_longer") if k in encoded}
