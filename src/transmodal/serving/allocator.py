"""Which malloc the server process runs on: jemalloc when the system has it, else glibc's.

A forward pass of a micro-batch allocates activation buffers of a few hundred KB to a few MB, of sizes
that change with every batch, from several threads. glibc's heaps fragment under that: free chunks
stay resident, and the served clothing model's RSS grew 3-14% in a minute at concurrency 32 even with
two arenas per core (:mod:`transmodal.serving.memory`). jemalloc keeps buffers of a size class
together and gives unused pages back after a decay time (``background_thread:true``: a thread of its
own does it, not the request path); the same server's RSS moved -1.1% and +1.2% over a load test's
three minutes (at most +3.2% in one), with the same throughput and ~250-290 MiB less memory
(benchmarks/RESULTS.md, issue 19).

jemalloc must be loaded before the process starts (``LD_PRELOAD``), so ``transmodal serve`` chooses
the allocator first thing (:func:`choose_allocator`) and, for jemalloc, replaces its process by the
server started again with it preloaded (:func:`exec_with_preload`): the same process id, so a process
manager's signals reach the server. uvicorn's worker processes inherit the environment. jemalloc is a
system library (Debian/Ubuntu package ``libjemalloc2``), not a Python package; without it ``auto``
serves on glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import glob
import os
import sys
from dataclasses import dataclass

from transmodal.errors import ConfigError
from transmodal.serving.memory import jemalloc_loaded

ALLOCATORS = ("auto", "glibc", "jemalloc")
# jemalloc's options: a background thread returns unused dirty pages after the default decay time (10 s)
JEMALLOC_CONF = "background_thread:true"
_LIBRARY_GLOBS = ("/usr/lib/*-linux-gnu/libjemalloc.so.2", "/usr/lib64/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2",
                  "/usr/local/lib/libjemalloc.so.2")


@dataclass(frozen=True)
class Allocator:
    """The malloc a server process uses.

    Attributes:
        name: ``"glibc"`` or ``"jemalloc"``.
        library: The jemalloc shared library to preload (None for glibc).
        loaded: Whether it already runs in this process (no preload needed).
    """

    name: str
    library: str | None = None
    loaded: bool = False

    @property
    def needs_preload(self) -> bool:
        """Whether the server must be started again with :attr:`library` preloaded."""
        return self.name == "jemalloc" and not self.loaded


@functools.cache
def find_jemalloc() -> str | None:
    """The path of the system's ``libjemalloc.so.2``, or None (also on a system other than Linux,
    where ``LD_PRELOAD`` does not apply)."""
    if not sys.platform.startswith("linux"):
        return None
    for pattern in _LIBRARY_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return ctypes.util.find_library("jemalloc")


def choose_allocator(requested: str, library: str | None = None) -> Allocator:
    """The allocator for ``requested`` (``auto``: jemalloc when found, else glibc).

    Args:
        requested: One of :data:`ALLOCATORS`, as :class:`~transmodal.serving.settings.ServeSettings`
            checked it (``settings.allocator``).
        library: The jemalloc library to use (default: :func:`find_jemalloc`).

    Raises:
        ConfigError: ``jemalloc`` was asked for and the system has none.
    """
    if requested == "glibc":
        return Allocator("glibc")
    if jemalloc_loaded():
        return Allocator("jemalloc", library, loaded=True)
    library = library or find_jemalloc()
    if library is not None:
        return Allocator("jemalloc", library)
    if requested == "jemalloc":
        raise ConfigError("serve: --allocator jemalloc: libjemalloc.so.2 was not found on this system; install it "
                          "(Debian/Ubuntu: apt install libjemalloc2) or use --allocator glibc")
    return Allocator("glibc")


def preload_environment(allocator: Allocator, environ: dict[str, str]) -> dict[str, str]:
    """``environ`` with ``allocator``'s library preloaded and jemalloc's options (a user's
    ``MALLOC_CONF`` is kept)."""
    preload = " ".join(p for p in (allocator.library, environ.get("LD_PRELOAD", "")) if p)
    return {**environ, "LD_PRELOAD": preload, "MALLOC_CONF": environ.get("MALLOC_CONF", JEMALLOC_CONF)}


def exec_with_preload(allocator: Allocator, command: list[str], env_updates: dict[str, str]) -> None:
    """Replace this process by ``command`` run with ``allocator``'s library preloaded and
    ``env_updates`` in its environment (the same process id). Never returns."""
    env = {**preload_environment(allocator, dict(os.environ)), **env_updates}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, env)
