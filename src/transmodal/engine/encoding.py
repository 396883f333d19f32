"""Encoding frozen inputs up front: each distinct cell once, texts in length-sorted batches, features
read from and written to the persistent embedding store.

Before training (and before a prediction pass) every frozen input of the network is encoded here
rather than batch by batch in the training loop: the rows' content digests are looked up in the
store (:mod:`transmodal.embedding_store`), the distinct cells it lacks are decoded once, sorted by
length (texts: tokens, or characters; other cells keep their order) and encoded in batches padded
only to their own longest item, and the features are written back to the store and into the stage's
:class:`~transmodal.engine.cache.EmbeddingCache` in row order. Later epochs, later fits and later
predictions of the same cells encode nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import time
import weakref
from typing import Any, Iterator

import numpy as np
import torch

from transmodal.data.dataset import TableDataset
from transmodal.engine.batch_workers import MAX_WORKERS, cpu_workers, map_batches
from transmodal.encoders.packed_bert import packed_padding
from transmodal.encoders.quantization import runs_int8
from transmodal.engine.cache import EmbeddingCache
from transmodal.engine.contract import EncoderNet

log = logging.getLogger(__name__)

STORE_FORMAT = 1  # bump when the meaning of a stored feature changes
SMALL_WRITE = 16  # a prediction writes fewer new cells than this to no shard (serving makes no tiny files)
MAX_PADDING = 0.25  # a length-sorted batch carries at most this share of padding tokens beyond its real ones ...
FREE_PADDING = 32  # ... or this many padding tokens (a smaller batch is no cheaper than that)
PROJECT_AFTER = 0.05  # share of a column's tokens encoded before its end time is projected
# modalities whose batches run on several CPU workers at once (one intra-op thread each): measured
# faster for texts (issue 15) and photos (9,583 fashion_mm photos, EfficientNet-Lite0: 170 s in one
# worker, 118 s in two: decoding and resizing run in parallel too; benchmarks/RESULTS.md)
PARALLEL_MODALITIES = ("text", "image")

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("encoding_deadline", default=None)
_CALLED: weakref.WeakSet = weakref.WeakSet()  # frozen encoders that have encoded a batch (int8 copy built, ...)
_BALANCED: contextvars.ContextVar[bool] = contextvars.ContextVar("balanced_batches", default=False)


class EncodingTimeUp(TimeoutError):
    """The up-front encoding would not end before the deadline of :func:`encoding_deadline`."""


@contextlib.contextmanager
def encoding_deadline(deadline: float | None) -> Iterator[None]:
    """Within the block, encoding that will not end by ``deadline`` (``time.monotonic()`` seconds)
    stops with :class:`EncodingTimeUp`: as soon as the tokens encoded so far project an end past
    it (after :data:`PROJECT_AFTER` of the column's tokens), or when it passes. A caller with a time
    budget (an ensemble member) uses it, since an encoding pass cannot be stopped part-way and still
    give a usable model. None: no deadline."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


@contextlib.contextmanager
def balanced_batches() -> Iterator[None]:
    """Within the block, a text input's length batches are also split so that the CPU workers share
    them evenly (:func:`balance_batches`): for a server's micro-batch of a few dozen rows, whose
    length batches are few (a batch of 16 reviews: 3 or so, the last one run by one worker while the
    other core idles). With ``quantize="int8"`` (activations scaled per batch) a row's features
    depend on which rows share its batch, so the predictor's own calls keep the batches of
    :func:`length_batches` (``"int8_per_token"``, the CPU default, and fp32 do not depend on them).
    An encoder that computes no padding (a BERT text encoder: :mod:`transmodal.encoders.packed_bert`)
    gets one batch per worker instead (:func:`token_shares`)."""
    token = _BALANCED.set(True)
    try:
        with packed_padding():  # an encoder that can skips the padding: fewer, longer batches
            yield
    finally:
        _BALANCED.reset(token)


def weights_digest(module: torch.nn.Module) -> str:
    """SHA-256 of every parameter and buffer of ``module`` (an int8 encoder's fp32 weights: its
    ``quantize`` setting is part of :func:`encoder_key`), so that encoders with other weights never
    share rows."""
    digest = hashlib.sha256()
    for name, sub in module.named_modules():
        tensors = list(sub.named_parameters(recurse=False)) + list(sub.named_buffers(recurse=False))
        for key, tensor in tensors:
            digest.update(f"{name}.{key}{tuple(tensor.shape)}{tensor.dtype}".encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def encoder_key(encoder: torch.nn.Module) -> str:
    """The identity of a frozen encoder's output: its class, every setting (checkpoint, max length,
    quantisation, image size, ...) and a digest of its weights. Computed once per encoder object
    (a frozen encoder's weights never change once it encodes)."""
    cached = getattr(encoder, "_store_key", None)
    if cached is not None:
        return cached
    settings = {k: v for k, v in getattr(encoder, "settings", {}).items() if k != "frozen"}
    identity = json.dumps({"format": STORE_FORMAT, "class": type(encoder).__qualname__, "settings": settings},
                          sort_keys=True, default=str)
    key = hashlib.sha256((identity + weights_digest(encoder)).encode()).hexdigest()[:40]
    encoder._store_key = key
    return key


def fill_cache(net: EncoderNet, dataset: TableDataset, cache: EmbeddingCache, store=None,
               batch_size: int = 64, device: torch.device | str | None = None,
               names: list[str] | None = None, min_write: int = SMALL_WRITE) -> dict[str, dict[str, Any]]:
    """Encode every frozen input of ``cache`` for all rows of ``dataset`` (see the module doc).

    Args:
        store: An :class:`~transmodal.embedding_store.EmbeddingStore`, or None to encode everything.
            Only frozen encoders read and write it (a trainable encoder's weights are the fit's own).
        batch_size: Distinct cells per encoder call.
        device: Where the encoders run (they are moved back afterwards); their own device when None.
        names: The inputs to encode (default: every input of ``cache``).
        min_write: Fewer newly encoded cells than this are not written to the store (a fit writes
            every cell: 1; a prediction of a row or two writes none).

    Returns:
        Per input: rows, distinct cells, cells found in the store, cells encoded and seconds.
    """
    specs = {spec.name: spec for spec in dataset.inputs}
    stats = {}
    for name in cache.names if names is None else names:
        start = time.perf_counter()
        stats[name] = _fill_input(net.encoder(name), specs[name], dataset, cache, name, store, batch_size, device,
                                  min_write)
        stats[name]["seconds"] = round(time.perf_counter() - start, 3)
    return stats


def _status_level(cells: int) -> int:
    """INFO for a status line about real work; DEBUG for a small prediction and for every call of a
    server (:func:`balanced_batches`), whose micro-batches would otherwise log a line each."""
    return logging.DEBUG if cells < SMALL_WRITE or _BALANCED.get() else logging.INFO


def _fill_input(encoder, spec, dataset: TableDataset, cache: EmbeddingCache, name: str, store,
                batch_size: int, device, min_write: int) -> dict[str, Any]:
    digests = [dataset.content_digest(spec, row) for row in range(len(dataset))]
    first_row: dict[bytes, int] = {}
    for row, digest in enumerate(digests):
        if digest is not None:
            first_row.setdefault(digest, row)
    use_store = store is not None and bool(first_row) and bool(getattr(encoder, "frozen", False))
    key = encoder_key(encoder) if use_store else ""
    found = store.lookup(key, list(first_row)) if use_store else {}
    missing = [d for d in first_row if d not in found]
    if missing:
        log.log(_status_level(len(missing)), "encoding %d distinct %s cell(s) of input %r (%d found in the embedding "
                "store)", len(missing), spec.modality, name, len(found))
    elif found:
        log.log(_status_level(len(found)), "all %d distinct %s cell(s) of input %r found in the embedding store",
                len(found), spec.modality, name)
    encoded = _encode(encoder, spec, dataset, [first_row[d] for d in missing], batch_size, device)  # (M, D)
    if use_store and len(missing) >= min_write:
        store.add(key, missing, encoded, {"input": name, "modality": spec.modality,
                                          "encoder": {k: v for k, v in encoder.settings.items()}})
    features = {**found, **dict(zip(missing, encoded))}
    rows = [row for row, d in enumerate(digests) if d is not None]
    if rows:
        values = np.stack([features[digests[row]] for row in rows])  # (R, D)
        cache.store(name, torch.tensor(rows), torch.from_numpy(values))
    cache.filled[name][:] = True  # rows lacking the input are masked out: their zeros are never read
    return {"rows": len(rows), "distinct": len(first_row), "from_store": len(found), "encoded": len(missing)}


@torch.no_grad()
def _encode(encoder, spec, dataset: TableDataset, rows: list[int], batch_size: int, device) -> np.ndarray:
    """Features (len(rows), D) float32 of ``rows``' cells, encoded in length-sorted batches (texts on
    a CPU: several batches at once, :mod:`transmodal.engine.batch_workers`)."""
    if not rows:
        return np.zeros((0, encoder.output_dim), dtype=np.float32)
    home = next(iter(encoder.parameters()), torch.zeros(0)).device
    target = torch.device(device) if device is not None and not runs_int8(encoder) else home  # int8: on the CPU
    if target != home:
        encoder.to(target)
    try:
        lengths = _lengths(encoder, [_raw(dataset, spec, row) for row in rows])
        out = np.zeros((len(rows), encoder.output_dim), dtype=np.float32)
        deadline, start = _DEADLINE.get(), time.monotonic()
        total, done = float(sum(max(n, 1) for n in lengths)), 0.0

        def encode_batch(chunk: np.ndarray) -> np.ndarray:  # (B, D)
            inputs = encoder.prepare([dataset.item(spec, rows[i]) for i in chunk])
            inputs = {k: v.to(target) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
            return encoder(inputs).float().cpu().numpy()

        batches = length_batches(lengths, batch_size)
        # an encoder's first batch builds what later batches share (an int8 copy); a frozen encoder
        # that has encoded before (a server's micro-batches) starts all its batches on the workers
        first_alone = encoder not in _CALLED
        if _BALANCED.get() and not first_alone and spec.modality == "text" and target.type == "cpu":
            share = min(torch.get_num_threads(), MAX_WORKERS)
            batches = (token_shares(lengths, batch_size, share) if getattr(encoder, "packs_padding", False)
                       else balance_batches(batches, lengths, share))
        workers = cpu_workers(target, len(batches), first_alone) if spec.modality in PARALLEL_MODALITIES else 1
        with contextlib.closing(map_batches(encode_batch, batches, workers, first_alone)) as results:  # closing: a deadline
            for chunk, features in zip(batches, results):  # stops the workers' batches not started yet
                out[chunk] = features
                if getattr(encoder, "frozen", False):  # its weights never change once it encodes
                    _CALLED.add(encoder)
                done += sum(max(lengths[i], 1) for i in chunk)
                if deadline is not None:
                    _check_deadline(deadline, start, done / total, spec.name, len(rows))
        return out
    finally:
        if target != home:
            encoder.to(home)


def _check_deadline(deadline: float, start: float, progress: float, name: str, cells: int) -> None:
    """Raise :class:`EncodingTimeUp` when the encoding has passed ``deadline`` or, with
    ``progress`` (share of the tokens done) past :data:`PROJECT_AFTER`, will pass it."""
    now = time.monotonic()
    projected = start + (now - start) / progress if progress >= PROJECT_AFTER else now
    if projected > deadline and progress < 1.0:
        raise EncodingTimeUp(f"encoding {cells} cell(s) of input {name!r} would take about "
                             f"{projected - start:.0f} s, past the time limit ({max(deadline - start, 0):.0f} s left)")


def length_batches(lengths: list[int], batch_size: int, max_padding: float = MAX_PADDING,
                   free_padding: int = FREE_PADDING) -> list[np.ndarray]:
    """Batches of positions, longest first, each padded to its first (longest) item.

    A batch takes the next item while it holds fewer than ``batch_size`` and the padding it would
    then carry stays within ``max_padding`` of its real tokens (or ``free_padding`` tokens, whichever
    is more). Over a whole column the sorted neighbours are about as long, so the batches are full;
    a server's micro-batch of a few dozen random texts is split into a few batches of similar
    length instead of padding every text to the longest of them (a transformer's cost grows with the
    padded tokens: 32 random reviews padded to their longest are about twice their real tokens).
    Cells without a length (0: other modalities) are batched ``batch_size`` at a time.
    """
    order = np.argsort(lengths, kind="stable")[::-1]  # longest first: the peak memory shows at once
    batches: list[np.ndarray] = []
    start, real = 0, 0
    for end, i in enumerate(order):
        size = max(int(lengths[i]), 1)
        if end > start:
            longest, count = max(int(lengths[order[start]]), 1), end - start + 1
            padding = longest * count - (real + size)
            if count > batch_size or padding > max(max_padding * (real + size), free_padding):
                batches.append(order[start:end])
                start, real = end, 0
        real += size
    if len(order):
        batches.append(order[start:])
    return batches


def balance_batches(batches: list[np.ndarray], lengths: list[int], workers: int) -> list[np.ndarray]:
    """``batches`` (of :func:`length_batches`) with the costliest ones halved until ``workers`` can
    share them evenly: a multiple of ``workers`` batches (or every batch a single item), the costliest
    first. A batch's cost is its padded tokens; a half keeps its order (longest first)."""
    batches = list(batches)
    if workers < 2:
        return batches

    def cost(batch: np.ndarray) -> int:
        return max(int(lengths[batch[0]]), 1) * len(batch)

    while len(batches) % workers and any(len(b) > 1 for b in batches):
        index = max((i for i, b in enumerate(batches) if len(b) > 1), key=lambda i: cost(batches[i]))
        costliest = batches[index]
        half = (len(costliest) + 1) // 2
        batches[index:index + 1] = [costliest[:half], costliest[half:]]
    return sorted(batches, key=cost, reverse=True)


def token_shares(lengths: list[int], batch_size: int, workers: int) -> list[np.ndarray]:
    """Positions sorted longest first, cut into ``workers`` runs of about equal tokens (each run at
    most ``batch_size`` items, so more runs for many cells): the batches of an encoder whose cost is
    its real tokens, not its padded ones (:mod:`transmodal.encoders.packed_bert`), one per CPU worker.
    Neighbours in length share a run, so attention (which still sees each run padded) pads little."""
    order = np.argsort(lengths, kind="stable")[::-1]
    runs = max(workers, -(-len(order) // max(batch_size, 1)))  # ceil(cells / batch_size) at least
    if len(order) <= runs:
        return [order[i:i + 1] for i in range(len(order))]
    ends = np.cumsum(np.maximum(np.asarray(lengths, dtype=np.float64)[order], 1.0))  # (cells,) tokens so far
    cuts = []  # cells before run k (k = 1 .. runs - 1): where the tokens so far come closest to k / runs of all
    for k in range(1, runs):
        target = ends[-1] * k / runs
        after = int(np.searchsorted(ends, target))  # ends[after] >= target
        cut = after if after > 0 and target - ends[after - 1] < ends[after] - target else after + 1
        cuts.append(min(max(cut, k), len(order) - (runs - k)))  # every run keeps at least one cell
    cuts = sorted(set(cuts))
    batches = [b for b in np.split(order, cuts) if len(b)]
    return [b for chunk in batches for b in np.array_split(chunk, -(-len(chunk) // max(batch_size, 1)))]


def _lengths(encoder, raw: list[Any]) -> list[int]:
    """Sort keys of cells: the encoder's own input lengths (tokens) when it tells them, else the
    characters of a text cell; other cells (no raw text) are 0 and keep their order."""
    if hasattr(encoder, "input_lengths") and all(isinstance(value, str) for value in raw):
        return list(encoder.input_lengths(raw))
    return [len(value) if isinstance(value, str) else 0 for value in raw]


def _raw(dataset: TableDataset, spec, row: int) -> Any:
    """A cheap length proxy: the raw text of a text cell (no decoding); other modalities 0."""
    return dataset.raw_value(spec, row) if spec.modality == "text" else None


def encoding_device(accelerator: str) -> torch.device | None:
    """Where up-front encoding runs for a fit on ``accelerator``: this process's GPU when the fit
    uses one (``gpu``/``cuda``/``auto`` with CUDA present), else None (the encoder stays where it is)."""
    import os

    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return None


def fill_stage_caches(net: EncoderNet, caches: dict[str, EmbeddingCache], datasets: dict[str, TableDataset],
                      use_store: bool, batch_size: int, accelerator: str) -> dict[str, dict]:
    """:func:`fill_cache` for each stage (``{"train": ..., "val": ...}``) with the process's store
    (when ``use_store``); returns the statistics per stage and input."""
    from transmodal.embedding_store import open_store

    store = open_store() if use_store else None
    device = encoding_device(accelerator)
    return {stage: fill_cache(net, datasets[stage], cache, store, batch_size, device, min_write=1)
            for stage, cache in caches.items()}
