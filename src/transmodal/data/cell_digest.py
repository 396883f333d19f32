"""Content digests of table cells: the key of a cell's features in the embedding store.

A file cell is keyed by the file's bytes, not its path, so a renamed or copied file hits and a file
rewritten in place misses. A text cell is keyed by its text; a tabular row by its values.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from transmodal.data.cells import CellError, decode_text, resolve_path

CHUNK = 1 << 20


def file_digest(path: Path) -> bytes:
    """SHA-256 of a file's bytes (32 bytes)."""
    digest = hashlib.sha256(b"file:")
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.digest()


def cell_digest(modality: str, value: Any, base_dir: Path, allowed_root: Path | None = None) -> bytes | None:
    """SHA-256 (32 bytes) of one non-missing cell's content, or None when it cannot be read (the
    row is then encoded as usual and not stored)."""
    try:
        if modality in ("image", "audio"):
            if isinstance(value, bytes):  # the file's bytes themselves (an upload)
                return hashlib.sha256(b"file:" + value).digest()
            return file_digest(resolve_path(value, base_dir, allowed_root))
        if modality == "text":
            return hashlib.sha256(b"text:" + decode_text(value).encode("utf-8")).digest()
    except (CellError, OSError):
        return None
    return hashlib.sha256(f"{modality}:{value!r}".encode()).digest()


def tabular_digest(values: dict[str, Any]) -> bytes:
    """SHA-256 of a row's tabular values (column -> decoded value)."""
    return hashlib.sha256(b"tabular:" + json.dumps(values, sort_keys=True, default=repr).encode()).digest()
