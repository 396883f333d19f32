"""The server's heap trims (``serving/memory.py``): glibc's free memory goes back to the system at most
once per interval, between forward passes, called by the micro-batcher's inference thread."""

from __future__ import annotations

import asyncio
import sys
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


def test_the_interval_is_checked_when_the_settings_are_built(tmp_path):
    assert ServeSettings(str(tmp_path)).trim_every_s == 10.0
    with pytest.raises(ConfigError, match="trim_every_s"):
        ServeSettings(str(tmp_path), trim_every_s=-1)
