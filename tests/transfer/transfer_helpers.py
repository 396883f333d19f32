"""Helpers and fixtures of the transfer tests: a saved source predictor and a second tiny table.

The tables keep an image and a number column only, so that each fit takes a few seconds.
"""

from __future__ import annotations

import pytest

from tabletools import TINY_HYPERPARAMETERS, write_small

def hyperparameters(**transfer):
    """The tiny hyperparameters with a ``transfer`` section."""
    return {**TINY_HYPERPARAMETERS, "transfer": dict(transfer)}


@pytest.fixture(scope="session")
def source_table(tmp_path_factory) -> str:
    return write_small(tmp_path_factory.mktemp("source_table"), n=45, seed=0)


@pytest.fixture(scope="session")
def target_table(tmp_path_factory) -> str:
    return write_small(tmp_path_factory.mktemp("target_table"), n=36, seed=1)


@pytest.fixture(scope="session")
def source_dir(tmp_path_factory, source_table):
    """A predictor fitted on the source table, saved to a folder."""
    from transmodal.predictor import MultimodalPredictor

    folder = tmp_path_factory.mktemp("source") / "model"
    MultimodalPredictor(label="label").fit(source_table, hyperparameters=TINY_HYPERPARAMETERS, seed=0).save(folder)
    return folder
