"""``image_statistics``: colour, shape and texture statistics of a photo, without a network.

A product photo's colours (a white shirt, a dark wool coat), the object's outline and its texture
say things an ImageNet CNN's pooled features blur: on fashion_mm's ``season`` label, LightGBM on
these statistics beside the name and attributes scored +0.9 points of 5-fold out-of-fold accuracy
over the same trees without them, where the CNN's principal components added +0.04
(``benchmarks/RESULTS.md``, issue 16 d, "members that see the photo's colours").

The object is told from the background by colour: the background is the median colour of the
image's border, and a pixel belongs to the object when one of its channels differs from it by more
than ``threshold`` (on a white background: its darkest channel below 1 - ``threshold``). The
statistics are those of the object's pixels: RGB and HSV means and spreads, value and saturation
percentiles, a hue x saturation and a value histogram, gradient (texture) statistics, the object's
bounding box, aspect and area, a grey thumbnail and the object's mask on a coarse grid.

Nothing is learned: the encoder has no parameters, is always frozen and its features are cached in
the embedding store like any frozen encoder's.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from transmodal.encoders.base import ENCODERS, Encoder
from transmodal.errors import ConfigError

HUE_BINS, SATURATION_BINS, VALUE_BINS = 12, 3, 8
THUMBNAIL = 12  # side of the grey thumbnail
MASK_GRID = 8   # side of the coarse object mask
MIN_OBJECT_PIXELS = 20  # fewer object pixels than this: the whole image is the object
PERCENTILES = (10, 50, 90)
BOX, MOMENTS, TEXTURE = 6, 18, 3
FEATURES = (BOX + MOMENTS + HUE_BINS * SATURATION_BINS + VALUE_BINS + TEXTURE
            + THUMBNAIL * THUMBNAIL + MASK_GRID * MASK_GRID)  # 279


def object_mask(rgb: np.ndarray, threshold: float) -> np.ndarray:
    """``(S, S)`` bool: the pixels whose colour differs from the border's median colour by more
    than ``threshold`` in some channel; every pixel when fewer than :data:`MIN_OBJECT_PIXELS` do.

    Args:
        rgb: ``(S, S, 3)`` float32 in [0, 1].
    """
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])  # (4S, 3)
    background = np.median(border, axis=0)  # (3,)
    mask = np.abs(rgb - background).max(axis=2) > threshold
    return mask if mask.sum() >= MIN_OBJECT_PIXELS else np.ones_like(mask)


def photo_statistics(image: Image.Image, size: int, threshold: float) -> np.ndarray:
    """``(FEATURES,)`` float32 statistics of one image (see the module docstring)."""
    image = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    rgb = np.asarray(image, np.float32) / 255.0               # (S, S, 3)
    hsv = np.asarray(image.convert("HSV"), np.float32) / 255.0  # (S, S, 3)
    mask = object_mask(rgb, threshold)                         # (S, S)
    pixels, hsv_pixels = rgb[mask], hsv[mask]                  # (F, 3) each
    return np.concatenate([_box(mask, size), _moments(pixels, hsv_pixels), _histograms(hsv_pixels),
                           _texture(rgb.mean(axis=2), mask), _thumbnail(image),
                           _coarse_mask(mask)]).astype(np.float32)


def _box(mask: np.ndarray, size: int) -> list[float]:
    """Left, right, top, bottom (as fractions of the side), width / height, area fraction."""
    ys, xs = np.nonzero(mask)
    width, height = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    return [xs.min() / size, xs.max() / size, ys.min() / size, ys.max() / size, width / height, mask.mean()]


def _moments(pixels: np.ndarray, hsv_pixels: np.ndarray) -> np.ndarray:
    """RGB and HSV means and standard deviations, value and saturation percentiles (18)."""
    return np.concatenate([pixels.mean(0), pixels.std(0), hsv_pixels.mean(0), hsv_pixels.std(0),
                           np.percentile(hsv_pixels[:, 2], PERCENTILES),
                           np.percentile(hsv_pixels[:, 1], PERCENTILES)])


def _histograms(hsv_pixels: np.ndarray) -> np.ndarray:
    """Share of the object's pixels per hue x saturation cell and per value bin (36 + 8)."""
    count = len(hsv_pixels)
    hue_saturation = np.histogram2d(hsv_pixels[:, 0], hsv_pixels[:, 1], bins=[HUE_BINS, SATURATION_BINS],
                                    range=[[0, 1], [0, 1]])[0].ravel() / count
    value = np.histogram(hsv_pixels[:, 2], bins=VALUE_BINS, range=(0, 1))[0] / count
    return np.concatenate([hue_saturation, value])


