"""Issue 19, acceptance b: hostile paths in image and audio cells. An absolute path, a ``../`` path,
a symlink (file or folder) leading out of ``--allowed-root``, ``~``, a ``file://`` or ``http://`` URL:
each is a 422 naming the row and column, and a canary file outside the root (a valid image/audio
file, so that opening it would have succeeded) is never opened: inotify and a Python audit hook both
watch it. Without ``--allowed-root`` no path is read at all."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from servingtools import OpenWatch, json_rows

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the canary watch uses inotify")


@pytest.fixture(scope="module")
def layout(tmp_path_factory, table_dir):
    """``root/`` (one image and one tone, a symlink to each canary, a symlink to the outside folder)
    and ``outside/`` (the canaries: a valid PNG and WAV)."""
    base = tmp_path_factory.mktemp("paths")
    root, outside = base / "root", base / "outside"
    (root / "media").mkdir(parents=True)
    outside.mkdir()
    shutil.copy(table_dir / "img" / "0.png", root / "media" / "ok.png")
    shutil.copy(table_dir / "wav" / "0.wav", root / "media" / "ok.wav")
    shutil.copy(table_dir / "img" / "1.png", outside / "canary.png")
    shutil.copy(table_dir / "wav" / "1.wav", outside / "canary.wav")
    (root / "media" / "link.png").symlink_to(outside / "canary.png")
    (root / "media" / "link.wav").symlink_to(outside / "canary.wav")
    (root / "escape").symlink_to(outside, target_is_directory=True)
    return {"base": base, "root": root, "outside": outside}


@pytest.fixture(scope="module")
def secure_client(layout, model_dir):
    from fastapi.testclient import TestClient

    from transmodal.serving.app import create_app
    from transmodal.serving.settings import ServeSettings

    with TestClient(create_app(ServeSettings(str(model_dir), allowed_root=str(layout["root"])))) as client:
        yield client


@pytest.fixture()
def watch(layout):
    outside = layout["outside"]
    watcher = OpenWatch(outside / "canary.png", outside / "canary.wav", outside)
    with watcher:
        yield watcher
    watcher.close()


def _hostile(layout, column):
    """Hostile values of an image (png) or audio (wav) cell, each leading to the canary."""
    suffix = "png" if column == "image" else "wav"
    canary = layout["outside"] / f"canary.{suffix}"
    return {
        "absolute": str(canary),
        "dot-dot": f"../outside/canary.{suffix}",
        "dot-dot inside": f"media/../../outside/canary.{suffix}",
        "symlink": f"media/link.{suffix}",
        "absolute symlink": str(layout["root"] / "media" / f"link.{suffix}"),
        "symlinked folder": f"escape/canary.{suffix}",
        "file url": f"file://{canary}",
        "file url short": f"file:{canary}",
        "http url": f"http://127.0.0.1:9/canary.{suffix}",
        "home": f"~/../../{canary}",
        "nul byte": f"media/ok.{suffix}\x00/../../../outside/canary.{suffix}",
    }


CASES = [(column, case) for column in ("image", "audio") for case in (
    "absolute", "dot-dot", "dot-dot inside", "symlink", "absolute symlink", "symlinked folder", "file url",
    "file url short", "http url", "home", "nul byte")]


def _rows(table, layout, column, value):
    rows = json_rows(table, [0, 1])
    rows[0]["image"], rows[0]["audio"] = "media/ok.png", "media/ok.wav"  # a good path: row 0 is fine
    rows[1][column] = value
    return rows


@pytest.mark.parametrize("column,case", CASES)
def test_a_hostile_path_is_refused_and_the_canary_never_opened(secure_client, layout, table, watch, column, case):
    value = _hostile(layout, column)[case]
    rows = _rows(table, layout, column, value)
    for endpoint in ("/predict", "/predict_proba"):
        response = secure_client.post(endpoint, json={"rows": rows})
        assert response.status_code == 422, response.text
        details = response.json()["details"]
        assert [(d["row"], d["column"]) for d in details] == [(1, column)]
        if str(layout["root"]) not in value:
            assert str(layout["root"]) not in response.json()["error"]  # the root is not disclosed
    assert watch.opened() == []


@pytest.mark.parametrize("column", ["image", "audio"])
def test_a_hostile_path_in_a_multipart_body_is_refused_too(secure_client, layout, table, watch, column):
    rows = _rows(table, layout, column, _hostile(layout, column)["symlink"])
    response = secure_client.post("/predict", data={"rows": json.dumps(rows)},
                                  files=[("unused", ("x.bin", b"x", "application/octet-stream"))])
    assert response.status_code == 422 and response.json()["details"][0]["column"] == column
    assert watch.opened() == []


def test_paths_inside_the_root_are_read(secure_client, layout, table, fitted):
    rows = _rows(table, layout, "image", "media/ok.png")
    rows[1]["image"] = str(layout["root"] / "media" / "ok.png")  # absolute inside the root
    response = secure_client.post("/predict", json={"rows": rows})
    assert response.status_code == 200, response.text
    frame = table.iloc[[0, 1]].copy()
    frame["image"] = str(layout["root"] / "media" / "ok.png")
    frame.loc[frame.index[0], "audio"] = str(layout["root"] / "media" / "ok.wav")
    assert response.json()["predictions"] == fitted.predict(frame).tolist()


def test_without_allowed_root_no_path_is_read(served, model_dir, table_dir, table, watch, layout):
    from fastapi.testclient import TestClient

    from transmodal.serving.app import create_app
    from transmodal.serving.settings import ServeSettings

    rows = json_rows(table, [0])
    rows[0]["image"] = str(table_dir / "img" / "0.png")  # a plain good file: still refused
    with TestClient(create_app(ServeSettings(str(model_dir)), served)) as client:
        response = client.post("/predict", json={"rows": rows})
        assert response.status_code == 422 and "without --allowed-root" in response.json()["error"]
        rows[0]["image"] = str(layout["outside"] / "canary.png")
        assert client.post("/predict", json={"rows": rows}).status_code == 422
        assert client.get("/metadata").json()["limits"]["server_paths"] is False
    assert watch.opened() == []


def test_the_watch_sees_an_open(layout, watch):
    """The witness works: reading the canary (as PIL would) is seen by both inotify and the audit hook."""
    from PIL import Image

    with Image.open(layout["outside"] / "canary.png") as image:
        image.load()
    seen = watch.opened()
    assert any(s.startswith("inotify") for s in seen) and any(s.endswith("canary.png") for s in seen)


def test_a_missing_file_inside_the_root_is_422_without_disclosing_the_root(secure_client, layout, table):
    rows = _rows(table, layout, "audio", "media/gone.wav")
    response = secure_client.post("/predict", json={"rows": rows})
    assert response.status_code == 422 and response.json()["details"][0]["column"] == "audio"
    assert "does not exist" in response.json()["error"] and str(layout["root"]) not in response.json()["error"]
