"""Digit domain transfer: MNIST (source) to USPS (target), with few-shot target subsets.

- Source: the 10,000 MNIST test images with labels, 28x28 grey PNGs, table ``mnist.csv``.
- Target: USPS, 7,291 train images (``usps_train.csv``) and 2,007 test images
  (``usps_test.csv``), 16x16 grey PNGs; the float pixels in [0, 1] become
  ``uint8(round(255 * x))``. Both domains are white digits on black.

Tables have columns ``image`` (path relative to the CSV's folder) and ``digit``. Image sizes differ
between the domains on purpose; resizing is the benchmark's business. :func:`few_shot` draws the
labelled target subset of a k-shot experiment.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.datasets import _common as common

NAME = "digits_transfer"
TABLES = {"mnist": "mnist.csv", "usps_train": "usps_train.csv", "usps_test": "usps_test.csv"}


def usps_to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Convert USPS float pixels in [0, 1] to uint8 by rounding ``255 * x``."""
    return np.clip(np.rint(pixels.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)


def write_domain(out: Path, name: str, images: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Write ``images`` as ``out/<name>/<k>.png`` and return their table (image, digit)."""
    files = [f"{k:05d}.png" for k in range(len(images))]
    common.write_images(out / name, files, images)
    table = pd.DataFrame({"image": [f"{name}/{f}" for f in files], "digit": labels.astype(int)})
    common.write_table(out / TABLES[name], table)
    return table


def build_digits_transfer(out: Path | str | None = None, *, force: bool = False) -> dict[str, Path]:
    """Write the MNIST and USPS images and tables into ``out``.

    Args:
        out: Output folder (default ``benchmarks/_work/digits_transfer``).
        force: Rebuild even if already built.

    Returns:
        Paths of ``mnist.csv``, ``usps_train.csv`` and ``usps_test.csv``, keyed by
        ``"mnist"``, ``"usps_train"``, ``"usps_test"``.
    """
    folder = Path(out or common.default_out(NAME))
    params = {"usps_pixels": "rint(255 * x)"}
    tables = common.table_paths(folder, TABLES)
    if not force and common.is_built(folder, params, TABLES.values()):
        print(f"{NAME}: already built -> {folder}")
        return tables
    common.clear(folder, TABLES.values(), TABLES.keys())
    mnist, usps = common.load_npz("mnist_test/mnist_test.npz"), common.load_npz("usps/usps.npz")
    domains = {
        "mnist": (mnist["images"], mnist["labels"]),
        "usps_train": (usps_to_uint8(usps["x_train"]), usps["y_train"]),
        "usps_test": (usps_to_uint8(usps["x_test"]), usps["y_test"]),
    }
    counts = {name: len(write_domain(folder, name, *arrays)) for name, arrays in domains.items()}
    common.mark_built(folder, params)
    common.print_summary(NAME, counts, folder)
    return tables


def few_shot(
    table: pd.DataFrame | Path | str,
    shots_per_class: int,
    seed: int = 0,
    label: str = "digit",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw ``shots_per_class`` labelled rows of every class; the other rows are the rest.

    For each class in sorted order, ``numpy.random.default_rng(seed).choice`` picks that many of
    its rows without replacement (one generator for all classes). Both parts keep the table's row
    order and index.

    Args:
        table: A table with a ``label`` column, or the path of its CSV (image paths then stay
            relative to that CSV's folder).
        shots_per_class: Labelled rows per class (k of k-shot).
        seed: Seed of the generator.
        label: Name of the class column.

    Returns:
        ``(labelled, rest)``: ``len(labelled) == shots_per_class * n_classes``.

    Raises:
        ValueError: If ``shots_per_class`` is negative or a class has fewer rows.
    """
    if not isinstance(table, pd.DataFrame):
        table = pd.read_csv(table)
    if shots_per_class < 0:
        raise ValueError(f"shots_per_class must be >= 0, got {shots_per_class}")
    rng = np.random.default_rng(seed)
    labels = table[label].to_numpy()
    picked = []
    for cls in np.unique(labels):
        rows = np.flatnonzero(labels == cls)
        if len(rows) < shots_per_class:
            raise ValueError(f"class {cls!r} has {len(rows)} rows, fewer than {shots_per_class} shots")
        picked.append(rng.choice(rows, size=shots_per_class, replace=False))
    mask = np.zeros(len(table), dtype=bool)
    mask[np.concatenate(picked) if picked else []] = True
    return table[mask], table[~mask]


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.datasets.digits_transfer --out DIR [--force]``."""
    parser = common.base_parser(NAME, "Build the MNIST -> USPS digit transfer images and tables.")
    return common.run_cli(parser, build_digits_transfer, argv)


if __name__ == "__main__":
    raise SystemExit(main())
