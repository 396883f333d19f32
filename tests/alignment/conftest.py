"""Tiny pretrained aligned checkpoints (CLIP, SigLIP, CLAP) and small image and audio tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile
from PIL import Image

from tinyaligned import CAPTIONS, save_tiny_clap, save_tiny_clip, save_tiny_siglip


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("aligned_checkpoints")
    return {"clip": save_tiny_clip(folder / "clip"), "siglip": save_tiny_siglip(folder / "siglip"),
            "clap": save_tiny_clap(folder / "clap")}


@pytest.fixture(scope="module")
def image_table(tmp_path_factory) -> tuple[pd.DataFrame, list[Image.Image]]:
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths, images = [], []
    for i in range(len(CAPTIONS)):
        image = Image.fromarray(rng.integers(0, 256, (40, 36, 3), dtype=np.uint8), "RGB")
        image.save(folder / f"{i}.png")
        paths.append(str(folder / f"{i}.png"))
        images.append(image)
    return pd.DataFrame({"image": paths, "caption": CAPTIONS}), images


@pytest.fixture(scope="module")
def audio_table(tmp_path_factory) -> tuple[pd.DataFrame, list[np.ndarray]]:
    folder = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(1)
    paths, waves = [], []
    for i in range(len(CAPTIONS)):
        t = np.arange(4000 + 2000 * i) / 16_000
        wave = (0.3 * np.sin(2 * np.pi * (200 + 150 * i) * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
        soundfile.write(folder / f"{i}.wav", wave, 16_000, subtype="FLOAT")
        paths.append(str(folder / f"{i}.wav"))
        waves.append(wave)
    return pd.DataFrame({"audio": paths, "text": CAPTIONS}), waves
