"""Giving the heap's free memory back to the system now and then, so a long-running server's RSS
stays at what its batches use.

A forward pass of a micro-batch allocates activation buffers of a few MB and frees them; glibc keeps
freed memory in its heap for reuse (its mmap threshold rises after large buffers are freed, so later
ones come from the heap too), and a heap that served batches of many sizes fragments: the server's
RSS crept up 6-11% in a minute of batches of 16 (benchmarks/RESULTS.md, issue 19). Returning every
freed buffer at once (a fixed low mmap threshold) halved the throughput: each batch faulted its
pages in again. :class:`HeapTrimmer` calls glibc's ``malloc_trim(0)`` (free pages of every arena go back
to the system) at most once per interval, between two batches, so the cost is a batch's page faults
once per interval. A C library without ``malloc_trim`` (not glibc): nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from typing import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


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
