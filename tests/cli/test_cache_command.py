"""``transmodal cache info`` / ``clear`` on the store the environment names."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from transmodal.cli import main
from transmodal.embedding_store import EmbeddingStore


def test_info_lists_what_a_store_holds_and_clear_empties_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRANSMODAL_CACHE", str(tmp_path))
    keys = [hashlib.sha256(str(i).encode()).digest() for i in range(9)]
    EmbeddingStore(tmp_path).add("abc123def4567890", keys, np.ones((9, 4), np.float32),
                                 {"input": "review", "encoder": {"name": "hf_text", "checkpoint": "packaged:x"}})
    main(["cache", "info"])
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "hf_text packaged:x" in out and "'review': 9 rows in 1 shard(s)" in out
    main(["cache", "clear"])
    assert "cleared" in capsys.readouterr().out
    assert EmbeddingStore(tmp_path).info().encoders == {}


def test_a_store_that_is_off_says_how_to_turn_it_on(monkeypatch, capsys):
    monkeypatch.setenv("TRANSMODAL_CACHE", "off")
    with pytest.raises(SystemExit) as exit_info:
        main(["cache", "info"])
    assert exit_info.value.code == 1 and "unset TRANSMODAL_CACHE" in capsys.readouterr().err
