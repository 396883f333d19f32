"""glibc's malloc arenas in a server process.

glibc gives threads that allocate at the same time arenas of their own (up to 8 per core). A freed
buffer below the (self-raising) mmap threshold stays in its arena's heap, so every arena keeps the
largest activations its threads have held: in the server the micro-batcher's thread and the
encoding workers (:mod:`transmodal.engine.batch_workers`) each kept theirs, and the server's RSS grew
11% over a minute of concurrency-32 load (issue 19 d). With one arena the process keeps one set.
"""

from __future__ import annotations

import ctypes
import sys

M_ARENA_MAX = -8  # mallopt parameter (glibc malloc.h)
SERVER_ARENAS = 1


def limit_malloc_arenas(count: int = SERVER_ARENAS) -> bool:
    """Cap glibc's malloc arenas at ``count`` (``mallopt(M_ARENA_MAX)``, the same as the
    ``MALLOC_ARENA_MAX`` environment variable). Call it before the process starts its threads: a
    thread that has allocated keeps its arena. Returns False where there is no glibc (another C
    library, macOS, Windows), which then allocates as it always does."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, int(count)))
    except (OSError, AttributeError):  # musl and others: no libc.so.6 or no mallopt
        return False
