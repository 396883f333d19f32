"""Tiny multimodal tables written to disk, and hyperparameters that make a fit take seconds.

Imported by tests as ``from tabletools import ...`` (a unique name: ``conftest`` is ambiguous when
several test folders have one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SAMPLE_RATE = 8000
WORDS = {0: "calm quiet soft gentle", 1: "loud bright sharp strong", 2: "dark deep heavy slow"}

# small encoders so that a fit takes seconds
TINY_HYPERPARAMETERS = {
    "max_epochs": 3,
    "batch_size": 16,
    "hidden_dim": 32,
    "dropout": 0.1,  # FitConfig's default before 0.3 (a 2,304-feature text input's): tiny tables learn in a few epochs
    "progress_bar": False,
    "learning_rate": 3e-3,
    "encoders": {
        "image": {"name": "cnn", "width": 8, "output_dim": 16},
        "audio": {"name": "cnn", "width": 8, "n_mels": 16, "output_dim": 16, "sample_rate": SAMPLE_RATE},
        "text": {"name": "builtin_text", "output_dim": 16},
        "tabular": {"name": "mlp", "output_dim": 16},
    },
}


def write_table(folder: Path, n: int = 60, seed: int = 0, classes: int = 3,
                absolute: bool = False) -> pd.DataFrame:
    """Write ``n`` rows of images, tones, text and numbers whose class shows in every modality.

    Returns the table (relative paths, or absolute ones with ``absolute``, for a DataFrame used away
    from ``folder``); also written as ``folder/table.csv`` (relative paths).
    """
    import soundfile
    from PIL import Image

    rng = np.random.default_rng(seed)
    (folder / "img").mkdir(parents=True, exist_ok=True)
    (folder / "wav").mkdir(exist_ok=True)
    rows = []
    for i in range(n):
        y = i % classes
        pixels = rng.normal(40, 20, (12, 12))
        pixels[:, y * 4:(y + 1) * 4] += 180
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8), mode="L").save(folder / "img" / f"{i}.png")
        t = np.arange(int(0.25 * SAMPLE_RATE)) / SAMPLE_RATE
        wave = 0.5 * np.sin(2 * np.pi * (300 + 500 * y) * t) + rng.normal(0, 0.05, len(t))
        soundfile.write(folder / "wav" / f"{i}.wav", wave.astype(np.float32), SAMPLE_RATE)
        rows.append({
            "image": f"img/{i}.png", "audio": f"wav/{i}.wav",
            "review": f"{WORDS[y]} item number {i}", "size": float(y + rng.normal(0, 0.3)),
            "color": ["red", "green", "blue"][y], "label": ["cat", "dog", "eel"][y],
        })
    frame = pd.DataFrame(rows)
    frame.to_csv(folder / "table.csv", index=False)
    if absolute:
        for column in ("image", "audio"):
            frame[column] = [str(folder / path) for path in frame[column]]
    return frame


def write_small(folder: Path, n: int = 45, seed: int = 0) -> str:
    """Write an image + number table (``image``, ``size``, ``label``) of ``n`` rows into ``folder``
    as ``small.csv``; returns its path. Fits on it take a second or two."""
    write_table(folder, n=n, seed=seed)
    frame = pd.read_csv(folder / "table.csv")[["image", "size", "label"]]
    frame.to_csv(folder / "small.csv", index=False)
    return str(folder / "small.csv")
