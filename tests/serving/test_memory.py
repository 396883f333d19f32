"""The server's heap (``serving/memory.py``): glibc's malloc configured once when the server process
starts (one arena, a fixed mmap threshold), heap statistics, and the optional trims (glibc's free
memory back to the system at most once per interval, between forward passes, called by the
micro-batcher's inference thread)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading

import pandas as pd
import pytest

from transmodal.errors import ConfigError
from transmodal.serving import memory
from transmodal.serving.batcher import MicroBatcher
from transmodal.serving.memory import HeapTrimmer
from transmodal.serving.settings import ServeSettings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_trim_happens_at_most_once_per_interval(monkeypatch):
    trims = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: lambda pad: trims.append(pad) or 1)
    clock = Clock()
    trimmer = HeapTrimmer(10.0, clock)
    trimmer.after_batch()
    clock.now += 9.9
    trimmer.after_batch()
    assert trims == [] and trimmer.trims == 0
    clock.now += 0.2
    trimmer.after_batch()
    trimmer.after_batch()  # the interval starts again at the trim
    assert trims == [0] and trimmer.trims == 1
    clock.now += 10.0
    trimmer.after_batch()
    assert trimmer.trims == 2


def test_an_interval_of_zero_never_trims(monkeypatch):
    monkeypatch.setattr(memory, "_malloc_trim", lambda: pytest.fail("no C library lookup when off"))
    clock = Clock()
    trimmer = HeapTrimmer(0, clock)
    clock.now += 1e6
    trimmer.after_batch()
    assert not trimmer.available and trimmer.trims == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_the_real_trim_runs_on_glibc():
    clock = Clock()
    trimmer = HeapTrimmer(1.0, clock)
    assert trimmer.available
    clock.now += 2
    trimmer.after_batch()
    assert trimmer.trims == 1


def test_the_batcher_calls_after_batch_in_its_inference_thread_after_each_call():
    threads, outputs = [], []

    def run(kind, frame):
        outputs.append(len(frame))
        return frame["x"].tolist()

    async def serve():
        batcher = MicroBatcher(run, 2, 0.0, after_batch=lambda: threads.append(threading.current_thread().name))
        batcher.start()
        try:
            for i in range(3):
                assert await batcher.submit("predict", pd.DataFrame({"x": [i]})) == [i]
        finally:
            await batcher.stop()

    asyncio.run(serve())
    assert len(threads) == len(outputs) == 3
    assert all(name.startswith("transmodal-predict") for name in threads)


def test_the_heap_options_are_checked_when_the_settings_are_built(tmp_path):
    settings = ServeSettings(str(tmp_path))
    assert (settings.trim_every_s, settings.malloc_arenas, settings.mmap_threshold_mb) == (0.0, 2 * os.cpu_count(), 0.0)
    for option, value in (("trim_every_s", -1), ("malloc_arenas", -1), ("mmap_threshold_mb", 64)):
        with pytest.raises(ConfigError, match=option):
            ServeSettings(str(tmp_path), **{option: value})


def _run_in_a_new_process(code: str) -> str:
    """``code`` in a fresh Python (so this process's allocator is left alone); its stdout + stderr."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


_REUSED_BUFFER = """
    import ctypes
    from transmodal.serving import memory
    {configure}
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    size = 2 * 2**20
    libc.free(libc.malloc(size))  # glibc's default: the freed mapping raises the threshold to 2 MB
    buffer = libc.malloc(size)
    print("mmapped_mib", memory.heap_stats()["mmapped_mib"])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and mallinfo2")
def test_a_fixed_mmap_threshold_keeps_large_buffers_out_of_the_heap():
    def mmapped(configure: str) -> float:
        out = _run_in_a_new_process(_REUSED_BUFFER.format(configure=configure))
        return float(out.split("mmapped_mib")[1].split()[0])

    # glibc alone: the second 2 MB buffer comes from the heap (its threshold rose); fixed at 1 MB: mapped
    assert mmapped("") < 2.0
    assert mmapped("assert memory.configure_heap(0, 1.0) == {'mmap_threshold': True}") >= 2.0


_THREADS_ALLOCATE = """
    import ctypes, threading
    from transmodal.serving import memory
    {configure}
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    barrier, kept = threading.Barrier(4), []

    def allocate():
        barrier.wait()
        kept.append(libc.malloc(65536))

    threads = [threading.Thread(target=allocate) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    libc.malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and malloc_stats")
def test_one_arena_serves_every_thread():
    def arenas(configure: str) -> int:
        return _run_in_a_new_process(_THREADS_ALLOCATE.format(configure=configure)).count("Arena ")

    assert arenas("") > 1  # glibc alone: a new thread's first malloc makes an arena of its own
    assert arenas("assert memory.configure_heap(1, 0) == {'arenas': True}") == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallinfo2")
def test_heap_stats_report_the_heap_in_mib():
    stats = memory.heap_stats()
    assert set(stats) == {"allocator", "heap_mib", "in_use_mib", "free_mib", "mmapped_mib", "arenas"}
    assert stats["allocator"] == "glibc" and stats["arenas"] >= 1
    assert stats["in_use_mib"] > 0 and stats["heap_mib"] >= stats["in_use_mib"]
