"""The micro-batcher (issue 19, item 2): concurrent requests share one predictor call up to
``max_batch`` rows, each gets its own rows back, and a failing request fails alone."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

from transmodal.serving.batcher import MicroBatcher


def _frame(start: int, rows: int) -> pd.DataFrame:
    return pd.DataFrame({"x": list(range(start, start + rows))})


class Recorder:
    """A fake predictor: returns each row's x (times 10 for predict_proba) and records every call."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[tuple[str, list[int]]] = []
        self.fail_on = fail_on

    def __call__(self, kind: str, frame: pd.DataFrame) -> list[int]:
        self.calls.append((kind, frame["x"].tolist()))
        if self.fail_on is not None and self.fail_on in frame["x"].tolist():
            raise ValueError(f"row {self.fail_on} is bad")
        return [x * (10 if kind == "predict_proba" else 1) for x in frame["x"]]


async def _serve(run, requests, max_batch=64, max_wait_ms=50.0):
    batcher = MicroBatcher(run, max_batch, max_wait_ms)
    batcher.start()
    try:
        return await asyncio.gather(*(batcher.submit(kind, frame) for kind, frame in requests),
                                    return_exceptions=True)
    finally:
        await batcher.stop()


def test_concurrent_requests_share_one_call_and_get_their_own_rows():
    run = Recorder()
    requests = [("predict", _frame(10 * i, i + 1)) for i in range(6)]
    results = asyncio.run(_serve(run, requests))
    assert results == [list(range(10 * i, 10 * i + i + 1)) for i in range(6)]
    assert len(run.calls) == 1 and len(run.calls[0][1]) == sum(range(1, 7))


def test_batches_hold_at_most_max_batch_rows_and_never_split_a_request():
    run = Recorder()
    requests = [("predict", _frame(10 * i, 3)) for i in range(5)] + [("predict", _frame(100, 9))]
    results = asyncio.run(_serve(run, requests, max_batch=7))
    assert results[-1] == list(range(100, 109))
    assert [len(rows) for _, rows in run.calls] == [6, 6, 3, 9]  # 3+3, 3+3, 3, then the 9-row request alone


def test_max_batch_one_gives_one_call_per_row():
    run = Recorder()
    asyncio.run(_serve(run, [("predict", _frame(i, 1)) for i in range(5)], max_batch=1))
    assert [rows for _, rows in run.calls] == [[i] for i in range(5)]


def test_predict_and_predict_proba_in_one_batch_are_one_call_each():
    run = Recorder()
    requests = [("predict", _frame(0, 2)), ("predict_proba", _frame(5, 1)), ("predict", _frame(7, 1))]
    assert asyncio.run(_serve(run, requests)) == [[0, 1], [50], [7]]
    assert sorted(run.calls) == [("predict", [0, 1, 7]), ("predict_proba", [5])]


def test_a_failing_request_fails_alone():
    run = Recorder(fail_on=21)
    requests = [("predict", _frame(0, 2)), ("predict", _frame(20, 2)), ("predict", _frame(40, 1))]
    results = asyncio.run(_serve(run, requests))
    assert results[0] == [0, 1] and results[2] == [40]
    assert isinstance(results[1], ValueError) and "row 21" in str(results[1])


def test_submit_before_start_raises():
    with pytest.raises(RuntimeError, match="not started"):
        asyncio.run(MicroBatcher(Recorder(), 4, 1.0).submit("predict", _frame(0, 1)))


