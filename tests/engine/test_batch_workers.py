"""Several length-sorted batches encoded at once on a CPU: results in order and unchanged, one
intra-op thread per worker while they run, the thread setting restored (also after an early stop)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest
import torch

from tinycheckpoints import BERT_WORDS, save_tiny_bert
from transmodal.data.dataset import TableDataset
from transmodal.data.readers import read_table
from transmodal.data.schema import InputSpec
from transmodal.encoders.base import build_encoder
from transmodal.engine.batch_workers import cpu_workers, map_batches
from transmodal.engine.cache import EmbeddingCache
from transmodal.engine.encoding import fill_cache


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _features(encoder, dataset, column: str = "review") -> torch.Tensor:
    """``(N, D)`` the frozen features of ``dataset``'s ``column``, filled as a fit fills them."""

    class Net(torch.nn.Module):
        def encoder(self, name):
            return encoder

    cache = EmbeddingCache(len(dataset), {column: encoder.output_dim})
    fill_cache(Net(), dataset, cache, None, batch_size=8)
    return cache.values[column]


def test_batches_come_back_in_order_the_first_in_the_calling_thread_the_rest_with_one_thread_each(two_threads):
    seen = []

    def work(batch: int):
        seen.append((batch, threading.current_thread() is threading.main_thread(), torch.get_num_threads(),
                     torch.is_grad_enabled()))
        return batch * 10

    with torch.no_grad():
        assert list(map_batches(work, list(range(7)), workers=2)) == [0, 10, 20, 30, 40, 50, 60]
    by_batch = {batch: rest for batch, *rest in seen}
    assert by_batch[0] == [True, 2, False]  # alone, before any worker starts
    assert all(by_batch[b] == [False, 1, False] for b in range(1, 7))  # workers: one thread each, no gradients
    assert torch.get_num_threads() == 2


def test_without_first_alone_every_batch_runs_on_the_workers(two_threads):
    seen = []

    def work(batch: int):
        seen.append((batch, threading.current_thread() is threading.main_thread(), torch.get_num_threads()))
        return batch * 10

    assert list(map_batches(work, [0, 1], workers=2, first_alone=False)) == [0, 10]
    assert sorted(seen) == [(0, False, 1), (1, False, 1)]
    assert torch.get_num_threads() == 2
    assert cpu_workers(torch.device("cpu"), 2, first_alone=False) == 2
    assert cpu_workers(torch.device("cpu"), 2) == 1  # the first alone: one batch left for the workers


def test_a_frozen_encoders_later_calls_start_every_batch_on_the_workers(tmp_path, two_threads, monkeypatch):
    from transmodal.engine import encoding

    checkpoint = save_tiny_bert(tmp_path / "bert")
    rng = np.random.default_rng(1)
    values = [" ".join(rng.choice(BERT_WORDS, size=int(rng.integers(1, 40)))) for _ in range(24)]
    dataset = TableDataset(read_table(pd.DataFrame({"review": values})), [InputSpec("review", "text", ["review"])])
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": checkpoint, "frozen": True, "quantize": "int8"})
    calls = []
    real = encoding.map_batches

    def recording(fn, batches, workers, first_alone=True):
        calls.append((len(batches), workers, first_alone))
        return real(fn, batches, workers, first_alone)

    monkeypatch.setattr(encoding, "map_batches", recording)

    first, second = _features(encoder, dataset), _features(encoder, dataset)
    assert calls[0][2] is True and calls[1][2] is False  # built once alone, then every batch on the workers
    assert calls[1][1] == 2
    assert torch.equal(first, second)


def test_stopping_early_cancels_the_rest_and_restores_the_threads(two_threads):
    done = []

    def work(batch: int) -> int:
        time.sleep(0.005)  # the workers (started once, reused) must not finish all 100 before the stop
        done.append(batch)
        return batch

    results = map_batches(work, list(range(100)), workers=2)
    for batch in results:
        if batch == 2:
            break
    results.close()
    assert torch.get_num_threads() == 2
    assert len(done) < 100


def test_one_worker_or_a_gpu_or_one_batch_runs_the_batches_one_after_the_other(two_threads):
    assert cpu_workers(torch.device("cpu"), 10) == 2
    assert cpu_workers(torch.device("cpu"), 1) == 1
    assert cpu_workers(torch.device("cuda"), 10) == 1
    torch.set_num_threads(1)
    assert cpu_workers(torch.device("cpu"), 10) == 1
    assert list(map_batches(lambda batch: -batch, [1, 2, 3], workers=1)) == [-1, -2, -3]


@pytest.mark.parametrize("quantize", [None, "int8"])
def test_texts_encoded_by_two_workers_equal_those_encoded_one_batch_at_a_time(tmp_path, two_threads, quantize):
    checkpoint = save_tiny_bert(tmp_path / "bert")
    rng = np.random.default_rng(0)
    values = [" ".join(rng.choice(BERT_WORDS, size=int(rng.integers(1, 40)))) for _ in range(90)]
    dataset = TableDataset(read_table(pd.DataFrame({"review": values})), [InputSpec("review", "text", ["review"])])
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": checkpoint, "frozen": True, "quantize": quantize})

    parallel = _features(encoder, dataset)
    torch.set_num_threads(1)  # one thread: one batch at a time
    assert torch.equal(parallel, _features(encoder, dataset))


def test_photos_encoded_by_two_workers_equal_those_encoded_one_batch_at_a_time(tmp_path, two_threads, monkeypatch):
    from PIL import Image

    from transmodal.engine import encoding

    rng = np.random.default_rng(2)
    for i in range(30):
        Image.fromarray(rng.integers(0, 256, (24, 36, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    frame = pd.DataFrame({"photo": [f"{i}.png" for i in range(30)]})
    dataset = TableDataset(read_table(frame, base_dir=tmp_path), [InputSpec("photo", "image", ["photo"])])
    encoder = build_encoder("image", {"name": "efficientnet_lite0", "pretrained": False, "frozen": True,
                                      "image_size": 32})
    workers = []
    real = encoding.map_batches
    monkeypatch.setattr(encoding, "map_batches", lambda fn, batches, n, first_alone=True: (
        workers.append(n), real(fn, batches, n, first_alone))[1])

    parallel = _features(encoder, dataset, "photo")
    torch.set_num_threads(1)  # one thread: one batch at a time
    alone = _features(encoder, dataset, "photo")
    assert workers == [2, 1]
    # a convolution may sum in another order on 2 threads (the first batch) than on 1
    torch.testing.assert_close(parallel, alone, rtol=1e-5, atol=1e-6)
    assert parallel.abs().sum(dim=1).min() > 0  # every row filled


def test_intra_op_threads_lowers_the_setting_within_the_block_only(two_threads):
    from transmodal.encoders.threads import intra_op_threads

    with intra_op_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError), intra_op_threads(1):
        raise RuntimeError("restored after an error too")
    assert torch.get_num_threads() == 2
    with intra_op_threads(8):  # never raises it
        assert torch.get_num_threads() == 2
