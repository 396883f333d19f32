"""The built-in trainable image encoder: a small VGG-style CNN with global average pooling.

Images are resized to a square ``image_size`` and converted to grey or RGB as ``channels`` says, so
a model trained on 28x28 grey digits also accepts a 16x16 colour image. Each stage is
``(conv 3x3 - BatchNorm - ReLU) x 2 - max-pool 2``, doubling the width; three stages below 64
pixels, four from 64 up.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from transmodal.encoders.base import Encoder, encoder_registry
from transmodal.errors import ConfigError

MIN_SIZE, MAX_SIZE = 16, 128
MAX_SHIFT = 0.08  # augmentation: translation as a fraction of the image side (each direction)
MAX_ROTATION = math.radians(8.0)
MAX_ZOOM = 0.08  # augmentation: scale in [1 - MAX_ZOOM, 1 + MAX_ZOOM]


def _stage(in_channels: int, out_channels: int) -> nn.Sequential:
    """(conv 3x3 - BN - ReLU) x 2 then a 2x2 max-pool that halves H and W (rounding up)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2, ceil_mode=True),
    )


def _random_affine(pixels: torch.Tensor) -> torch.Tensor:
    """Shift, rotate and zoom each image of (B, C, H, W) slightly (edges are repeated)."""
    batch = pixels.shape[0]
    device, dtype = pixels.device, pixels.dtype
    angle = (torch.rand(batch, device=device, dtype=dtype) * 2 - 1) * MAX_ROTATION
    scale = 1 + (torch.rand(batch, device=device, dtype=dtype) * 2 - 1) * MAX_ZOOM
    shift = (torch.rand(batch, 2, device=device, dtype=dtype) * 2 - 1) * (2 * MAX_SHIFT)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )  # (B, 2, 3); grid coordinates span [-1, 1], hence the factor 2 on the shift
    grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)
    return F.grid_sample(pixels, grid, padding_mode="border", align_corners=False)


@encoder_registry("image").register("cnn")
class ImageCNN(Encoder):
    """A small trainable CNN for images of any size and mode.

    Settings (all JSON):
        image_size: Side of the square the images are resized to (inferred by ``fit_settings``).
        channels: 1 (grey) or 3 (RGB) (inferred by ``fit_settings``).
        width: Channels of the first stage; each later stage doubles it.
        output_dim: Size of the output vector.
        dropout: Dropout before the output projection.
        augment: Random small affine transforms (shift, rotation, zoom) while training.
        frozen: Parameters do not train.
    """

    modality = "image"
    DEFAULTS: dict[str, Any] = {
        "image_size": 64,
        "channels": 3,
        "width": 16,
        "output_dim": 128,
        "dropout": 0.1,
        "augment": False,
        "frozen": False,
    }

    def __init__(self, **settings: Any) -> None:
        settings = self.with_defaults(settings)
        super().__init__(**settings)
        self.image_size = int(settings["image_size"])
        self.channels = int(settings["channels"])
        if self.channels not in (1, 3):
            raise ConfigError(f"image cnn channels must be 1 or 3, got {self.channels}")
        if self.image_size < 1:
            raise ConfigError(f"image cnn image_size must be positive, got {self.image_size}")
        self.augment = bool(settings["augment"])
        width = int(settings["width"])
        n_stages = 3 if self.image_size < 64 else 4
        widths = [width * 2**i for i in range(n_stages)]
        self.stages = nn.ModuleList(
            _stage(c_in, c_out) for c_in, c_out in zip([self.channels] + widths[:-1], widths)
        )
        self.dropout = nn.Dropout(float(settings["dropout"]))
        self.output_dim = int(settings["output_dim"])
        self.projection = nn.Linear(widths[-1], self.output_dim)

    @classmethod
    def fit_settings(cls, items: Sequence[Any], settings: dict[str, Any]) -> dict[str, Any]:
        """Infer ``image_size`` (median side, in [16, 128]) and ``channels`` (1 if all are grey).

        Args:
            items: Decoded training images (``PIL.Image``); ``None`` items are skipped.
            settings: User settings; given values are kept.
        """
        settings = dict(settings)
        images = [_as_image(item) for item in items if item is not None]
        if not images:
            return settings
        if settings.get("image_size") is None:
            sides = [(image.width + image.height) / 2 for image in images]
            side = round(float(np.median(sides)))
            settings["image_size"] = int(min(MAX_SIZE, max(MIN_SIZE, side)))
        if settings.get("channels") is None:
            settings["channels"] = 1 if all(image.mode == "L" for image in images) else 3
        return settings

    def prepare(self, items: Sequence[Any]) -> dict[str, torch.Tensor]:
        """Images -> ``{"pixels": (B, C, H, W) float in [-1, 1]}``; ``None`` -> zeros."""
        size, mode = self.image_size, "L" if self.channels == 1 else "RGB"
        pixels = np.zeros((len(items), self.channels, size, size), dtype=np.float32)
        for i, item in enumerate(items):
            if item is None:
                continue
            image = _as_image(item)
            if image.mode not in ("L", "RGB"):
                image = image.convert("RGB")
            if image.size != (size, size):
                image = image.resize((size, size), Image.BILINEAR)
            array = np.asarray(image.convert(mode), dtype=np.float32) / 255.0  # (H, W) or (H, W, 3)
            array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
            pixels[i] = (array - 0.5) / 0.5
        return {"pixels": torch.from_numpy(pixels)}

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:  # (B, output_dim)
        x = inputs["pixels"]  # (B, C, H, W)
        if self.training and self.augment:
            x = _random_affine(x)
        for stage in self.stages:
            x = stage(x)  # (B, width * 2**i, ceil(H / 2**(i+1)), ...)
        x = x.mean(dim=(2, 3))  # (B, widths[-1])
        return self.projection(self.dropout(x))  # (B, output_dim)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """One group per stage, then the projection."""
        return [list(stage.parameters()) for stage in self.stages] + [
            list(self.projection.parameters())
        ]


def _as_image(item: Any) -> Image.Image:
    """A ``PIL.Image`` from an image, or from a uint8/float array (H, W) or (H, W, 3)."""
    if isinstance(item, Image.Image):
        return item
    array = np.asarray(item)
    if array.dtype != np.uint8:
        array = np.clip(array * (255.0 if array.max(initial=0) <= 1.0 else 1.0), 0, 255)
        array = array.astype(np.uint8)
    return Image.fromarray(array)
