"""Issue 19, item 4: any saved predictor serves the same way. A zero-shot predictor (a tiny random
CLIP's class-prompt head) is served and answers as the predictor does; ``--workers 2`` serves from
two processes through the command line."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabletools import TINY_HYPERPARAMETERS, write_table


@pytest.mark.slow
def test_a_zero_shot_predictor_serves(tmp_path):
    from fastapi.testclient import TestClient
    from PIL import Image
    from tinyaligned import CLASSES, TEMPLATES, save_tiny_clip

    from transmodal.alignment.model import AlignmentModel
    from transmodal.predictor import MultimodalPredictor
    from transmodal.serving.app import create_app
    from transmodal.serving.settings import ServeSettings

    aligned = AlignmentModel.from_pretrained(save_tiny_clip(tmp_path / "clip"), columns=("image", "caption"))
    predictor = MultimodalPredictor.from_zero_shot(aligned, column="image", classes=CLASSES, templates=TEMPLATES)
    folder = predictor.save(tmp_path / "zero-shot")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (40, 36, 3), dtype=np.uint8), "RGB").save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    with TestClient(create_app(ServeSettings(str(folder)))) as client:
        columns = client.get("/metadata").json()["columns"]
        rows = [{c["name"]: ({"base64": base64.b64encode(Path(p).read_bytes()).decode()} if c["type"] == "image"
                             else None) for c in columns} for p in paths]
        predicted = client.post("/predict", json={"rows": rows})
        probabilities = client.post("/predict_proba", json={"rows": rows})
    frame = pd.DataFrame({c["name"]: (paths if c["type"] == "image" else [None] * 4) for c in columns})
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["predictions"] == predictor.predict(frame).tolist()
    np.testing.assert_allclose([[p[c] for c in sorted(CLASSES)] for p in probabilities.json()["probabilities"]],
                               predictor.predict_proba(frame).to_numpy(), atol=1e-5)


@contextlib.contextmanager
def cli_server(folder, *options: str, started: list | None = None):
    """``transmodal serve FOLDER OPTIONS`` in a new process on a free loopback port; yields its URL
    (and appends the process to ``started`` when given)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    server = subprocess.Popen([sys.executable, "-m", "transmodal", "serve", str(folder), "--port", str(port),
                               "--log-level", "warning", *options], env=env)
    if started is not None:
        started.append(server)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _health(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_two_workers_from_the_command_line(tmp_path):
    from transmodal.predictor import MultimodalPredictor

    frame = write_table(tmp_path, n=30)[["review", "size", "color", "label"]]
    model = MultimodalPredictor(label="label").fit(frame, hyperparameters={**TINY_HYPERPARAMETERS, "max_epochs": 1})
    folder = model.save(tmp_path / "model")
    with cli_server(folder, "--workers", "2", "--allocator", "glibc", "--malloc-arenas", "1") as url:
        rows = frame.drop(columns=["label"]).head(5).to_json(orient="records")
        request = urllib.request.Request(f"{url}/predict", data=f'{{"rows": {rows}}}'.encode(),
                                         headers={"content-type": "application/json"})
        for _ in range(4):
            with urllib.request.urlopen(request, timeout=30) as response:
                assert json.loads(response.read())["predictions"] == model.predict(frame.head(5)).tolist()
        if sys.platform.startswith("linux"):  # each worker process started with the arenas asked for
            assert [_health(url)["heap"]["arenas"] for _ in range(4)] == [1] * 4


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc arenas")
def test_the_served_process_has_the_malloc_arenas_it_was_given(tmp_path):
    """The heap is configured before the libraries that start threads at import (numpy's OpenBLAS,
    pyarrow's jemalloc) are imported: with ``--malloc-arenas 1`` the server has one arena after a batch
    run on several threads, and ``--malloc-arenas 0`` leaves glibc's default (an arena per thread)."""
    from transmodal.predictor import MultimodalPredictor

    frame = write_table(tmp_path, n=30)[["review", "size", "color", "label"]]
    folder = MultimodalPredictor(label="label").fit(
        frame, hyperparameters={**TINY_HYPERPARAMETERS, "max_epochs": 1}).save(tmp_path / "model")
    rows = frame.drop(columns=["label"]).to_json(orient="records")
    for options, one_arena in ((("--allocator", "glibc", "--malloc-arenas", "1"), True),
                               (("--allocator", "glibc", "--malloc-arenas", "0"), False)):
        with cli_server(folder, *options) as url:
            request = urllib.request.Request(f"{url}/predict", data=f'{{"rows": {rows}}}'.encode(),
                                             headers={"content-type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200
            assert (_health(url)["heap"]["arenas"] == 1) is one_arena


@pytest.mark.slow
def test_an_ensemble_folder_of_fold_models_serves(tmp_path):
    """A search's fold models (an ``AutoPredictor`` folder, ``tune.final_fit="fold_models"``) serve as a
    predictor does: metadata from its columns and task, the predictions and probabilities it makes."""
    from fastapi.testclient import TestClient

    from transmodal.ensemble.auto import AutoPredictor
    from transmodal.serving.app import create_app
    from transmodal.serving.settings import ServeSettings

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    table = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "label": np.where(x[:, 0] > 0, "yes", "no")})
    auto = AutoPredictor("label").tune(
        table, hyperparameters={"max_epochs": 2, "batch_size": 16, "hidden_dim": 8, "progress_bar": False},
        tune={"n_trials": 1, "cv_folds": 2, "pruner": "none", "search_space": {"dropout": {"low": 0.0, "high": 0.3}}})
    folder = auto.save(tmp_path / "folds")
    rows = table.drop(columns=["label"]).head(5)
    with TestClient(create_app(ServeSettings(str(folder)))) as client:
        metadata = client.get("/metadata").json()
        predicted = client.post("/predict", json={"rows": rows.to_dict(orient="records")})
        probabilities = client.post("/predict_proba", json={"rows": rows.to_dict(orient="records")})
    assert [c["name"] for c in metadata["columns"]] == ["x1", "x2"] and metadata["labels"] == ["label"]
    assert metadata["tasks"] == [{"name": "label", "problem_type": "binary", "classes": ["no", "yes"]}]
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["predictions"] == auto.predict(rows).tolist()
    np.testing.assert_allclose([[p["no"], p["yes"]] for p in probabilities.json()["probabilities"]],
                               auto.predict_proba(rows).to_numpy(), atol=1e-6)
