"""The server process's heap: glibc's malloc configured for a long-running server, heap statistics
(glibc's or jemalloc's, whichever the process runs on: :mod:`transmodal.serving.allocator`), and
optional periodic trims.

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
default: trimming every 10 s cost ~15% of the throughput at concurrency 32. Under jemalloc
(``transmodal serve``'s choice when the system has it) glibc's options do nothing and are not set.
"""

from __future__ import annotations

import ctypes
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
    """This process's symbols (the C library's, and a preloaded allocator's before them), loaded once,
    or None. The process's own namespace, not ``libc.so.6`` opened by name: with jemalloc preloaded,
    ``free`` must be jemalloc's for memory glibc's functions allocated through it (``malloc_info``'s
    stream; glibc's own ``free`` aborted the server: "munmap_chunk(): invalid pointer")."""
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def jemalloc_loaded() -> bool:
    """Whether this process allocates with jemalloc (its ``mallctl`` is among the process's symbols)."""
    return _libc_function("mallctl") is not None


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


def heap_stats() -> dict[str, float | str] | None:
    """The heap of this process's allocator, in MiB. glibc (``mallinfo2()``, summed over the arenas):
    the heap's size, its bytes in use and free (free chunks stay resident until trimmed), the bytes in
    mmapped chunks and the arena count. jemalloc (``mallctl`` statistics): bytes allocated, in active
    pages, resident, mapped and retained (unmapped later), and the arena count. None for another
    allocator or a glibc older than 2.33."""
    if jemalloc_loaded():
        return _jemalloc_stats()
    info = _libc_function("mallinfo2")
    if info is None:
        return None
    info.restype = _MallInfo2
    got, mib = info(), 2.0**20
    return {"allocator": "glibc", "heap_mib": got.arena / mib, "in_use_mib": got.uordblks / mib,
            "free_mib": got.fordblks / mib, "mmapped_mib": got.hblkhd / mib, "arenas": arena_count()}


def _mallctl(name: str, value: ctypes._SimpleCData | None = None, new: ctypes._SimpleCData | None = None) -> None:
    """jemalloc's ``mallctl``: read ``name`` into ``value`` and/or write ``new`` to it.

    Raises:
        OSError: jemalloc refused (its error number).
    """
    mallctl = _libc_function("mallctl")
    mallctl.restype = ctypes.c_int
    old_size = ctypes.c_size_t(ctypes.sizeof(value)) if value is not None else None
    code = mallctl(name.encode(), ctypes.byref(value) if value is not None else None,
                   ctypes.byref(old_size) if old_size is not None else None,
                   ctypes.byref(new) if new is not None else None, ctypes.sizeof(new) if new is not None else 0)
    if code:
        raise OSError(code, f"mallctl({name!r}) failed")


def _jemalloc_stats() -> dict[str, float | str]:
    _mallctl("epoch", ctypes.c_uint64(), ctypes.c_uint64(1))  # statistics are refreshed per epoch
    stats = {}
    for name in ("allocated", "active", "resident", "mapped", "retained"):
        value = ctypes.c_size_t()
        _mallctl(f"stats.{name}", value)
        stats[f"{name}_mib"] = value.value / 2.0**20
    arenas = ctypes.c_uint()
    _mallctl("arenas.narenas", arenas)
    return {"allocator": "jemalloc", **stats, "arenas": arenas.value}


def _heap_trim() -> Callable[[], None] | None:
    """Give the heap's unused pages back to the system: glibc's ``malloc_trim(0)``, or jemalloc's
    purge of every arena; None when neither is available."""
    if jemalloc_loaded():
        return lambda: _mallctl("arena.4096.purge")  # 4096: MALLCTL_ARENAS_ALL
    trim = _malloc_trim()
    return None if trim is None else (lambda: trim(0))


class HeapTrimmer:
    """Calls ``malloc_trim(0)`` when :meth:`after_batch` is called and ``every_s`` seconds have passed
    since the last trim (0: never).

    Attributes:
        trims: Trims made so far.
    """

    def __init__(self, every_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s, self.clock = float(every_s), clock
        self._trim = _heap_trim() if every_s > 0 else None
        self._last = clock()
        self.trims = 0

    @property
    def available(self) -> bool:
        """Whether this process's allocator can trim (glibc or jemalloc)."""
        return self._trim is not None

    def after_batch(self) -> None:
        """Trim if the interval has passed (called by the inference thread after each forward pass)."""
        if self._trim is None or self.clock() - self._last < self.every_s:
            return
        self._trim()
        self._last = self.clock()
        self.trims += 1
