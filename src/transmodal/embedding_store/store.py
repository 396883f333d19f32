"""A persistent embedding store shared by fits, processes and ``predict``.

Frozen encoders' features are kept on disk so that a second fit of the same table (another process,
other head settings) and a later ``predict`` encode nothing they have encoded before. Layout::

    ROOT/                          TRANSMODAL_CACHE, default ~/.cache/transmodal/embeddings
      <encoder key>/               one folder per encoder identity (weights + output settings)
        encoder.json               what the key stands for (shown by ``transmodal cache info``)
        shard-<time>-<uuid>.safetensors   "keys": uint8 (N, 32) content digests, "values": float32 (N, D)

Shards are immutable and written atomically (a temporary file renamed into place), so two writers
never see each other's half-written files and a reader sees a shard whole or not at all. A shard
that disappears under a reader (evicted by another process) is a miss, never an error. The size
bound is kept by deleting the least recently used shards (reads touch a shard's modification time).
Nothing is a pickle: shards are safetensors, the description is JSON.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DIGEST_BYTES = 32  # SHA-256 of a cell's content
DEFAULT_MAX_BYTES = 4 * 1024**3
SHARD_GLOB = "shard-*.safetensors"
FEW_ROWS = 32  # up to this many rows are read from a shard one by one, not the whole shard


def default_root() -> Path | None:
    """The store folder: ``TRANSMODAL_CACHE`` (``off`` disables the store), else the user's cache
    directory (``XDG_CACHE_HOME`` or ``~/.cache``) / ``transmodal/embeddings``."""
    configured = os.environ.get("TRANSMODAL_CACHE", "").strip()
    if configured.lower() in ("off", "0", "false", "none"):
        return None
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "transmodal" / "embeddings"


def default_max_bytes() -> int:
    """The size bound: ``TRANSMODAL_CACHE_SIZE`` (bytes, or with a K/M/G suffix), else 4 GiB."""
    text = os.environ.get("TRANSMODAL_CACHE_SIZE", "").strip().upper().removesuffix("B")
    if not text:
        return DEFAULT_MAX_BYTES
    scale = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(text[-1], 1)
    try:
        return int(float(text.rstrip("KMG")) * scale)
    except ValueError:
        from transmodal.errors import ConfigError

        raise ConfigError(f"TRANSMODAL_CACHE_SIZE={os.environ['TRANSMODAL_CACHE_SIZE']!r} is not a size; "
                          "write bytes or a number with K, M or G (e.g. 2G)") from None


@dataclass(frozen=True)
class StoreInfo:
    """What the store holds: its folder, bound, and per encoder key the shards, rows and bytes."""

    root: Path
    max_bytes: int
    encoders: dict[str, dict]

    @property
    def total_bytes(self) -> int:
        return sum(entry["bytes"] for entry in self.encoders.values())


class EmbeddingStore:
    """Features on disk, keyed by (encoder key, content digest).

    Args:
        root: The store folder (created on the first write).
        max_bytes: Size bound; least recently used shards are deleted past it.
    """

    def __init__(self, root: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self._index: dict[str, dict[bytes, tuple[str, int]]] = {}  # encoder key -> digest -> (shard, row)
        self._seen: dict[str, frozenset[str]] = {}  # encoder key -> shard names indexed

    # ---- reading -------------------------------------------------------------------------------
    def lookup(self, encoder_key: str, digests: list[bytes]) -> dict[bytes, np.ndarray]:
        """Features (D,) float32 of the digests the store holds (absent ones are left out)."""
        index = self._refresh(encoder_key)
        wanted: dict[str, list[tuple[bytes, int]]] = {}
        for digest in set(digests):
            if digest in index:
                shard, row = index[digest]
                wanted.setdefault(shard, []).append((digest, row))
        found: dict[bytes, np.ndarray] = {}
        for shard, rows in wanted.items():
            found.update(self._read_rows(self.root / encoder_key / shard, rows))
        return found

    @staticmethod
    def _read_rows(path: Path, rows: list[tuple[bytes, int]]) -> dict[bytes, np.ndarray]:
        """Features of ``rows`` (digest, row) from one shard: row by row for a few, else the whole
        shard at once; empty when the shard was evicted since it was indexed (a miss)."""
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="numpy") as shard:
                if len(rows) <= FEW_ROWS:
                    values = shard.get_slice("values")
                    found = {digest: values[row:row + 1][0] for digest, row in rows}
                else:
                    values = shard.get_tensor("values")
                    found = {digest: values[row] for digest, row in rows}
            os.utime(path)  # least recently used is least recently read or written
        except (FileNotFoundError, OSError):
            return {}
        return found

    def _refresh(self, encoder_key: str) -> dict[bytes, tuple[str, int]]:
        """The digest index of ``encoder_key``, updated for shards added or removed since."""
        folder = self.root / encoder_key
        names = frozenset(p.name for p in folder.glob(SHARD_GLOB)) if folder.is_dir() else frozenset()
        if self._seen.get(encoder_key) == names:
            return self._index[encoder_key]
        index = {d: loc for d, loc in self._index.get(encoder_key, {}).items() if loc[0] in names}
        for name in sorted(names - self._seen.get(encoder_key, frozenset())):
            keys = _read_keys(folder / name)
            for row, digest in enumerate(keys):
                index.setdefault(bytes(digest), (name, row))
        self._index[encoder_key], self._seen[encoder_key] = index, names
        return index

    # ---- writing -------------------------------------------------------------------------------
    def add(self, encoder_key: str, digests: list[bytes], values: np.ndarray, description: dict) -> None:
        """Write one shard of features ``values`` (N, D) for ``digests`` (N), then keep the bound."""
        from safetensors.numpy import save_file

        if not digests:
            return
        folder = self.root / encoder_key
        folder.mkdir(parents=True, exist_ok=True)
        described = folder / "encoder.json"
        if not described.exists():
            _write_atomic_text(described, json.dumps(description, sort_keys=True, indent=1, default=str))
        keys = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), DIGEST_BYTES)
        name = f"shard-{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.safetensors"
        temporary = folder / f".{name}.tmp"
        save_file({"keys": keys, "values": np.ascontiguousarray(values, dtype=np.float32)}, str(temporary))
        os.replace(temporary, folder / name)
        self.evict()

    def evict(self) -> int:
        """Delete least recently used shards until the store fits its bound; returns bytes freed."""
        shards = []
        for path in self.root.glob(f"*/{SHARD_GLOB}"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            shards.append((stat.st_mtime_ns, stat.st_size, path))
        total = sum(size for _, size, _ in shards)
        freed = 0
        for _, size, path in sorted(shards):
            if total - freed <= self.max_bytes:
                break
            try:
                path.unlink()
                freed += size
            except FileNotFoundError:
                pass  # another process evicted it first
        return freed

    # ---- the ``transmodal cache`` commands -------------------------------------------------------
    def info(self) -> StoreInfo:
        """Per encoder key: description, shards, rows and bytes."""
        encoders = {}
        for folder in sorted(p for p in self.root.glob("*") if p.is_dir()) if self.root.is_dir() else []:
            shards = list(folder.glob(SHARD_GLOB))
            rows = sum(len(_read_keys(p)) for p in shards)
            described = folder / "encoder.json"
            description = json.loads(described.read_text()) if described.is_file() else {}
            encoders[folder.name] = {"description": description, "shards": len(shards), "rows": rows,
                                     "bytes": sum(_size(p) for p in shards)}
        return StoreInfo(self.root, self.max_bytes, encoders)

    def clear(self) -> int:
        """Delete every shard and description; returns bytes freed. Only files the store writes are
        deleted, so a wrongly configured folder loses nothing else."""
        freed = 0
        for pattern in (f"*/{SHARD_GLOB}", "*/encoder.json", "*/.shard-*.tmp"):
            for path in self.root.glob(pattern):
                freed += _size(path)
                path.unlink(missing_ok=True)
        for folder in self.root.glob("*"):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        self._index.clear()
        self._seen.clear()
        return freed


def _read_keys(path: Path) -> np.ndarray:
    """The digests (N, 32) of one shard; empty when the shard is gone or unreadable."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as shard:
            return shard.get_tensor("keys")
    except (FileNotFoundError, OSError):
        return np.zeros((0, DIGEST_BYTES), dtype=np.uint8)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _write_atomic_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


_OPEN: dict[tuple[str, int], EmbeddingStore] = {}


def open_store() -> EmbeddingStore | None:
    """The process's store at :func:`default_root` (one object per folder, so its index is reused
    across fits and predictions), or None when the store is off."""
    root = default_root()
    if root is None:
        return None
    key = (str(root), default_max_bytes())
    if key not in _OPEN:
        _OPEN[key] = EmbeddingStore(root, key[1])
    return _OPEN[key]
