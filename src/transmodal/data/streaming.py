"""Prediction over tables larger than memory: Parquet read in row groups, scored chunk by chunk.

Only one chunk of rows (and, inside it, one batch of decoded images/audio) is in memory at a time;
the per-row outputs (scores, embeddings) are what accumulates.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from transmodal.data.readers import Table, read_table
from transmodal.errors import DataError

CHUNK_ROWS = 8192  # rows read and validated at a time


def iter_chunks(data: Any, rows: int = CHUNK_ROWS) -> Iterator[tuple[int, Table]]:
    """``(offset, Table)`` pieces of ``data``: Parquet files stream by record batches, anything else
    is read whole."""
    if isinstance(data, (str, Path)) and str(data).lower().endswith((".parquet", ".pq")) and Path(data).is_file():
        import pyarrow.parquet as pq

        path = Path(data)
        offset = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
            frame = batch.to_pandas()
            yield offset, Table(frame, str(path), path.resolve().parent)
            offset += len(frame)
        return
    yield 0, read_table(data)


def stream_outputs(data: Any, score: Callable[[Table], dict[str, Any]], rows: int = CHUNK_ROWS) -> dict[str, Any]:
    """Run ``score`` (a chunk -> ``{"scores": {task: array}, "embedding": array}``) on every chunk and
    concatenate; bad rows are reported with their row number in the whole table."""
    parts = []
    for offset, chunk in iter_chunks(data, rows):
        try:
            parts.append(score(chunk))
        except DataError as err:
            if not offset:
                raise
            shifted = [replace(b, row=b.row + offset) if b.row >= 0 else b for b in err.bad_rows]
            raise DataError(f"{chunk.source}: {len({b.row for b in shifted})} row(s) cannot be used", shifted) from None
    if not parts:  # a Parquet file without rows yields no batch
        raise DataError(f"{data}: the table has no rows (only a header?); nothing to predict")
    if len(parts) == 1:
        return parts[0]
    tasks = parts[0]["scores"]
    return {"scores": {t: np.concatenate([p["scores"][t] for p in parts]) for t in tasks},
            "embedding": np.concatenate([p["embedding"] for p in parts])}
