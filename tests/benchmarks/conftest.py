"""Fixtures for the benchmark tests: the repo root on ``sys.path`` and tiny fake raw data.

The fake files have the array names and dtypes of the real ones in ``../shared/data`` so that the
builders run on a fresh clone without that folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
FSDD_REPETITIONS = 7  # 0..4 are test clips, 5..6 train clips
EMOJI_GROUPS = ["Smileys & Emotion", "People & Body", "Component", "Animals & Nature", "Food & Drink",
                "Travel & Places", "Activities", "Objects", "Symbols", "Flags"]
N_MNIST = 100


def fake_mnist(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """100 random 28x28 images; every block of 10 holds each digit once."""
    labels = np.concatenate([rng.permutation(10) for _ in range(N_MNIST // 10)]).astype(np.uint8)
    return {"images": rng.integers(0, 256, (N_MNIST, 28, 28), dtype=np.uint8), "labels": labels}


def fake_fsdd(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """6 speakers x 10 digits x 7 repetitions of short random clips, sorted like the real file."""
    rows = [(s, d, k) for s in range(len(SPEAKERS)) for d in range(10) for k in range(FSDD_REPETITIONS)]
    speaker, digit, index = (np.array(col) for col in zip(*rows))
    lengths = rng.integers(5, 40, len(rows)).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return {
        "audio": rng.integers(-32768, 32768, offsets[-1], dtype=np.int16),
        "offsets": offsets,
        "lengths": lengths,
        "digit": digit.astype(np.int8),
        "speaker_id": speaker.astype(np.int8),
        "speakers": np.array(SPEAKERS),
        "speaker_accent": np.array(["x"] * len(SPEAKERS)),
        "index": index.astype(np.int16),
        "is_test": index < 5,
        "filenames": np.array([f"{d}_{SPEAKERS[s]}_{k}.wav" for s, d, k in rows]),
        "sample_rate": np.array(8000, dtype=np.int32),
    }


def fake_usps(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """30 train and 20 test 16x16 float images in [0, 1] (multiples of 0.0005)."""
    def images(n: int) -> np.ndarray:
        return (rng.integers(0, 2001, (n, 16, 16)) * 0.0005).astype(np.float32)

    return {"x_train": images(30), "y_train": (np.arange(30) % 10).astype(np.uint8),
            "x_test": images(20), "y_test": (np.arange(20) % 10).astype(np.uint8)}


def fake_emoji(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Two emoji per group, the second of each skin-toned in People & Body."""
    group = np.repeat(np.arange(len(EMOJI_GROUPS)), 2).astype(np.int8)
    n = len(group)
    names = np.array([f"emoji {i}" for i in range(n)])
    return {
        "images": rng.integers(0, 256, (n, 72, 72, 4), dtype=np.uint8),
        "images_32": rng.integers(0, 256, (n, 32, 32, 4), dtype=np.uint8),
        "name": names, "base_name": names, "keywords": np.array(["a | b"] * n),
        "group": group, "group_names": np.array(EMOJI_GROUPS),
        "subgroup": (np.arange(n) % 3).astype(np.int16), "subgroup_names": np.array(["s0", "s1", "s2"]),
        "emoji": np.array(["?"] * n), "codepoints": np.array([f"{0x1F600 + i:X}" for i in range(n)]),
        "emoji_version": np.ones(n, dtype=np.float32),
        "has_skin_tone": (group == 1) & (np.arange(n) % 2 == 1),
        "filename": np.array([f"emoji_u{0x1F600 + i:x}.png" for i in range(n)]),
    }


def fake_clothing(rng: np.random.Generator, n: int = 8300) -> pd.DataFrame:
    """Rows shaped like the reviews CSV; some lack the review text or the department."""
    table = pd.DataFrame({
        "Clothing ID": rng.integers(0, 1000, n), "Age": rng.integers(18, 90, n),
        "Title": np.where(rng.random(n) < 0.2, None, "title"),
        "Review Text": [f"review {i}" for i in range(n)],
        "Rating": rng.integers(1, 6, n), "Recommended IND": rng.integers(0, 2, n),
        "Positive Feedback Count": rng.integers(0, 50, n), "Division Name": "General",
        "Department Name": rng.choice(["Tops", "Dresses", "Bottoms"], n), "Class Name": "Knits",
    })
    table.loc[::50, "Review Text"] = None
    table.loc[7::90, ["Division Name", "Department Name", "Class Name"]] = None
    return table


@pytest.fixture(scope="session")
def fake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding all five fake datasets, built once per session."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(123)
    files = {
        "mnist_test/mnist_test.npz": fake_mnist(rng),
        "fsdd/fsdd.npz": fake_fsdd(rng),
        "usps/usps.npz": fake_usps(rng),
        "emoji_noto/emoji_noto.npz": fake_emoji(rng),
    }
    for relative, arrays in files.items():
        (root / relative).parent.mkdir(parents=True)
        np.savez_compressed(root / relative, **arrays)
    (root / "womens_clothing_reviews").mkdir()
    fake_clothing(rng).to_csv(root / "womens_clothing_reviews/womens_clothing_reviews.csv.gz")
    return root


@pytest.fixture
def fake_data(fake_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``TRANSMODAL_DATA`` at the fake data root for one test and return it."""
    monkeypatch.setenv("TRANSMODAL_DATA", str(fake_root))
    return fake_root


@pytest.fixture(autouse=True)
def single_blas_thread():
    """Run BLAS on one thread: the tiny SVDs here are much slower with threads on busy cores."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield
