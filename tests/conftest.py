"""Shared fixtures: tiny multimodal tables written to disk, and a small fitted predictor."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# the persistent embedding store of the test session: a fresh folder, never the user's cache
os.environ["TRANSMODAL_CACHE"] = tempfile.mkdtemp(prefix="transmodal-test-cache-")
atexit.register(shutil.rmtree, os.environ["TRANSMODAL_CACHE"], ignore_errors=True)

from tabletools import TINY_HYPERPARAMETERS, write_table  # noqa: E402,F401


@pytest.fixture(scope="session")
def table_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("table")
    write_table(folder)
    return folder


@pytest.fixture(scope="session")
def fitted(table_dir):
    """A predictor fitted on the shared tiny table (concat fusion)."""
    from transmodal.predictor import MultimodalPredictor

    return MultimodalPredictor(label="label").fit(str(table_dir / "table.csv"),
                                                  hyperparameters=TINY_HYPERPARAMETERS, seed=0)
