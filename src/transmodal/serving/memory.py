"""The server process's heap: glibc's malloc configured for a long-running server, heap statistics,
and optional periodic trims.

A forward pass of a micro-batch allocates activation buffers of a few hundred KB to a few MB, of
sizes that change with every batch (its rows and tokens), from several threads, and frees them.
glibc gives each new thread an arena of its own (up to eight per core: a served clothing model had
16), and each arena's heap fragments and keeps its free chunks resident: ``GET /health``'s ``heap``
showed as much memory free in the heaps as in use, and RSS grew 7-16% in 30 s of batches of 16 at
concurrency 32 (benchmarks/RESULTS.md, issue 19). :func:`configure_heap`, called once when the
server process starts, before the libraries that start threads are imported, sets:

- ``arenas`` (``M_ARENA_MAX``; ``transmodal serve`` default: two per CPU core): fewer heaps to
  fragment. Two per core grew RSS less than glibc's default (+7.3% in 30 s at concurrency 32, against
  +6.7-15.9%) at the same or better throughput; one arena for every thread cost ~20% of the
  throughput (the threads wait for its lock) and did not bound RSS better;
- ``mmap_threshold_mb`` (``M_MMAP_THRESHOLD``, off by default): buffers of that size or more are
  mapped and unmapped, never left in the heap. It also turns off glibc's rising thresholds, and the
  heap's top is then given back after every batch: ~20% of the throughput at 4 MB.

:class:`HeapTrimmer` (``malloc_trim(0)`` at most once per interval, between batches) is off by
default: trimming every 10 s cost ~15% of the throughput at concurrency 32. A C library other than
glibc: nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import time
from typing import Callable


# option -> (glibc's mallopt parameter number (malloc.h), the environment variable glibc reads at start)
_HEAP_OPTIONS = {"arenas": (-8, "MALLOC_ARENA_MAX"), "mmap_threshold": (-3, "MALLOC_MMAP_THRESHOLD_")}


def _heap_values(arenas: int, mmap_threshold_mb: float) -> dict[str, int]:
    """The options to set (0: glibc's default, left out), in mallopt's units."""
    values = {"arenas": int(arenas), "mmap_threshold": int(mmap_threshold_mb * 2**20)}
    return {name: value for name, value in values.items() if value > 0}


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """This process's C library, loaded once, or None. (``find_library`` runs ``ldconfig``, ~1 ms:
    looked up per function, ``GET /health``'s heap statistics took 6 ms of the event loop.)"""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def _libc_function(name: str) -> Callable | None:
    """``name`` from this process's C library, or None (no glibc, or a glibc without it)."""
    return getattr(_libc(), name, None)


def _malloc_trim() -> Callable[[int], int] | None:
    trim = _libc_function("malloc_trim")
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def configure_heap(arenas: int, mmap_threshold_mb: float) -> dict[str, bool]:
    """Sets glibc malloc's arena count and a fixed mmap threshold for this process (0: leave glibc's
    default). Call it first thing in the server process, before importing the libraries that start
    threads (numpy's OpenBLAS, pyarrow's jemalloc): arenas already made by other threads stay.

    Returns:
        For each option set, whether glibc accepted it (False without glibc).
    """
    mallopt = _libc_function("mallopt")
    if mallopt is not None:
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return {name: mallopt is not None and bool(mallopt(_HEAP_OPTIONS[name][0], value))
            for name, value in _heap_values(arenas, mmap_threshold_mb).items()}


def heap_environment(arenas: int, mmap_threshold_mb: float) -> dict[str, str]:
    """The environment variables that give a new process the options of :func:`configure_heap`
    (glibc reads them when the process starts): for uvicorn's worker processes."""
    return {_HEAP_OPTIONS[name][1]: str(value) for name, value in _heap_values(arenas, mmap_threshold_mb).items()}


def arena_count() -> int | None:
    """How many malloc arenas this process has (glibc's ``malloc_info``), or None without glibc."""
    libc_names = ("open_memstream", "malloc_info", "fclose", "free")
    functions = [_libc_function(name) for name in libc_names]
    if any(f is None for f in functions):
        return None
    open_memstream, malloc_info, fclose, free = functions
    buffer, size = ctypes.c_void_p(), ctypes.c_size_t()
    open_memstream.restype, open_memstream.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_void_p]
    malloc_info.argtypes, fclose.argtypes, free.argtypes = [ctypes.c_int, ctypes.c_void_p], [ctypes.c_void_p], [ctypes.c_void_p]
    stream = open_memstream(ctypes.byref(buffer), ctypes.byref(size))
    malloc_info(0, stream)
    fclose(stream)
    text = ctypes.string_at(buffer, size.value).decode()
    free(buffer)
    return text.count("<heap nr=")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def heap_stats() -> dict[str, float] | None:
    """glibc's ``mallinfo2()`` in MiB, summed over the arenas: the heap's size, its bytes in use and
    free (free chunks stay resident until trimmed), and the bytes in mmapped chunks; None without
    glibc >= 2.33."""
    info = _libc_function("mallinfo2")
    if info is None:
        return None
    info.restype = _MallInfo2
    got, mib = info(), 2.0**20
    return {"heap_mib": got.arena / mib, "in_use_mib": got.uordblks / mib, "free_mib": got.fordblks / mib,
            "mmapped_mib": got.hblkhd / mib, "arenas": arena_count()}


class HeapTrimmer:
    """Calls ``malloc_trim(0)`` when :meth:`after_batch` is called and ``every_s`` seconds have passed
    since the last trim (0: never).

    Attributes:
        trims: Trims made so far.
    """

    def __init__(self, every_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s, self.clock = float(every_s), clock
        self._trim = _malloc_trim() if every_s > 0 else None
        self._last = clock()
        self.trims = 0

    @property
    def available(self) -> bool:
        """Whether this process's C library can trim (glibc)."""
        return self._trim is not None

    def after_batch(self) -> None:
        """Trim if the interval has passed (called by the inference thread after each forward pass)."""
        if self._trim is None or self.clock() - self._last < self.every_s:
            return
        self._trim(0)
        self._last = self.clock()
        self.trims += 1
