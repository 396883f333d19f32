"""Shared helpers of the dataset builders: data root, file writers, build markers, CLI.

Every builder writes real files (PNG, WAV, CSV) into an output folder it owns and finishes by
writing a marker file (``.built.json``) holding the build parameters. A folder with a marker whose
parameters match is treated as built and skipped; ``force=True`` rebuilds it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_ENV = "TRANSMODAL_DATA"
DEFAULT_DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
DEFAULT_WORK_DIR = REPO_ROOT / "benchmarks" / "_work"
MARKER = ".built.json"


class DataRootError(FileNotFoundError):
    """The benchmark data folder, or a file expected in it, does not exist."""


def data_root() -> Path:
    """Return the folder holding the raw benchmark data (one sub-folder per dataset).

    Returns:
        ``$TRANSMODAL_DATA`` if set, else ``<repo>/../shared/data``.

    Raises:
        DataRootError: If the folder does not exist.
    """
    root = Path(os.environ.get(DATA_ENV) or DEFAULT_DATA_ROOT).expanduser()
    if not root.is_dir():
        raise DataRootError(
            f"Benchmark data folder not found: {root}. Set the {DATA_ENV} environment variable "
            f"to the folder holding fsdd/, mnist_test/, usps/, emoji_noto/ and "
            f"womens_clothing_reviews/ (default: {DEFAULT_DATA_ROOT})."
        )
    return root


def data_file(relative: str) -> Path:
    """Return the path of one raw data file, checking that it exists.

    Args:
        relative: Path inside the data root, e.g. ``"fsdd/fsdd.npz"``.

    Raises:
        DataRootError: If the data root or the file is missing.
    """
    path = data_root() / relative
    if not path.is_file():
        raise DataRootError(f"Benchmark data file not found: {path} (data root from ${DATA_ENV}).")
    return path


def load_npz(relative: str) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` file in the data root into memory."""
    with np.load(data_file(relative)) as archive:
        return {name: archive[name] for name in archive.files}


def default_out(name: str) -> Path:
    """Return the default output folder of a dataset: ``<repo>/benchmarks/_work/<name>``."""
    return DEFAULT_WORK_DIR / name


def write_png(path: Path, pixels: np.ndarray) -> None:
    """Write a uint8 array as PNG: (H, W) as grey ``L``, (H, W, 3) as ``RGB``."""
    if pixels.dtype != np.uint8:
        raise TypeError(f"PNG pixels must be uint8, got {pixels.dtype}")
    Image.fromarray(pixels).save(path)


def read_png(path: Path) -> np.ndarray:
    """Read a PNG back into a uint8 array."""
    with Image.open(path) as image:
        return np.asarray(image)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write int16 mono samples as a 16-bit PCM WAV file."""
    soundfile.write(path, np.asarray(samples, dtype=np.int16), int(sample_rate), subtype="PCM_16")


def write_images(folder: Path, names: Iterable[str], pixels: np.ndarray) -> None:
    """Write ``pixels[k]`` to ``folder / names[k]`` for every k, creating the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, image in zip(names, pixels, strict=True):
        write_png(folder / name, image)


def write_table(path: Path, table: pd.DataFrame) -> Path:
    """Write a table as UTF-8 CSV without the index and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return path


def is_built(out: Path, params: Mapping[str, Any], tables: Iterable[str]) -> bool:
    """Tell whether ``out`` already holds a complete build made with ``params``.

    Raises:
        FileExistsError: If ``out`` was built with other parameters (rebuild with ``force``).
    """
    marker = out / MARKER
    if not marker.is_file():
        return False
    built = json.loads(marker.read_text())
    if built != _jsonable(params):
        raise FileExistsError(
            f"{out} was built with {built}, not {_jsonable(params)}; use force=True (--force)."
        )
    return all((out / table).is_file() for table in tables)


def mark_built(out: Path, params: Mapping[str, Any]) -> None:
    """Write the marker that makes ``out`` count as a complete build."""
    (out / MARKER).write_text(json.dumps(_jsonable(params), indent=1, sort_keys=True) + "\n")


def clear(out: Path, files: Iterable[str], folders: Iterable[str]) -> None:
    """Remove a previous build: the marker, the named files and folders inside ``out`` only."""
    for name in [MARKER, *files]:
        (out / name).unlink(missing_ok=True)
    for name in folders:
        shutil.rmtree(out / name, ignore_errors=True)


def table_paths(out: Path, tables: Mapping[str, str]) -> dict[str, Path]:
    """Map split names to absolute table paths inside ``out``."""
    return {split: out / file for split, file in tables.items()}


def print_summary(title: str, counts: Mapping[str, int], out: Path) -> None:
    """Print a one-line summary of a build: row counts per table and the output folder."""
    parts = ", ".join(f"{name} {count:,}" for name, count in counts.items())
    print(f"{title}: {parts} -> {out}")


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(params), default=str, sort_keys=True))


def base_parser(name: str, description: str) -> argparse.ArgumentParser:
    """Return an argument parser with the options every builder shares: ``--out``, ``--force``."""
    parser = argparse.ArgumentParser(
        prog=f"python -m benchmarks.datasets.{name}", description=description
    )
    parser.add_argument(
        "--out", type=Path, default=default_out(name), help=f"output folder (default: {default_out(name)})"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if already built")
    return parser


def run_cli(parser: argparse.ArgumentParser, build: Callable[..., Any], argv: list[str] | None) -> int:
    """Parse ``argv`` and call ``build(**options)``; print data-root errors plainly.

    Returns:
        The process exit status (0 on success, 2 if the data are missing).
    """
    options = vars(parser.parse_args(argv))
    try:
        build(**options)
    except DataRootError as error:
        print(f"error: {error}")
        return 2
    return 0
