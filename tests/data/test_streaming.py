"""Predicting a Parquet table chunk by chunk gives the same result as predicting it whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from transmodal.data.streaming import iter_chunks, stream_outputs


def test_parquet_is_read_in_bounded_chunks(table_dir, tmp_path):
    frame = pd.read_csv(table_dir / "table.csv")
    path = table_dir / "stream.parquet"
    frame.to_parquet(path, row_group_size=16)
    chunks = list(iter_chunks(str(path), rows=16))
    assert [offset for offset, _ in chunks] == [0, 16, 32, 48]
    assert max(len(c.frame) for _, c in chunks) == 16
    assert chunks[0][1].base_dir == table_dir.resolve()


@pytest.mark.slow
def test_streamed_predictions_equal_whole_table_predictions(fitted, table_dir, monkeypatch):
    import transmodal.data.streaming as streaming

    frame = pd.read_csv(table_dir / "table.csv")
    path = table_dir / "stream2.parquet"
    frame.to_parquet(path, row_group_size=16)
    whole = fitted.predict_proba(str(table_dir / "table.csv")).to_numpy()
    monkeypatch.setattr(streaming, "CHUNK_ROWS", 16)
    seen = []
    original = streaming.iter_chunks
    monkeypatch.setattr(streaming, "iter_chunks", lambda data, rows: (seen.append(1) or c for c in original(data, 16)))
    streamed = fitted.predict_proba(str(path)).to_numpy()
    assert len(seen) == 4  # four chunks of 16 rows (the last has 12)
    np.testing.assert_allclose(streamed, whole, atol=1e-6)


def test_bad_rows_are_numbered_in_the_whole_table(fitted, table_dir):
    import pytest

    from transmodal.errors import DataError

    frame = pd.read_csv(table_dir / "table.csv")
    frame.loc[40, "image"] = "img/missing.png"
    path = table_dir / "stream3.parquet"
    frame.to_parquet(path, row_group_size=16)
    with pytest.raises(DataError) as err:
        stream_outputs(str(path), lambda chunk: fitted._scores(chunk), rows=16)
    assert [b.row for b in err.value.bad_rows] == [40]
