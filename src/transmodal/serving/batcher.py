"""Micro-batching: concurrent requests answered by one forward pass.

Requests queue up; the batching task takes the first, waits up to ``max_wait_ms`` for more (not at all
when ``max_batch`` rows are already waiting, or when no other request is on its way, being read and
checked (see :meth:`MicroBatcher.arriving`), and at least as many rows are queued as the last batch
ran: under steady concurrent load the last batch's clients are coming back), and runs one ``predict``
and/or one ``predict_proba`` call over the concatenated rows in a single inference thread, so forward
passes never overlap. Each request
gets its own rows' outputs back. A request is never split: one larger than ``max_batch`` rows forms a
batch of its own. If a batch fails, its requests are run one by one, so only the request at fault
gets the error (rows are validated before they queue, so this is the exception).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd


@dataclass
class Pending:
    """One request waiting for its outputs."""

    kind: str
    frame: pd.DataFrame
    future: asyncio.Future


class MicroBatcher:
    """Batches concurrent requests to ``run(kind, frame) -> one output per row``.

    Args:
        run: The (blocking) predictor call; run in one dedicated thread.
        max_batch: Rows per call at most (a single larger request runs alone).
        max_wait_ms: How long the first request of a batch waits for others.
        after_batch: Called in the inference thread after each call (the server trims its heap there:
            :class:`~transmodal.serving.memory.HeapTrimmer`).
    """

    def __init__(self, run: Callable[[str, pd.DataFrame], list[Any]], max_batch: int, max_wait_ms: float,
                 after_batch: Callable[[], None] | None = None) -> None:
        self.run, self.max_batch, self.max_wait = run, max_batch, max_wait_ms / 1000.0
        self.after_batch = after_batch
        self._pending: collections.deque[Pending] = collections.deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.batches = 0  # forward calls made (for /health and tests)
        self.rows = 0
        self.batch_sizes: collections.Counter[int] = collections.Counter()  # rows per call -> calls
        self._arriving = 0  # requests being read and checked, not queued yet
        self._last_rows = 0  # rows of the last batch taken

    def start(self) -> None:
        """Start the batching task on the running event loop."""
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transmodal-predict")
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop batching; requests still queued get a cancellation."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for item in self._pending:
            if not item.future.done():
                item.future.cancel()
        self._pending.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    @contextlib.contextmanager
    def arriving(self):
        """Marks a request on its way (read and checked inside the block): a batch waits for it
        (within ``max_wait_ms``); with none on its way a batch does not wait at all."""
        self._arriving += 1
        try:
            yield
        finally:
            self._arriving -= 1
            if self._wake is not None:
                self._wake.set()

    async def submit(self, kind: str, frame: pd.DataFrame) -> list[Any]:
        """Queue ``frame`` and wait for its outputs (one per row)."""
        if self._wake is None:
            raise RuntimeError("the micro-batcher is not started")
        future = asyncio.get_running_loop().create_future()
        self._pending.append(Pending(kind, frame, future))
        self._wake.set()
        return await future

    def _queued_rows(self) -> int:
        return sum(len(p.frame) for p in self._pending)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._pending:
                self._wake.clear()
                await self._wake.wait()
            deadline = loop.time() + self.max_wait
            while (self._worth_waiting() and (left := deadline - loop.time()) > 0):
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), left)
                except asyncio.TimeoutError:
                    break
            await self._run_batch(self._take())

    def _worth_waiting(self) -> bool:
        """Whether the next batch should wait (within ``max_wait_ms``) for more rows: it has room left,
        and a request is on its way or fewer rows are queued than the last batch ran. The clients of
        the last batch are then likely sending their next requests: without this wait, concurrent
        clients split into groups that take turns (say 9 and 23 rows instead of 32 at concurrency 32:
        each group comes back while the other one runs). With one client at a time no batch waits."""
        queued = self._queued_rows()
        return queued < self.max_batch and (self._arriving > 0 or queued < self._last_rows)

    def _take(self) -> list[Pending]:
        """The queued requests of the next batch: at least one, then while they fit in ``max_batch``."""
        batch = [self._pending.popleft()]
        rows = len(batch[0].frame)
        while self._pending and rows + len(self._pending[0].frame) <= self.max_batch:
            rows += len(self._pending[0].frame)
            batch.append(self._pending.popleft())
        self._last_rows = rows
        return [p for p in batch if not p.future.done()]  # a client that went away is skipped

    async def _run_batch(self, batch: list[Pending]) -> None:
        for kind in sorted({p.kind for p in batch}):
            group = [p for p in batch if p.kind == kind]
            try:
                outputs = await self._call(kind, group)
            except Exception as err:  # noqa: BLE001 - handed to the requests' handlers
                await self._run_alone(kind, group, err)
                continue
            start = 0
            for item in group:
                _settle(item, outputs[start:start + len(item.frame)])
                start += len(item.frame)

    async def _run_alone(self, kind: str, group: list[Pending], error: Exception) -> None:
        """After a failed batch: each request alone, so that only the one at fault gets an error."""
        if len(group) == 1:
            _settle(group[0], error=error)
            return
        for item in group:
            try:
                _settle(item, await self._call(kind, [item]))
            except Exception as err:  # noqa: BLE001 - handed to that request's handler
                _settle(item, error=err)

    async def _call(self, kind: str, group: list[Pending]) -> list[Any]:
        frames = [p.frame for p in group]
        outputs = await asyncio.get_running_loop().run_in_executor(self._executor, self._run_frames, kind, frames)
        rows = sum(len(f) for f in frames)
        self.batches += 1
        self.rows += rows
        self.batch_sizes[rows] += 1
        return outputs

    def _run_frames(self, kind: str, frames: list[pd.DataFrame]) -> list[Any]:
        """The requests' rows as one frame, run (in the inference thread: the event loop goes on
        reading requests meanwhile)."""
        frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        try:
            return self.run(kind, frame)
        finally:
            if self.after_batch is not None:
                self.after_batch()


def _settle(item: Pending, outputs: list[Any] | None = None, error: BaseException | None = None) -> None:
    if item.future.done():
        return
    if error is not None:
        item.future.set_exception(error)
    else:
        item.future.set_result(outputs)