def _texture(grey: np.ndarray, mask: np.ndarray) -> list[float]:
    """Mean horizontal and vertical grey-level steps on the object, and the 90th percentile of the
    horizontal ones (3); zeros when the object is one pixel wide or tall."""
    across, down = np.abs(np.diff(grey, axis=1)), np.abs(np.diff(grey, axis=0))
    across, down = across[mask[:, 1:]], down[mask[1:, :]]
    if not len(across) or not len(down):
        return [0.0, 0.0, 0.0]
    return [across.mean(), down.mean(), np.percentile(across, 90)]


def _thumbnail(image: Image.Image) -> np.ndarray:
    """The image in grey at :data:`THUMBNAIL` x :data:`THUMBNAIL`, in [0, 1] (144)."""
    grey = image.convert("L").resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BILINEAR)
    return np.asarray(grey, np.float32).ravel() / 255.0


def _coarse_mask(mask: np.ndarray) -> np.ndarray:
    """The object's share of each cell of a :data:`MASK_GRID` x :data:`MASK_GRID` grid (64)."""
    small = Image.fromarray(mask.astype(np.uint8) * 255).resize((MASK_GRID, MASK_GRID), Image.Resampling.BILINEAR)
    return np.asarray(small, np.float32).ravel() / 255.0


@ENCODERS["image"].register("image_statistics")
class ImageStatisticsEncoder(Encoder):
    """Colour, shape and texture statistics of each image (279 numbers; no parameters, frozen).

    Args:
        image_size: Side of the square the image is resized to before the statistics.
        threshold: How far (0-1, per channel) a pixel's colour must be from the background's to
            belong to the object.
        frozen: Must be True (nothing trains).
    """

    modality = "image"
    weights_from_reference = True  # nothing to save: the settings rebuild it
    trainable = False  # a strategy that unfreezes every encoder leaves it frozen

    def __init__(self, image_size: int = 112, threshold: float = 0.08, frozen: bool = True, **extra: Any) -> None:
        unknown = sorted(set(extra) - {"name"})
        if unknown:
            raise ConfigError(f"unknown setting(s) of the image_statistics encoder: {unknown}")
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 16:
            raise ConfigError(f"image_statistics image_size must be a whole number >= 16, got {image_size!r}")
        if not 0 < float(threshold) < 1:
            raise ConfigError(f"image_statistics threshold must be between 0 and 1, got {threshold!r}")
        if not frozen:
            raise ConfigError("image_statistics has nothing to train: drop frozen: false")
        super().__init__(image_size=image_size, threshold=float(threshold), frozen=True, **extra)
        self.output_dim = FEATURES

    def prepare(self, items: Sequence[Image.Image | None]) -> dict[str, torch.Tensor]:
        """The statistics of each image; a missing image gives zeros (its row is masked out).

        Returns:
            ``statistics``: (B, 279) float32.
        """
        size, threshold = self.settings["image_size"], self.settings["threshold"]
        rows = [np.zeros(FEATURES, np.float32) if item is None else photo_statistics(item, size, threshold)
                for item in items]
        return {"statistics": torch.from_numpy(np.stack(rows)) if rows else torch.zeros(0, FEATURES)}

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:  # (B, 279)
        return inputs["statistics"]