def test_a_batch_waits_for_a_request_on_its_way_and_not_otherwise():
    async def scenario():
        run = Recorder()
        batcher = MicroBatcher(run, 64, 60_000.0)  # a minute: only "nothing on its way" ends the wait early
        batcher.start()
        try:
            alone = await asyncio.wait_for(batcher.submit("predict", _frame(0, 1)), 30)  # nobody else coming

            async def later():
                with batcher.arriving():
                    await asyncio.sleep(0.05)  # being read and checked
                    frame = _frame(20, 1)
                return await batcher.submit("predict", frame)

            coming = asyncio.ensure_future(later())
            await asyncio.sleep(0)  # the later request is now on its way
            first = batcher.submit("predict", _frame(10, 1))
            both = await asyncio.wait_for(asyncio.gather(first, coming), 30)
            return alone, both, run.calls
        finally:
            await batcher.stop()

    alone, both, calls = asyncio.run(scenario())
    assert alone == [0] and both == [[10], [20]]
    assert calls == [("predict", [0]), ("predict", [10, 20])]  # the second batch waited for the arriving one


class Gate:
    """A fake predictor whose first call blocks until released (no sleeping, no timing): requests that
    arrive meanwhile queue up, as they do while a real forward pass runs."""

    def __init__(self) -> None:
        import threading

        self.calls: list[list[int]] = []
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, kind: str, frame: pd.DataFrame) -> list[int]:
        self.calls.append(frame["x"].tolist())
        self.entered.set()
        self.release.wait(30)
        return frame["x"].tolist()


def test_requests_queued_during_a_forward_pass_form_batches_of_max_batch_rows():
    async def scenario():
        run = Gate()
        batcher = MicroBatcher(run, 8, 0.0)
        batcher.start()
        try:
            first = asyncio.ensure_future(batcher.submit("predict", _frame(0, 1)))
            await asyncio.get_running_loop().run_in_executor(None, run.entered.wait, 30)  # the first call runs
            rest = [asyncio.ensure_future(batcher.submit("predict", _frame(i, 1))) for i in range(1, 20)]
            await asyncio.sleep(0)  # all 19 are queued behind the running call
            run.release.set()
            results = await asyncio.wait_for(asyncio.gather(first, *rest), 30)
            return results, run.calls, dict(batcher.batch_sizes)
        finally:
            await batcher.stop()

    results, calls, sizes = asyncio.run(scenario())
    assert results == [[i] for i in range(20)]
    assert [len(c) for c in calls] == [1, 8, 8, 3]  # the waiting requests were batched up to max_batch
    assert [x for c in calls for x in c] == list(range(20))  # in arrival order
    assert sizes == {1: 1, 8: 2, 3: 1}


def test_after_a_batch_the_next_one_waits_for_as_many_rows_so_clients_do_not_split_into_groups():
    async def scenario():
        run = Recorder()
        batcher = MicroBatcher(run, 64, 60_000.0)  # a minute: only enough rows end the wait early
        batcher.start()
        try:
            first = await asyncio.wait_for(asyncio.gather(*(batcher.submit("predict", _frame(i, 1)) for i in range(3))), 30)
            one = asyncio.ensure_future(batcher.submit("predict", _frame(10, 1)))
            for _ in range(20):
                await asyncio.sleep(0)
            held = len(batcher._pending)  # 1 row queued, the last batch ran 3: the batch waits
            rest = [batcher.submit("predict", _frame(11 + i, 1)) for i in range(2)]
            second = await asyncio.wait_for(asyncio.gather(one, *rest), 30)
            return first, held, second, run.calls
        finally:
            await batcher.stop()

    first, held, second, calls = asyncio.run(scenario())
    assert first == [[0], [1], [2]] and second == [[10], [11], [12]]
    assert held == 1
    assert calls == [("predict", [0, 1, 2]), ("predict", [10, 11, 12])]


def test_the_wait_for_returning_clients_ends_after_max_wait_ms():
    async def scenario():
        run = Recorder()
        batcher = MicroBatcher(run, 64, 1.0)
        batcher.start()
        try:
            await asyncio.gather(*(batcher.submit("predict", _frame(i, 1)) for i in range(3)))
            return await asyncio.wait_for(batcher.submit("predict", _frame(10, 1)), 30), run.calls
        finally:
            await batcher.stop()

    alone, calls = asyncio.run(scenario())
    assert alone == [10] and calls[-1] == ("predict", [10])  # nobody came back: it ran alone
