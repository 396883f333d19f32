"""The persistent embedding store: lookups, concurrent writers, the size bound, info and clear."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time

import numpy as np
import pytest

from transmodal.embedding_store import EmbeddingStore, default_root
from transmodal.errors import ConfigError


def digests(n: int, salt: str = "") -> list[bytes]:
    return [hashlib.sha256(f"{salt}{i}".encode()).digest() for i in range(n)]


def values_for(keys: list[bytes], dim: int = 8) -> np.ndarray:
    """Features that are a function of the key, so that any mix-up shows."""
    return np.stack([np.frombuffer(k[:dim], dtype=np.uint8).astype(np.float32) for k in keys])


def test_a_stored_feature_is_found_and_an_unknown_digest_is_not(tmp_path):
    store = EmbeddingStore(tmp_path)
    keys = digests(5)
    store.add("enc", keys[:3], values_for(keys[:3]), {"input": "text"})
    found = EmbeddingStore(tmp_path).lookup("enc", keys)  # a new object (another process) reads the same
    assert sorted(found) == sorted(keys[:3])
    for key in keys[:3]:
        np.testing.assert_array_equal(found[key], values_for([key])[0])
    assert EmbeddingStore(tmp_path).lookup("other-encoder", keys) == {}


def test_the_index_follows_shards_added_and_evicted_by_others(tmp_path):
    reader, writer = EmbeddingStore(tmp_path), EmbeddingStore(tmp_path)
    keys = digests(4)
    assert reader.lookup("enc", keys) == {}
    writer.add("enc", keys[:2], values_for(keys[:2]), {})
    assert sorted(reader.lookup("enc", keys)) == sorted(keys[:2])
    for shard in (tmp_path / "enc").glob("shard-*"):
        shard.unlink()  # evicted by another process
    assert reader.lookup("enc", keys) == {}


def _write_many(root: str, salt: str, rounds: int) -> None:
    store = EmbeddingStore(root)
    for r in range(rounds):
        keys = digests(20, f"{salt}{r}") + digests(5, "shared")  # some keys written by both processes
        store.add("enc", keys, values_for(keys), {"input": "text"})


def test_two_processes_writing_at_once_leave_the_store_consistent(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(str(tmp_path), salt, 15)) for salt in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    expected = [k for salt in ("a", "b") for r in range(15) for k in digests(20, f"{salt}{r}")] + digests(5, "shared")
    found = EmbeddingStore(tmp_path).lookup("enc", expected)
    assert len(found) == len(set(expected))
    for key in expected:
        np.testing.assert_array_equal(found[key], values_for([key])[0])
    assert not list(tmp_path.rglob("*.tmp")), "a temporary file was left behind"
    assert len(list((tmp_path / "enc").glob("shard-*.safetensors"))) == 30


def test_eviction_keeps_the_bound_and_drops_the_least_recently_used_shard(tmp_path):
    store = EmbeddingStore(tmp_path, max_bytes=10**9)
    groups = [digests(50, f"g{i}") for i in range(3)]
    for i, keys in enumerate(groups):
        store.add("enc", keys, values_for(keys, dim=32), {})
        time.sleep(0.02)
    shards = sorted((tmp_path / "enc").glob("shard-*"))
    size = shards[0].stat().st_size
    old = time.time() - 100
    for i, shard in enumerate(shards):
        os.utime(shard, (old + i, old + i))
    assert len(store.lookup("enc", groups[0])) == 50  # reading the oldest shard makes it the newest
    bounded = EmbeddingStore(tmp_path, max_bytes=int(size * 2.5))
    bounded.evict()
    assert sum(p.stat().st_size for p in (tmp_path / "enc").glob("shard-*")) <= bounded.max_bytes
    assert len(bounded.lookup("enc", groups[0])) == 50, "the recently read shard was evicted"
    assert bounded.lookup("enc", groups[1]) == {}, "the least recently used shard was kept"
    assert len(bounded.lookup("enc", groups[2])) == 50


def test_adding_past_the_bound_evicts_at_once(tmp_path):
    keys = digests(100)
    store = EmbeddingStore(tmp_path, max_bytes=1)
    store.add("enc", keys, values_for(keys), {})
    assert not list((tmp_path / "enc").glob("shard-*")), "a store over its bound keeps nothing"


def test_info_counts_and_clear_deletes_only_what_the_store_wrote(tmp_path):
    store = EmbeddingStore(tmp_path)
    keys = digests(7)
    store.add("enc", keys, values_for(keys), {"input": "review"})
    (tmp_path / "notes.txt").write_text("not ours")
    info = store.info()
    assert info.encoders["enc"]["rows"] == 7 and info.encoders["enc"]["shards"] == 1
    assert info.encoders["enc"]["description"] == {"input": "review"}
    assert info.total_bytes > 7 * 8 * 4
    assert store.clear() > 0
    assert store.info().encoders == {} and store.lookup("enc", keys) == {}
    assert (tmp_path / "notes.txt").read_text() == "not ours"


def test_the_store_folder_and_size_come_from_the_environment(monkeypatch, tmp_path):
    from transmodal.embedding_store.store import default_max_bytes

    monkeypatch.setenv("TRANSMODAL_CACHE", str(tmp_path / "c"))
    assert default_root() == tmp_path / "c"
    monkeypatch.setenv("TRANSMODAL_CACHE", "off")
    assert default_root() is None
    monkeypatch.setenv("TRANSMODAL_CACHE_SIZE", "2G")
    assert default_max_bytes() == 2 * 1024**3
    monkeypatch.setenv("TRANSMODAL_CACHE_SIZE", "lots")
    with pytest.raises(ConfigError, match="TRANSMODAL_CACHE_SIZE"):
        default_max_bytes()
