"""AV-digits: MNIST test images paired with Free Spoken Digit (FSDD) clips of the same digit.

Protocol (defaults reproduce it exactly):

- MNIST test image ``i`` (i = 0..9999, official order) is paired with one FSDD clip of the same
  digit. One ``numpy.random.default_rng(0)`` is used, iterating ``i`` in order; each image draws
  ``pool[rng.integers(len(pool))]`` (the same draw as ``rng.choice(pool)``) from the eligible clips
  of its digit, in ``fsdd.npz`` order (sorted by speaker, digit, repetition).
- Images 0..7999 draw from FSDD's train clips (repetitions 5..49, ``is_test`` False), images
  8000..9999 from its test clips (repetitions 0..4).
- Splits: train = pairs 0..6999, tuning = 7000..7999, test = 8000..9999.
- ``degrade=True``: every image is projected onto the top 4 principal components fitted on the
  train images only (numpy SVD of the mean-centred flattened float64 pixels in 0..255),
  reconstructed, clipped to [0, 255] and cast to uint8 (truncating, as ``astype`` does). This
  makes the image alone a weak cue (image-only logistic regression lands near 60%).
- ``speaker_holdout="theo"``: train and tuning pairs draw only from the other five speakers' train
  clips, test pairs only from that speaker's clips (all 50 repetitions).

Output (one folder per variant under ``out``: ``degraded``, ``clean``, ``degraded_holdout_theo``,
...): ``images/<mnist index>.png`` (28x28 grey), ``audio/<fsdd file name>.wav`` (8 kHz int16, each
distinct clip once, shared by its pairs) and ``train.csv``, ``tuning.csv``, ``test.csv`` with
columns ``image``, ``audio`` (paths relative to the CSV's folder), ``digit`` and ``speaker``.

``speaker`` (the FSDD speaker of the paired clip) is metadata for analysis, e.g. per-speaker
accuracy or the held-out-speaker split. Benchmarks must drop it from the features unless they
mean to use it: it is not an input of the AV-digits task.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.datasets import _common as common

NAME = "av_digits"
SEED = 0
N_COMPONENTS = 4
TABLES = {"train": "train.csv", "tuning": "tuning.csv", "test": "test.csv"}
COLUMNS = ["image", "audio", "digit", "speaker"]


@dataclass(frozen=True)
class SplitSizes:
    """Sizes of the three splits, taken in order from the start of the MNIST test set.

    The train and tuning pairs draw FSDD train clips, the test pairs FSDD test clips. The defaults
    are the protocol; smaller sizes exist only for tests and quick runs.

    Attributes:
        train: Number of train pairs (also the images the PCA is fitted on).
        tuning: Number of tuning pairs, following the train pairs.
        test: Number of test pairs, following the tuning pairs.
    """

    train: int = 7000
    tuning: int = 1000
    test: int = 2000

    @property
    def total(self) -> int:
        """Number of images used."""
        return self.train + self.tuning + self.test

    def slices(self) -> dict[str, slice]:
        """Return the image positions of each split, keyed by split name."""
        first_test = self.train + self.tuning
        return {
            "train": slice(0, self.train),
            "tuning": slice(self.train, first_test),
            "test": slice(first_test, self.total),
        }


PROTOCOL = SplitSizes()


def clip_pools(
    fsdd: dict[str, np.ndarray], speaker_holdout: str | None = None
) -> dict[tuple[str, int], np.ndarray]:
    """Return the eligible FSDD clip indices per (stage, digit), stage being "train" or "test".

    Args:
        fsdd: Arrays of ``fsdd.npz`` (``digit``, ``is_test``, ``speaker_id``, ``speakers`` used).
        speaker_holdout: If given, train-stage pools keep only the other speakers' train clips and
            test-stage pools only this speaker's clips (all repetitions).

    Raises:
        ValueError: If ``speaker_holdout`` is not an FSDD speaker or a pool is empty.
    """
    digits, is_test = fsdd["digit"].astype(int), fsdd["is_test"].astype(bool)
    train_ok, test_ok = ~is_test, is_test
    if speaker_holdout is not None:
        speakers = [str(name) for name in fsdd["speakers"]]
        if speaker_holdout not in speakers:
            raise ValueError(f"unknown FSDD speaker {speaker_holdout!r}; choose from {speakers}")
        held = fsdd["speaker_id"] == speakers.index(speaker_holdout)
        train_ok, test_ok = ~is_test & ~held, held
    pools = {}
    for digit in range(10):
        for stage, ok in (("train", train_ok), ("test", test_ok)):
            pool = np.flatnonzero(ok & (digits == digit))
            if pool.size == 0:
                raise ValueError(f"no FSDD {stage} clip of digit {digit} ({speaker_holdout=})")
            pools[stage, digit] = pool
    return pools


def pair_clips(
    labels: np.ndarray,
    fsdd: dict[str, np.ndarray],
    sizes: SplitSizes = PROTOCOL,
    speaker_holdout: str | None = None,
    seed: int = SEED,
) -> np.ndarray:
    """Draw one FSDD clip of the same digit for each of the first ``sizes.total`` images.

    Args:
        labels: MNIST digit labels, at least ``sizes.total`` of them.
        fsdd: Arrays of ``fsdd.npz``.
        sizes: Split sizes; images before ``sizes.train + sizes.tuning`` draw train clips.
        speaker_holdout: See :func:`clip_pools`.
        seed: Seed of the single ``numpy.random.default_rng`` used for all draws.

    Returns:
        int64 array of FSDD clip indices, one per image, shape ``(sizes.total,)``.
    """
    if len(labels) < sizes.total:
        raise ValueError(f"need {sizes.total} images, got {len(labels)}")
    pools = clip_pools(fsdd, speaker_holdout)
    first_test = sizes.train + sizes.tuning
    rng = np.random.default_rng(seed)
    chosen = np.empty(sizes.total, dtype=np.int64)
    for i in range(sizes.total):
        pool = pools["train" if i < first_test else "test", int(labels[i])]
        chosen[i] = pool[rng.integers(len(pool))]
    return chosen


def fit_pca(images: np.ndarray, n_components: int = N_COMPONENTS) -> tuple[np.ndarray, np.ndarray]:
    """Fit a PCA by SVD of the mean-centred flattened float64 images.

    Returns:
        ``(mean, components)`` of shapes ``(H*W,)`` and ``(n_components, H*W)``.
    """
    flat = images.reshape(len(images), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
    return mean, vt[:n_components]


def degrade_images(images: np.ndarray, n_train: int, n_components: int = N_COMPONENTS) -> np.ndarray:
    """Reconstruct every image from the top principal components of the first ``n_train`` images.

    Args:
        images: uint8 images, shape (N, H, W).
        n_train: The PCA is fitted on ``images[:n_train]`` only.
        n_components: Number of principal components kept.

    Returns:
        uint8 images of the same shape: reconstruction clipped to [0, 255], then cast.
    """
    mean, components = fit_pca(images[:n_train], n_components)
    flat = images.reshape(len(images), -1).astype(np.float64)
    recon = (flat - mean) @ components.T @ components + mean
    return np.clip(recon, 0, 255).astype(np.uint8).reshape(images.shape)


def variant_name(degrade: bool = True, speaker_holdout: str | None = None) -> str:
    """Return the sub-folder name of a variant, e.g. ``"degraded"`` or ``"clean_holdout_theo"``."""
    name = "degraded" if degrade else "clean"
    return f"{name}_holdout_{speaker_holdout}" if speaker_holdout else name


def build_av_digits(
    out: Path | str | None = None,
    *,
    degrade: bool = True,
    speaker_holdout: str | None = None,
    force: bool = False,
    sizes: SplitSizes = PROTOCOL,
) -> dict[str, Path]:
    """Build one AV-digits variant into ``out / variant_name(degrade, speaker_holdout)``.

    Args:
        out: Parent folder of the variants (default ``benchmarks/_work/av_digits``).
        degrade: Reconstruct images from 4 principal components (see module docstring).
        speaker_holdout: FSDD speaker whose clips are reserved for the test pairs.
        force: Rebuild even if the variant is already built.
        sizes: Split sizes; keep the default for the protocol.

    Returns:
        Paths of ``train.csv``, ``tuning.csv`` and ``test.csv``, keyed by split.
    """
    folder = Path(out or common.default_out(NAME)) / variant_name(degrade, speaker_holdout)
    params = {"degrade": degrade, "speaker_holdout": speaker_holdout, "seed": SEED,
              "n_components": N_COMPONENTS, **asdict(sizes)}
    tables = common.table_paths(folder, TABLES)
    if not force and common.is_built(folder, params, TABLES.values()):
        print(f"{NAME}/{folder.name}: already built -> {folder}")
        return tables
    common.clear(folder, TABLES.values(), ["images", "audio"])
    mnist, fsdd = common.load_npz("mnist_test/mnist_test.npz"), common.load_npz("fsdd/fsdd.npz")
    images = mnist["images"][: sizes.total]
    if degrade:
        images = degrade_images(images, sizes.train)
    clips = pair_clips(mnist["labels"], fsdd, sizes, speaker_holdout)
    pairs = _pairs_table(mnist["labels"][: sizes.total], clips, fsdd)
    common.write_images(folder / "images", [Path(p).name for p in pairs["image"]], images)
    _write_clips(folder / "audio", np.unique(clips), fsdd)
    for split, rows in sizes.slices().items():
        common.write_table(tables[split], pairs.iloc[rows])
    common.mark_built(folder, params)
    counts = {split: len(pairs.iloc[rows]) for split, rows in sizes.slices().items()}
    common.print_summary(f"{NAME}/{folder.name}", counts, folder)
    return tables


def _pairs_table(labels: np.ndarray, clips: np.ndarray, fsdd: dict[str, np.ndarray]) -> pd.DataFrame:
    """Return the pairs as a table with the CSV columns, one row per image."""
    if not np.array_equal(labels.astype(int), fsdd["digit"][clips].astype(int)):
        raise AssertionError("paired clip digits differ from image digits")
    return pd.DataFrame({
        "image": [f"images/{i:05d}.png" for i in range(len(labels))],
        "audio": [f"audio/{fsdd['filenames'][c]}" for c in clips],
        "digit": labels.astype(int),
        "speaker": fsdd["speakers"][fsdd["speaker_id"][clips]],
    }, columns=COLUMNS)


def _write_clips(folder: Path, indices: np.ndarray, fsdd: dict[str, np.ndarray]) -> None:
    """Write each FSDD clip in ``indices`` once, named by its FSDD file name."""
    folder.mkdir(parents=True, exist_ok=True)
    offsets, rate = fsdd["offsets"], int(fsdd["sample_rate"])
    for c in indices:
        samples = fsdd["audio"][offsets[c]:offsets[c + 1]]
        common.write_wav(folder / str(fsdd["filenames"][c]), samples, rate)


def load_pixels(table: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the images of a table back as flattened float pixels in [0, 1] with their digits."""
    rows = pd.read_csv(table)
    pixels = np.stack([common.read_png(table.parent / p).reshape(-1) for p in rows["image"]])
    return pixels.astype(np.float32) / 255.0, rows["digit"].to_numpy()


