"""Up-front encoding of frozen inputs: length-sorted batches, each distinct cell once, the
persistent store across fits and predictions, the encoder's identity, int8 quantisation."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import torch

from tinycheckpoints import BERT_WORDS, save_tiny_bert
from transmodal.data.dataset import TableDataset
from transmodal.data.readers import read_table
from transmodal.data.schema import InputSpec
from transmodal.embedding_store import EmbeddingStore
from transmodal.encoders.base import build_encoder
from transmodal.engine.cache import EmbeddingCache
from transmodal.engine.encoding import balance_batches, balanced_batches, encoder_key, fill_cache, length_batches
from transmodal.errors import ConfigError


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    return save_tiny_bert(tmp_path_factory.mktemp("bert"))


def texts(n: int, seed: int = 0) -> list[str | None]:
    rng = np.random.default_rng(seed)
    out = [" ".join(rng.choice(BERT_WORDS, size=int(rng.integers(1, 30)))) for _ in range(n)]
    out[3] = None  # a row without text
    out[5] = out[1]  # a repeated text
    return out


class OneInput(torch.nn.Module):
    """The smallest network the encoding functions take: one named encoder."""

    def __init__(self, encoder) -> None:
        super().__init__()
        self.encoders = torch.nn.ModuleDict({"review": encoder})
        self.input_names = ["review"]

    def encoder(self, name: str):
        return self.encoders[name]


def dataset_of(values: list[str | None]) -> TableDataset:
    return TableDataset(read_table(pd.DataFrame({"review": values})), [InputSpec("review", "text", ["review"])])


def counted(encoder) -> list[int]:
    """Batch sizes ``encoder`` is called with from now on."""
    sizes = []
    original = encoder.forward

    def forward(inputs):
        sizes.append(int(inputs["input_ids"].shape[0]))
        return original(inputs)

    encoder.forward = forward
    return sizes


def served_fill(encoder, values: list[str | None]) -> tuple[EmbeddingCache, list[int]]:
    """``values`` encoded as a server's micro-batch (within ``balanced_batches``, 2 torch threads) by an
    encoder that has encoded before; returns the cache and the batch sizes the encoder was called with."""
    fill_cache(OneInput(encoder), dataset_of(values[:2]), EmbeddingCache(2, {"review": encoder.output_dim}), None, 64)
    sizes = counted(encoder)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        cache = EmbeddingCache(len(values), {"review": encoder.output_dim})
        with balanced_batches():  # its batches shared by 2 workers
            fill_cache(OneInput(encoder), dataset_of(values), cache, None, 64)
    finally:
        torch.set_num_threads(before)
    return cache, sizes


def assert_encoded_one_at_a_time(encoder, values: list[str | None], cache: EmbeddingCache) -> None:
    """Each present value's cached features equal the encoder's output for it alone (counting undone)."""
    del encoder.forward
    with torch.no_grad():
        for row, text in enumerate(values):
            if text is not None:
                torch.testing.assert_close(cache.values["review"][row], encoder(encoder.prepare([text]))[0],
                                           atol=1e-5, rtol=1e-5)


def test_bucketed_encoding_equals_one_row_at_a_time_in_row_order(tiny_bert):
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})
    values = texts(40)
    cache = EmbeddingCache(len(values), {"review": encoder.output_dim})
    sizes = counted(encoder)
    stats = fill_cache(OneInput(encoder), dataset_of(values), cache, store=None, batch_size=8)
    assert stats["review"]["rows"] == 39 and stats["review"]["distinct"] == 38 and stats["review"]["encoded"] == 38
    assert sum(sizes) == 38, "a repeated text or a missing one was encoded"
    with torch.no_grad():
        for row, text in enumerate(values):
            if text is not None:
                alone = encoder(encoder.prepare([text]))[0]
                torch.testing.assert_close(cache.values["review"][row], alone, atol=1e-5, rtol=1e-5)
    assert cache.complete("review")


def test_batches_are_sorted_by_length_so_they_pad_little(tiny_bert):
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})
    values = texts(64, seed=1)
    batches = []
    original = encoder.forward
    encoder.forward = lambda inputs: (batches.append(inputs["attention_mask"].sum(1).tolist()), original(inputs))[1]
    fill_cache(OneInput(encoder), dataset_of(values), EmbeddingCache(64, {"review": encoder.output_dim}), None, 8)
    batches.sort(key=lambda batch: -batch[0])  # batches run several at once on a CPU: any order of calls
    lengths = [length for batch in batches for length in batch]
    assert lengths == sorted(lengths, reverse=True), "batches are not runs of the length-sorted cells"
    assert len(lengths) == 62 and len(set(lengths)) > 8


def test_a_whole_column_sorted_by_length_makes_full_batches():
    lengths = list(np.random.default_rng(0).integers(5, 200, size=1000))
    batches = length_batches(lengths, 64)
    assert sorted(int(i) for b in batches for i in b) == list(range(1000))
    full = [b for b in batches if len(b) == 64]
    assert sum(map(len, full)) >= 800, [len(b) for b in batches]  # sorted neighbours are about as long


def test_a_few_random_lengths_are_split_into_batches_that_pad_little():
    lengths = [120, 8, 60, 15, 200, 33, 9, 90, 12, 150, 40, 7, 70, 25, 18, 110]  # one micro-batch of texts
    batches = length_batches(lengths, 64)
    assert sorted(int(i) for b in batches for i in b) == list(range(len(lengths)))
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(lengths, reverse=True)  # longest first, each batch led by its longest
    assert len(batches) > 1
    for batch in batches:
        real = sum(lengths[i] for i in batch)
        padding = lengths[batch[0]] * len(batch) - real
        assert padding <= max(0.25 * real, 32), (batch, padding)
    padded_once = max(lengths) * len(lengths)
    assert sum(lengths[b[0]] * len(b) for b in batches) < 0.6 * padded_once  # versus one batch padded to 200


def test_cells_without_a_length_are_batched_batch_size_at_a_time():
    assert [len(b) for b in length_batches([0] * 10, 4)] == [4, 4, 2]
    assert length_batches([], 4) == []


def test_a_micro_batch_of_texts_pads_within_the_bound_and_equals_one_at_a_time(tiny_bert):
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True, "max_length": 60})
    rng = np.random.default_rng(3)
    values = [" ".join(rng.choice(BERT_WORDS, size=int(n))) for n in rng.choice([1, 2, 25, 50], size=24)]
    batches = []
    original = encoder.forward
    encoder.forward = lambda inputs: (batches.append(inputs["attention_mask"]), original(inputs))[1]
    cache = EmbeddingCache(len(values), {"review": encoder.output_dim})
    fill_cache(OneInput(encoder), dataset_of(values), cache, None, 64)
    assert len(batches) > 1, "short and long texts were padded to the longest in one batch"
    for mask in batches:  # (B, T)
        real = int(mask.sum())
        assert mask.numel() - real <= max(0.25 * real, 32)
    encoder.forward = original
    with torch.no_grad():
        for row, text in enumerate(values):
            torch.testing.assert_close(cache.values["review"][row], encoder(encoder.prepare([text]))[0],
                                       atol=1e-5, rtol=1e-5)


def test_balancing_halves_the_costliest_batches_until_the_workers_share_them_evenly():
    lengths = [150, 148, 147, 90, 88, 40, 38, 37, 12]
    batches = length_batches(lengths, 64)
    assert len(batches) == 3
    balanced = balance_batches(batches, lengths, workers=2)
    assert len(balanced) == 4
    assert sorted(int(i) for b in balanced for i in b) == list(range(len(lengths)))  # every item once
    costs = [max(lengths[b[0]], 1) * len(b) for b in balanced]
    assert costs == sorted(costs, reverse=True)  # the costliest first
    assert all(list(lengths[i] for i in b) == sorted((lengths[i] for i in b), reverse=True) for b in balanced)
    assert len(balance_batches([np.array([0, 1, 2])], [5, 4, 3], workers=2)) == 2  # one batch: halved
    assert len(balance_batches([np.array([0])], [5], workers=2)) == 1  # one row: nothing to share
    assert len(balance_batches(batches, lengths, workers=1)) == 3


def test_a_served_micro_batch_is_encoded_in_balanced_batches_equal_to_one_at_a_time(tiny_bert):
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})
    values = texts(12, seed=4)
    cache, sizes = served_fill(encoder, values)
    assert len(sizes) % 2 == 0 and len(sizes) >= 2
    assert_encoded_one_at_a_time(encoder, values, cache)


def test_a_second_fill_reads_the_store_and_encodes_nothing(tiny_bert, tmp_path):
    values = texts(40)
    first_encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})
    first = EmbeddingCache(40, {"review": first_encoder.output_dim})
    fill_cache(OneInput(first_encoder), dataset_of(values), first, EmbeddingStore(tmp_path), 8)
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})  # another fit
    sizes = counted(encoder)
    second = EmbeddingCache(40, {"review": encoder.output_dim})
    stats = fill_cache(OneInput(encoder), dataset_of(values), second, EmbeddingStore(tmp_path), 8)
    assert sizes == [] and stats["review"]["from_store"] == 38 and stats["review"]["encoded"] == 0
    assert torch.equal(first.values["review"], second.values["review"]), "stored features are not bit-identical"


def test_the_store_misses_after_a_change_of_weights_or_of_an_output_setting(tiny_bert):
    def key(**settings):
        return encoder_key(build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True,
                                                  **settings}))

    assert key() == key(), "the same encoder built twice must hit"
    assert key(max_length=16) != key()
    assert key(quantize="int8") != key()
    changed = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})
    with torch.no_grad():
        next(changed.parameters()).add_(1e-3)
    assert encoder_key(changed) != key()


def test_int8_features_stay_close_to_fp32_and_the_state_stays_fp32(tiny_bert):
    fp32 = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})
    int8 = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True, "quantize": "int8"})
    batch = fp32.prepare([t for t in texts(16) if t is not None])
    with torch.no_grad():
        a, b = fp32(batch), int8(batch)
    similarity = torch.nn.functional.cosine_similarity(a, b)
    assert similarity.min() > 0.98, similarity
    assert not torch.equal(a, b), "the int8 path did not run"
    assert "DynamicQuantizedLinear" in repr(int8._int8_copy.model)
    assert int8.state_dict().keys() == fp32.state_dict().keys()
    assert all(torch.equal(int8.state_dict()[k], v) for k, v in fp32.state_dict().items())


def test_the_int8_copy_follows_weights_copied_into_the_encoder(tiny_bert):
    int8 = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True, "quantize": "int8"})
    batch = int8.prepare(["the cat sat on the mat"])
    with torch.no_grad():
        before = int8(batch)
        state = {k: v * 1.5 if v.is_floating_point() else v for k, v in int8.state_dict().items()}
        int8.load_state_dict(state)  # e.g. a source model's weights copied in
        after = int8(batch)
    assert not torch.allclose(before, after), "the int8 copy was not remade from the new weights"


def test_an_encoder_that_trains_drops_int8_and_an_int8_encoder_cannot_be_built_to_train(tiny_bert):
    from transmodal.encoders.adapters import adapter_spec, inject

    with pytest.raises(ConfigError, match="frozen=True"):
        build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": False, "quantize": "int8"})
    with pytest.raises(ConfigError, match="valid choice"):
        build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "quantize": "int4"})
    unfrozen = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True, "quantize": "int8"})
    unfrozen.freeze(False)
    assert unfrozen.settings["quantize"] is None and any(p.requires_grad for p in unfrozen.parameters())
    adapted = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True, "quantize": "int8"})
    inject(adapted, adapter_spec({"strategy": "lora"}))
    assert adapted.settings["quantize"] is None


@pytest.mark.slow
def test_a_second_fit_and_a_predict_of_the_same_table_encode_nothing(tiny_bert, table_dir, tmp_path, monkeypatch):
    from tabletools import TINY_HYPERPARAMETERS
    from transmodal.encoders.text_hf import HFTextEncoder
    from transmodal.predictor import MultimodalPredictor

    monkeypatch.setenv("TRANSMODAL_CACHE", str(tmp_path / "store"))
    hp = {**TINY_HYPERPARAMETERS, "encoders": {**TINY_HYPERPARAMETERS["encoders"],
                                               "text": {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True}}}
    table = str(table_dir / "table.csv")
    first = MultimodalPredictor(label="label").fit(table, hyperparameters=hp)
    assert first.history_["encoding"]["train"]["review"]["encoded"] > 16
    encoded = []
    original = HFTextEncoder.forward
    monkeypatch.setattr(HFTextEncoder, "forward",
                        lambda self, inputs: (encoded.append(len(inputs["input_ids"])), original(self, inputs))[1])
    second = MultimodalPredictor(label="label").fit(table, hyperparameters={**hp, "learning_rate": 3e-3})
    train = second.history_["encoding"]["train"]["review"]
    assert train["encoded"] == 0 and train["from_store"] == train["distinct"]
    encoded.clear()
    second.predict(table)  # 60 rows: every text is in the store
    assert encoded == []
    assert (tmp_path / "store").is_dir()


def test_a_file_is_keyed_by_its_bytes_whether_given_as_a_path_or_as_bytes(tmp_path):
    from transmodal.data.cell_digest import cell_digest

    (tmp_path / "a.png").write_bytes(b"\x89PNG same bytes")
    (tmp_path / "copy.png").write_bytes(b"\x89PNG same bytes")
    (tmp_path / "b.png").write_bytes(b"\x89PNG other bytes")
    by_path = cell_digest("image", "a.png", tmp_path)
    assert by_path == cell_digest("image", "copy.png", tmp_path) == cell_digest("image", b"\x89PNG same bytes", tmp_path)
    assert by_path != cell_digest("image", "b.png", tmp_path)
    assert cell_digest("image", "missing.png", tmp_path) is None


def test_an_encoding_past_its_deadline_stops_with_encoding_time_up(tiny_bert):
    import time

    from transmodal.engine.encoding import EncodingTimeUp, encoding_deadline

    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})
    values = texts(40)
    with encoding_deadline(time.monotonic() - 1.0), pytest.raises(EncodingTimeUp, match="'review'"):
        fill_cache(OneInput(encoder), dataset_of(values), EmbeddingCache(40, {"review": encoder.output_dim}), None, 8)
    cache = EmbeddingCache(40, {"review": encoder.output_dim})
    with encoding_deadline(time.monotonic() + 600.0):  # far: encodes as without one
        fill_cache(OneInput(encoder), dataset_of(values), cache, None, 8)
    assert cache.complete("review")


def test_token_shares_cut_cells_sorted_by_length_into_runs_of_about_equal_tokens():
    from transmodal.engine.encoding import token_shares

    lengths = [150, 20, 148, 30, 90, 12, 88, 40, 5, 60, 70, 100]
    shares = token_shares(lengths, 64, workers=2)
    assert len(shares) == 2
    assert sorted(int(i) for b in shares for i in b) == list(range(len(lengths)))  # every cell once
    flat = [lengths[i] for b in shares for i in b]
    assert flat == sorted(lengths, reverse=True)  # longest first, neighbours in length together
    tokens = [sum(lengths[i] for i in b) for b in shares]
    assert abs(tokens[0] - tokens[1]) <= max(lengths)
    assert all(len(b) <= 4 for b in token_shares(lengths, 4, workers=2))  # batch_size still bounds a run
    assert [len(b) for b in token_shares([7], 64, workers=2)] == [1]
    assert [len(b) for b in token_shares([7, 3], 64, workers=4)] == [1, 1]


def test_a_served_micro_batch_of_a_bert_encoder_is_one_packed_batch_per_worker(tiny_bert):
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})
    values = texts(12, seed=5)
    cache, sizes = served_fill(encoder, values)
    assert len(sizes) == 2 and sum(sizes) == 10  # 11 texts, one repeated (row 5 = row 1), one missing
    assert_encoded_one_at_a_time(encoder, values, cache)


def test_a_servers_micro_batch_logs_no_status_line_while_a_fit_sized_fill_does(tiny_bert, caplog):
    encoder = build_encoder("text", {"name": "hf_text", "checkpoint": tiny_bert, "frozen": True})
    values = [f"review number {i} of the batch" for i in range(20)]  # 20 distinct cells: >= SMALL_WRITE
    caplog.set_level(logging.DEBUG, logger="transmodal.engine.encoding")
    with balanced_batches():
        fill_cache(OneInput(encoder), dataset_of(values), EmbeddingCache(20, {"review": encoder.output_dim}), None, 64)
    served = [r for r in caplog.records if "distinct" in r.getMessage()]
    assert served and all(r.levelno == logging.DEBUG for r in served)
    caplog.clear()
    fill_cache(OneInput(encoder), dataset_of(values), EmbeddingCache(20, {"review": encoder.output_dim}), None, 64)
    assert [r.levelno for r in caplog.records if "distinct" in r.getMessage()] == [logging.INFO]
