"""Fixtures of the serving tests: a saved tiny predictor (image, audio, text, numbers), the loaded
served model, in-process clients with chosen settings, and rows built from the shared tiny table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("fastapi")


@pytest.fixture(scope="session")
def model_dir(fitted, tmp_path_factory) -> Path:
    return fitted.save(tmp_path_factory.mktemp("served") / "model")


@pytest.fixture(scope="session")
def served(model_dir, table_dir):
    from transmodal.serving.model import load_served

    return load_served(model_dir, table_dir)


@pytest.fixture()
def client_for(served, model_dir, table_dir):
    """``client_for(**settings)`` -> a started TestClient (allowed root: the table's folder)."""
    from fastapi.testclient import TestClient

    from transmodal.serving.app import create_app
    from transmodal.serving.settings import ServeSettings

    clients = []

    def make(**settings):
        options = {"allowed_root": str(table_dir), **settings}
        client = TestClient(create_app(ServeSettings(str(model_dir), **options), served))
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture()
def client(client_for):
    return client_for()


@pytest.fixture(scope="session")
def table(table_dir) -> pd.DataFrame:
    """The shared tiny table with absolute image/audio paths (what the predictor reads directly)."""
    frame = pd.read_csv(table_dir / "table.csv")
    for column in ("image", "audio"):
        frame[column] = [str(table_dir / p) for p in frame[column]]
    return frame