def image_only_accuracy(tables: dict[str, Path]) -> float:
    """Sanity check: test accuracy of a logistic regression on the pixels, fitted on train.

    Args:
        tables: Split name to CSV path, as returned by :func:`build_av_digits`.
    """
    from sklearn.linear_model import LogisticRegression

    x_train, y_train = load_pixels(tables["train"])
    x_test, y_test = load_pixels(tables["test"])
    model = LogisticRegression(max_iter=2000).fit(x_train, y_train)
    return float(model.score(x_test, y_test))


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.datasets.av_digits --out DIR [--clean] [...]``."""
    parser = common.base_parser(NAME, "Build AV-digits (MNIST test images + FSDD clips).")
    parser.add_argument("--clean", dest="degrade", action="store_false", help="keep images clean")
    parser.add_argument("--speaker-holdout", default=None, help="FSDD speaker kept for test: theo")
    parser.add_argument("--check", action="store_true", help="print image-only LR test accuracy")

    def build(check: bool, **options: object) -> None:
        tables = build_av_digits(**options)
        if check:
            accuracy = image_only_accuracy(tables)
            print(f"image-only logistic regression, train -> test accuracy: {accuracy:.4f}")

    return common.run_cli(parser, build, argv)


if __name__ == "__main__":
    raise SystemExit(main())
