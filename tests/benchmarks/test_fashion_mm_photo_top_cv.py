"""The photo member of ``benchmarks.fashion_mm_photo_top_cv``: its cached lower stages and its top
together are the whole EfficientNet-Lite0 before any training."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from benchmarks.fashion_mm_photo_top_cv import Top, lower_outputs
from transmodal.encoders.base import build_encoder


def test_the_cached_lower_stages_and_the_top_are_the_whole_network(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(6):  # two chunks of 4 and 2
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(paths[-1])
    encoder = build_encoder("image", {"name": "efficientnet_lite0", "pretrained": False, "frozen": True,
                                      "image_size": 64})
    cached = lower_outputs(encoder, paths, top_from=5)
    assert cached.dtype == torch.float16 and cached.shape == (6, 112, 4, 4)  # stage 4's output at 64 px
    top = Top(encoder.net, top_from=5, classes=3).eval()
    with torch.no_grad():
        whole = encoder.net.forward_features(encoder.prepare([Image.open(p) for p in paths])["pixel_values"])
        x = cached.float()
        for block in top.blocks:
            x = block(x)
        split = torch.nn.functional.relu6(top.norm(top.head(x))).mean(dim=(2, 3))  # (6, 1280)
    assert top.classifier.in_features == whole.shape[1] == 1280
    torch.testing.assert_close(split, whole, rtol=2e-2, atol=2e-3)  # float16 cache
    assert top(cached.float()).shape == (6, 3)
    assert not any(p is q for p in top.parameters() for q in encoder.net.parameters())  # a copy trains
