"""Image noises on ``pixels`` (B, C, H, W) in [-1, 1]: gaussian, salt-and-pepper, occlusion."""

from __future__ import annotations

import torch

from transmodal.metrics.noise.base import normal, register_noise, uniform


def _pixels(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    return inputs["pixels"]


@register_noise("image", "gaussian")
def gaussian(inputs, level, generator):
    """Additive gaussian noise of standard deviation `level` in 0..1 pixel units, clipped."""
    pixels = _pixels(inputs)
    noise = normal(tuple(pixels.shape), generator).to(pixels) * (2 * level)  # [0,1] units -> [-1,1]
    return {**inputs, "pixels": (pixels + noise).clamp(-1, 1)}


@register_noise("image", "salt_pepper", "dropout")
def salt_pepper(inputs, level, generator):
    """Salt-and-pepper: a fraction `level` of the pixels set to black or white at random."""
    pixels = _pixels(inputs)
    batch, _, height, width = pixels.shape
    hit = (uniform((batch, 1, height, width), generator) < level).to(pixels.device)
    value = (uniform((batch, 1, height, width), generator) < 0.5).to(pixels) * 2 - 1  # -1 or 1
    return {**inputs, "pixels": torch.where(hit, value.expand_as(pixels), pixels)}


@register_noise("image", "occlusion")
def occlusion(inputs, level, generator):
    """A mid-grey square covering a fraction `level` of each image's area, at a random place."""
    pixels = _pixels(inputs).clone()
    batch, _, height, width = pixels.shape
    side_h, side_w = round(height * level ** 0.5), round(width * level ** 0.5)
    if side_h == 0 or side_w == 0:
        return inputs
    tops = (uniform((batch,), generator) * (height - side_h + 1)).long()
    lefts = (uniform((batch,), generator) * (width - side_w + 1)).long()
    for i in range(batch):
        pixels[i, :, tops[i]:tops[i] + side_h, lefts[i]:lefts[i] + side_w] = 0.0
    return {**inputs, "pixels": pixels}
