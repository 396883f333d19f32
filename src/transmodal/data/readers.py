"""Reading tables: CSV, Parquet, JSON lines, or an in-memory pandas DataFrame."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from transmodal.errors import DataError


@dataclass
class Table:
    """A table plus where it came from.

    Attributes:
        frame: The rows, with a fresh 0..n-1 index.
        source: The file path, or ``"<DataFrame>"``; used in error messages.
        base_dir: Folder against which relative image/audio paths resolve.
    """

    frame: pd.DataFrame
    source: str
    base_dir: Path


def read_table(data: "pd.DataFrame | str | Path | Table", base_dir: str | Path | None = None) -> Table:
    """Read ``data`` into a :class:`Table`.

    Args:
        data: A DataFrame, or a path ending in .csv/.tsv (optionally .gz), .parquet/.pq,
            .jsonl/.ndjson/.json.
        base_dir: Where relative paths resolve; defaults to the table file's folder (the current
            directory for a DataFrame).

    Raises:
        DataError: the file is missing, of an unknown type, or unreadable.
    """
    if isinstance(data, Table):
        return data
    if isinstance(data, pd.DataFrame):
        root = Path(base_dir) if base_dir is not None else Path.cwd()
        return Table(data.reset_index(drop=True), "<DataFrame>", root)
    path = Path(data)
    if not path.is_file():
        raise DataError(f"table file {path} does not exist; check the path")
    name = path.name.lower().removesuffix(".gz")
    try:
        if name.endswith(".csv"):
            frame = pd.read_csv(path, encoding_errors="replace")  # bad bytes -> U+FFFD -> per-cell errors
        elif name.endswith(".tsv"):
            frame = pd.read_csv(path, sep="\t", encoding_errors="replace")
        elif name.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
        elif name.endswith((".jsonl", ".ndjson", ".json")):
            frame = pd.read_json(path, lines=not name.endswith(".json") or _is_json_lines(path))
        else:
            raise DataError(
                f"{path}: unknown table type; use .csv, .tsv, .parquet, .jsonl (optionally .gz)"
            )
    except DataError:
        raise
    except Exception as err:  # pandas raises many types for malformed files
        raise DataError(f"{path}: cannot read the table ({type(err).__name__}: {err})") from err
    root = Path(base_dir) if base_dir is not None else path.resolve().parent
    return Table(frame.reset_index(drop=True), str(path), root)


def _is_json_lines(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(1).lstrip()
    return head != b"["
