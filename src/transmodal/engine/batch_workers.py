"""Encoding length-sorted batches on a CPU: several batches at once, one core each.

A small transformer (MiniLM: width 384) gains little from splitting one batch's operations over
the cores: its layer norms, activations and attention are too small to share, and every operation
of a parallel region waits for its slowest thread (a core briefly taken by another process stalls
both). So on a CPU, :func:`map_batches` runs ``workers`` batches at once in threads, each with
one intra-op thread (:func:`~transmodal.encoders.threads.intra_op_threads` while they run); torch
releases the GIL inside its operations, so the batches run side by side. Each batch is computed
as it would be alone (features are the same, bit for bit, for the int8 and fp32 models measured).
On a GPU, or with one thread, batches run one after the other as before.

The first batch of an encoder's first call runs alone in the calling thread, so that what an
encoder builds on its first call (an int8 copy, hooks) is built once before any worker starts; later
calls (a server's micro-batches: a few length batches each) start every batch on the workers at once
(``first_alone=False``).
"""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable, Iterator, Sequence, TypeVar

import torch

from transmodal.encoders.threads import intra_op_threads

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_WORKERS = 4  # beyond a few threads, the model's Python code (one GIL) becomes the limit


def cpu_workers(device: torch.device, batches: int, first_alone: bool = True) -> int:
    """Batches to encode at once: one per intra-op thread (at most :data:`MAX_WORKERS`) on a CPU
    with several threads and batches (not counting a first batch that runs alone); else 1."""
    shared = batches - 1 if first_alone else batches  # batches the workers run
    if device.type != "cpu" or batches < 2 or shared < 2:
        return 1
    return max(1, min(torch.get_num_threads(), MAX_WORKERS, shared))


def map_batches(fn: Callable[[Item], Result], batches: Sequence[Item], workers: int,
                first_alone: bool = True) -> Iterator[Result]:
    """``fn(batch)`` for every batch, yielded in order; ``workers`` > 1 runs that many at once (after
    the first, which runs alone in this thread, when ``first_alone``). The workers run in the caller's
    grad mode (off under ``torch.no_grad``). Stopping the iteration early (an exception in the
    caller) cancels the batches not started yet."""
    if not batches:
        return
    if first_alone or workers <= 1:
        yield fn(batches[0])
        batches = batches[1:]
    if workers <= 1:
        for batch in batches:
            yield fn(batch)
        return
    grad = torch.is_grad_enabled()

    def run(batch: Item) -> Result:
        with torch.set_grad_enabled(grad):  # grad mode is per thread
            return fn(batch)

    with intra_op_threads(torch.get_num_threads() // workers):  # split between the workers
        # each batch in a copy of the caller's context (context variables: a server's packed batches, ...)
        futures = [_pool(workers).submit(contextvars.copy_context().run, run, batch) for batch in batches]
        try:
            for future in futures:
                yield future.result()
        finally:  # batches not started yet are dropped; running ones end before the threads are restored
            for future in futures:
                future.cancel()
            wait(futures)


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """The process's pool of ``workers`` encoding threads, started once and reused by every call: a
    server encodes each micro-batch on the same threads (threads started per call took other malloc
    arenas each time: the server's RSS grew by a quarter in a minute of micro-batches)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix=f"transmodal-encode{workers}")
        return pool
