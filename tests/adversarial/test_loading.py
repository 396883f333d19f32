"""Hostile model folders (issue 21, items 4 and 8): loading opens regular files only, bounds every
JSON and every declared size before allocating, reports each malformed folder as ``ModelLoadError``
naming the file within 2 s; ``allowed_root`` comes from the caller and a folder can only narrow it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import threading
import time
from pathlib import Path

import pytest

from transmodal.cli import main
from transmodal.errors import DataError, ModelLoadError
from transmodal.persistence import write_manifest
from transmodal.predictor import MultimodalPredictor

SECONDS = 2.0


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory) -> Path:
    return fitted.save(tmp_path_factory.mktemp("saved") / "model")


@pytest.fixture()
def folder(saved, tmp_path) -> Path:
    """A fresh copy of the saved model, to be broken."""
    return Path(shutil.copytree(saved, tmp_path / "model"))


def _bounded(call, fifo: Path | None = None) -> BaseException | None:
    """Run ``call`` in a thread; it must end within 2 s (a FIFO left blocking is unblocked afterwards
    so that the thread ends). Returns what it raised."""
    outcome: list = []

    def run():
        try:
            call()
            outcome.append(None)
        except BaseException as err:  # noqa: BLE001 (the test inspects it)
            outcome.append(err)

    thread = threading.Thread(target=run, daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(SECONDS + 1)
    elapsed = time.monotonic() - start
    if thread.is_alive() and fifo is not None:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # EOF for the blocked reader
        thread.join(5)
    assert outcome and elapsed < SECONDS, f"took {elapsed:.1f} s (hung)"
    return outcome[0]


def _load_refused(folder: Path, *words: str, fifo: Path | None = None) -> str:
    """Loading must raise ModelLoadError naming ``words`` within 2 s."""
    error = _bounded(lambda: MultimodalPredictor.load(folder), fifo)
    assert isinstance(error, ModelLoadError), repr(error)
    for word in words:
        assert word in str(error)
    return str(error)


def _edit_config(folder: Path, edit) -> None:
    config = json.loads((folder / "config.json").read_text())
    result = edit(config)
    (folder / "config.json").write_text(result if isinstance(result, str) else json.dumps(config))
    write_manifest(folder)


# ---- files that are not regular files ------------------------------------------------------
def test_a_fifo_is_refused_quickly(folder):
    os.mkfifo(folder / "notes.json")
    _load_refused(folder, "notes.json", "regular", fifo=folder / "notes.json")


def test_a_fifo_in_place_of_the_config_is_refused_quickly(folder):
    (folder / "config.json").unlink()
    os.mkfifo(folder / "config.json")
    _load_refused(folder, "config.json", fifo=folder / "config.json")


def test_a_device_file_is_refused(folder):
    target = folder / "checkpoints"
    target.mkdir()
    try:
        os.mknod(target / "last.safetensors", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero
    except (PermissionError, OSError) as err:
        pytest.skip(f"cannot create a device node here: {err}")
    _load_refused(folder, "last.safetensors")


def test_a_device_file_in_place_of_the_weights_is_refused(folder):
    (folder / "model.safetensors").unlink()
    try:
        os.mknod(folder / "model.safetensors", stat.S_IFCHR | 0o600, os.makedev(1, 5))
    except (PermissionError, OSError) as err:
        pytest.skip(f"cannot create a device node here: {err}")
    _load_refused(folder, "model.safetensors")


def test_a_socket_is_refused(folder):
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(folder / "s.json"))
        _load_refused(folder, "s.json")
    finally:
        server.close()


def test_info_refuses_a_fifo_too(folder, capsys):
    os.mkfifo(folder / "notes.json")
    error = _bounded(lambda: main(["info", str(folder)]), folder / "notes.json")
    assert isinstance(error, SystemExit) and error.code == 1 and "notes.json" in capsys.readouterr().err


# ---- sizes bounded before anything is allocated --------------------------------------------
def test_an_oversized_hidden_dim_is_refused_before_allocating(folder):
    _edit_config(folder, lambda c: c["architecture"].update(hidden_dim=2_000_000_000))
    _load_refused(folder, "config.json", "hidden_dim")


def test_an_oversized_encoder_width_is_refused(folder):
    _edit_config(folder, lambda c: c["encoders"]["image"].update(width=300_000, output_dim=300_000))
    _load_refused(folder, "config.json", "encoders.image")


def test_an_oversized_json_is_refused_unread(folder):
    (folder / "history.json").write_text(" " * (17 << 20) + "{}")
    write_manifest(folder)
    _load_refused(folder, "history.json", "bytes")


# ---- malformed folders: ModelLoadError naming the file -------------------------------------
MALFORMED_CONFIGS = {
    "bad JSON": lambda c: "{not json",
    "a list": lambda c: "[1, 2]",
    "no encoders": lambda c: c.pop("encoders"),
    "no tasks": lambda c: c.pop("tasks"),
    "encoders a list": lambda c: c.update(encoders=[1, 2]),
    "inputs of numbers": lambda c: c.update(inputs=[1, 2]),
    "task without fields": lambda c: c.update(tasks=[{"name": 5}]),
    "fit_config a string": lambda c: c.update(fit_config="x"),
    "hidden_dim a string": lambda c: c["architecture"].update(hidden_dim="wide"),
    "negative hidden_dim": lambda c: c["architecture"].update(hidden_dim=-3),
    "unknown fusion": lambda c: c["architecture"].update(fusion="nope"),
    "no params": lambda c: c.pop("params"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_CONFIGS))
def test_a_malformed_config_is_a_model_load_error(folder, case):
    _edit_config(folder, MALFORMED_CONFIGS[case])
    _load_refused(folder, "config.json")


def test_truncated_weights_are_a_model_load_error(folder):
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    write_manifest(folder)
    _load_refused(folder, "model.safetensors")


@pytest.mark.parametrize("manifest", ["{oops", '{"files": {"config.json": 5}}', '{"files": {"../x.json": {}}}',
                                      '{"files": []}'])
def test_a_malformed_manifest_is_a_model_load_error(folder, manifest):
    (folder / "manifest.json").write_text(manifest)
    _load_refused(folder, "manifest.json")


# ---- allowed_root: the caller's, narrowed (never widened) by the folder ------------------------
def _with_saved_root(folder: Path, root: str) -> Path:
    _edit_config(folder, lambda c: c["params"].update(allowed_root=root))
    return folder


def test_a_saved_root_never_widens_the_callers(folder, table_dir, tmp_path):
    _with_saved_root(folder, "/")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    predictor = MultimodalPredictor.load(folder, allowed_root=elsewhere)
    assert Path(predictor.allowed_root) == elsewhere
    with pytest.raises(DataError, match="allowed_root"):
        predictor.predict(str(table_dir / "table.csv"))


def test_a_saved_root_inside_the_callers_narrows_it(folder, table_dir):
    _with_saved_root(folder, str(table_dir / "img"))
    predictor = MultimodalPredictor.load(folder, allowed_root=table_dir)
    assert Path(predictor.allowed_root) == table_dir / "img"
    with pytest.raises(DataError, match="allowed_root"):  # the audio files are outside img/
        predictor.predict(str(table_dir / "table.csv"))


def test_the_callers_root_lets_inside_paths_through(saved, table_dir):
    predictor = MultimodalPredictor.load(saved, allowed_root=table_dir)
    assert len(predictor.predict(str(table_dir / "table.csv"))) == 60


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_cli_allowed_root(folder, table_dir, tmp_path, capsys, command):
    _with_saved_root(folder, "/")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    args = [command, str(folder), str(table_dir / "table.csv"), "--allowed-root", str(elsewhere)]
    if command == "predict":
        args += ["--out", str(tmp_path / "p.csv")]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "allowed_root" in err and "Traceback" not in err
