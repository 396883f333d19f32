"""Fixtures of the registry contract suites: tiny tables on disk and a saved source predictor.

The tables keep an image and a number column (and, for multi-task fits, a second label), so that
each fit through the public API takes a second or two.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from contracttools import tiny_hyperparameters
from tabletools import write_small


def _image_table(folder, n: int, seed: int) -> str:
    path = write_small(folder, n=n, seed=seed)
    frame = pd.read_csv(path)
    frame["big"] = np.where(frame["size"] > 1.0, "yes", "no")  # a second (binary) label
    frame.to_csv(folder / "two_labels.csv", index=False)
    return path


@pytest.fixture(autouse=True)
def _one_thread():
    """Contract tests run on tiny tensors: more threads only spin on the shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def source_table(tmp_path_factory) -> str:
    """45 rows: image, size, label (3 classes)."""
    return _image_table(tmp_path_factory.mktemp("contract_source"), n=45, seed=0)


@pytest.fixture(scope="session")
def target_table(tmp_path_factory) -> str:
    """36 other rows of the same columns."""
    return _image_table(tmp_path_factory.mktemp("contract_target"), n=36, seed=1)


@pytest.fixture(scope="session")
def two_label_table(target_table) -> str:
    """The target rows with a second, binary label ``big``."""
    return str(pd.io.common.Path(target_table).parent / "two_labels.csv")


@pytest.fixture(scope="session")
def unlabelled_target(target_table) -> pd.DataFrame:
    """The target rows without labels, image paths made absolute (the frame has no folder)."""
    frame = pd.read_csv(target_table).drop(columns=["label"])
    folder = pd.io.common.Path(target_table).parent
    frame["image"] = [str(folder / p) for p in frame["image"]]
    return frame


@pytest.fixture(scope="session")
def source_dir(tmp_path_factory, source_table):
    """A predictor of ``label`` fitted on the source table and saved."""
    from transmodal.predictor import MultimodalPredictor

    folder = tmp_path_factory.mktemp("contract_source_model") / "model"
    MultimodalPredictor(label="label").fit(source_table, hyperparameters=tiny_hyperparameters(), seed=0).save(folder)
    return folder
