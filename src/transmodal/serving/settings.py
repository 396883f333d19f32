"""The options of ``transmodal serve``, as a frozen dataclass checked when built."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from transmodal.errors import ConfigError
from transmodal.serving.allocator import ALLOCATORS

SETTINGS_ENV = "TRANSMODAL_SERVE_SETTINGS"  # how uvicorn's worker processes receive the settings


@dataclass(frozen=True)
class ServeSettings:
    """How the server runs.

    Attributes:
        model_dir: The saved predictor folder.
        host: Interface to listen on (loopback by default).
        port: TCP port.
        workers: uvicorn worker processes, each with its own copy of the model.
        max_batch: Rows per forward pass at most; concurrent requests are batched up to it.
        max_wait_ms: How long a batch waits for more requests once its first one arrived.
        allowed_root: The only folder whose files a request may name by path; None refuses every
            server-side path (cells must then carry the file as base64 or an upload).
        max_body_bytes: Larger request bodies are refused with 413.
        max_rows: More rows in one request are refused with 413.
        trim_every_s: Give the heap's free memory back to the system (glibc ``malloc_trim``) at most
            this often, between forward passes (:mod:`transmodal.serving.memory`); 0: never.
        malloc_arenas: glibc malloc arenas of the server process (``M_ARENA_MAX``); default two per CPU
            core (glibc's own: eight per core); 0: glibc's default.
        mmap_threshold_mb: Buffers this large or larger are mapped, and unmapped when freed, never kept
            in the heap (glibc ``M_MMAP_THRESHOLD``, fixed); 0 (default): glibc's rising threshold.
        allocator: The server process's malloc (:mod:`transmodal.serving.allocator`): ``"auto"``
            (jemalloc when the system has it, else glibc), ``"jemalloc"`` or ``"glibc"``. The two
            options above apply to glibc only.
    """

    model_dir: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_batch: int = 64
    max_wait_ms: float = 5.0
    allowed_root: str | None = None
    max_body_bytes: int = 32 * 2**20
    max_rows: int = 1024
    trim_every_s: float = 0.0
    malloc_arenas: int = field(default_factory=lambda: 2 * (os.cpu_count() or 1))
    mmap_threshold_mb: float = 0.0
    allocator: str = "auto"

    def __post_init__(self) -> None:
        checks = {"port": 0 <= self.port <= 65535, "workers": self.workers >= 1, "max_batch": self.max_batch >= 1,
                  "max_wait_ms": 0 <= self.max_wait_ms <= 60_000, "max_body_bytes": self.max_body_bytes >= 1024,
                  "max_rows": self.max_rows >= 1, "trim_every_s": 0 <= self.trim_every_s <= 86_400,
                  "malloc_arenas": 0 <= self.malloc_arenas <= 1024,
                  "mmap_threshold_mb": 0 <= self.mmap_threshold_mb <= 32,
                  "allocator": self.allocator in ALLOCATORS}
        valid = {"port": "0..65535", "workers": ">= 1", "max_batch": ">= 1", "max_wait_ms": "0..60000",
                 "max_body_bytes": ">= 1024", "max_rows": ">= 1", "trim_every_s": "0..86400",
                 "malloc_arenas": "0..1024", "mmap_threshold_mb": "0..32 (glibc's largest threshold)",
                 "allocator": ", ".join(ALLOCATORS)}
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"serve: {name}={getattr(self, name)!r} is out of range; valid: {valid[name]}")
        if self.allowed_root is not None and not Path(self.allowed_root).is_dir():
            raise ConfigError(f"serve: --allowed-root {self.allowed_root} is not a folder")

    @property
    def root(self) -> Path | None:
        """The allowed root, resolved (symlinks followed), or None."""
        return Path(self.allowed_root).resolve() if self.allowed_root is not None else None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "ServeSettings":
        values: dict[str, Any] = json.loads(text)
        return cls(**values)
