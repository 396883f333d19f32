"""``hf_image``: a Hugging Face ``transformers`` vision model (ViT, ConvNeXt, ResNet, CLIP, Dinov2...).

Images are preprocessed by the checkpoint's own image processor with the PIL backend (no
torchvision needed); the vector per image is the model's pooled output, or the mean of its last
hidden state when it has no pooler.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from PIL import Image
from torch import nn

from transmodal.encoders.base import ENCODERS, Encoder
from transmodal.encoders.quantization import check_quantize, model_for_forward
from transmodal.encoders.hf_loading import (
    check_unknown,
    load_failed,
    pretrained_kwargs,
    resolve_checkpoint,
    transformer_layer_groups,
)

# checkpoints of image-text models whose vision tower is loaded alone: model_type -> class name
VISION_TOWERS = {"clip": "CLIPVisionModel", "siglip": "SiglipVisionModel"}
PLACEHOLDER_SIZE = 224  # side of the white image standing in for a missing one


def load_image_processor(path: str, trust_remote_code: bool) -> Any:
    """The checkpoint's image processor, PIL-based so that torchvision is not required."""
    import transformers
    from transformers import AutoImageProcessor

    kwargs = pretrained_kwargs(trust_remote_code)
    if int(transformers.__version__.split(".")[0]) >= 5:
        kwargs["backend"] = "pil"
    else:
        kwargs["use_fast"] = False
    return AutoImageProcessor.from_pretrained(path, **kwargs)


def load_vision_model(path: str, trust_remote_code: bool) -> tuple[nn.Module, bool]:
    """``AutoModel`` of the checkpoint, or only its vision tower for CLIP/SigLIP checkpoints.

    Returns:
        The model, and whether its pooler (if any) was in the checkpoint: a ViT checkpoint saved
        without one (DINO) gets a randomly initialised pooler, which must not be used.
    """
    import transformers
    from transformers import AutoConfig, AutoModel

    kwargs = pretrained_kwargs(trust_remote_code)
    config = AutoConfig.from_pretrained(path, **kwargs)
    tower = VISION_TOWERS.get(getattr(config, "model_type", ""))
    model_class = AutoModel if tower is None else getattr(transformers, tower)
    model, info = model_class.from_pretrained(path, output_loading_info=True, **kwargs)
    pooler_loaded = not any("pooler" in key for key in info.get("missing_keys", ()))
    return model, pooler_loaded


def vision_output_dim(config: Any) -> int:
    """Size of the pooled vector: the last stage's width (CNNs) or the hidden size (ViTs)."""
    hidden_sizes = getattr(config, "hidden_sizes", None)
    if hidden_sizes:
        return int(hidden_sizes[-1])
    return int(config.hidden_size)


def pool_vision_output(outputs: Any, use_pooler: bool = True) -> torch.Tensor:
    """The pooled vector of a vision model's outputs, (B, D).

    ``pooler_output`` when the model has one and ``use_pooler`` (ResNet's (B, C, 1, 1) is
    flattened), else the mean of ``last_hidden_state`` over tokens (B, T, D) or space (B, C, H, W).
    """
    pooled = getattr(outputs, "pooler_output", None)
    if pooled is not None and use_pooler:
        return pooled.flatten(1)  # (B, D) or (B, C, 1, 1) -> (B, D)
    hidden = outputs.last_hidden_state
    if hidden.dim() == 4:
        return hidden.mean(dim=(2, 3))  # (B, C, H, W) -> (B, C)
    return hidden.mean(dim=1)  # (B, T, D) -> (B, D)


def to_rgb(item: Image.Image | None) -> Image.Image:
    """An RGB PIL image: greyscale/other modes converted, ``None`` replaced by a white image."""
    if item is None:
        return Image.new("RGB", (PLACEHOLDER_SIZE, PLACEHOLDER_SIZE), (255, 255, 255))
    return item if item.mode == "RGB" else item.convert("RGB")


@ENCODERS["image"].register("hf_image")
class HFImageEncoder(Encoder):
    """A Hugging Face vision model with its image processor.

    Args:
        checkpoint: A model id or a local folder holding the model and its image processor config.
        frozen: When True no parameter trains (and the embeddings may be cached).
        trust_remote_code: Allow a checkpoint's own Python code to run; off unless set to True.
        quantize: ``"int8"``: dynamic int8 Linear layers (a frozen encoder only; faster on CPU);
            ``"int8_per_token"``: the same with activations scaled per token, so that a row's
            features do not depend on the rest of its batch.
    """

    modality = "image"
    weights_from_reference = True

    def __init__(
        self,
        checkpoint: str | None = None,
        frozen: bool = True,
        trust_remote_code: bool = False,
        quantize: str | None = None,
        **extra: Any,
    ) -> None:
        check_unknown("hf_image", extra)
        check_quantize("hf_image", quantize, bool(frozen))
        super().__init__(
            checkpoint=checkpoint,
            frozen=bool(frozen),
            trust_remote_code=bool(trust_remote_code),
            quantize=quantize,
            **extra,
        )
        path = resolve_checkpoint(checkpoint)
        try:
            self.processor = load_image_processor(path, trust_remote_code)
            self.model, self.use_pooler = load_vision_model(path, trust_remote_code)
        except (OSError, ValueError) as err:
            raise load_failed("image", str(checkpoint), err) from err
        self.output_dim = vision_output_dim(self.model.config)
        if self.frozen:
            self.freeze(True)
        self.train(self.training)  # a frozen encoder starts (and stays) in eval mode

    def prepare(self, items: Sequence[Image.Image | None]) -> dict[str, torch.Tensor]:
        """Resize/crop/normalise images as the checkpoint expects.

        Returns:
            ``pixel_values``: (B, 3, H, W) float32.
        """
        images = [to_rgb(item) for item in items]
        encoded = self.processor(images=images, return_tensors="pt")
        return {"pixel_values": encoded["pixel_values"].float()}

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:  # (B, output_dim)
        outputs = model_for_forward(self, self.model)(pixel_values=inputs["pixel_values"])
        return pool_vision_output(outputs, self.use_pooler)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Embeddings (stem), then each layer/block, then the rest (final norm, pooler)."""
        return transformer_layer_groups(self.model)
