"""Loading a stranger's model folder runs no code: pickles, tampering and remote code are refused."""

from __future__ import annotations

import json
import os
import pickle

import pytest

from transmodal.errors import ModelLoadError
from transmodal.persistence import write_manifest
from transmodal.predictor import MultimodalPredictor


class _Payload:
    """Unpickling this runs ``open(marker, "w")``: a load that unpickles would create the marker."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("name", ["extra.pkl", "weights.bin", "notes.json", "model.pt"])
def test_a_pickle_is_refused_and_never_run(fitted, tmp_path, name):
    folder = fitted.save(tmp_path / "model")
    marker = tmp_path / "code_ran"
    (folder / name).write_bytes(pickle.dumps(_Payload(str(marker))))
    write_manifest(folder)  # even a pickle sealed in the manifest is refused
    with pytest.raises(ModelLoadError, match="pickle"):
        MultimodalPredictor.load(folder)
    assert not marker.exists()


def test_tampered_weights_are_refused(fitted, tmp_path):
    folder = fitted.save(tmp_path / "model")
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="changed after saving"):
        MultimodalPredictor.load(folder)


def test_remote_code_is_refused_before_anything_is_built(fitted, tmp_path, monkeypatch):
    folder = fitted.save(tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    config["encoders"]["review"]["trust_remote_code"] = True
    (folder / "config.json").write_text(json.dumps(config))
    write_manifest(folder)
    built = []
    import transmodal.build as build

    monkeypatch.setattr(build, "build_net", lambda *a, **k: built.append(1))
    with pytest.raises(ModelLoadError, match="trust_remote_code"):
        MultimodalPredictor.load(folder)
    assert not built  # refused before any network (or checkpoint code) is built


def test_transformers_never_get_trust_remote_code_unless_asked():
    from pathlib import Path

    import transmodal

    root = Path(transmodal.__file__).parent
    for path in root.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            code = line.split("#")[0].split('"')[0].split("'")[0]  # ignore comments and messages
            if "trust_remote_code=True" in code.replace(" ", ""):
                pytest.fail(f"{path.relative_to(root)} hard-codes trust_remote_code=True: {line.strip()}")


def test_a_symlink_or_unlisted_file_is_refused(fitted, tmp_path):
    folder = fitted.save(tmp_path / "model")
    os.symlink(folder / "config.json", folder / "link.json")
    with pytest.raises(ModelLoadError, match="links"):
        MultimodalPredictor.load(folder)
    (folder / "link.json").unlink()
    (folder / "readme.txt").write_text("hi")
    with pytest.raises(ModelLoadError, match="not in the manifest"):
        MultimodalPredictor.load(folder)


def test_small_safetensors_states_are_not_taken_for_pickles(tmp_path):
    """Two scalars named so make a 128-byte safetensors header: the file starts with the bytes
    0x80 0x00, the pickle PROTO opcode."""
    import torch

    from transmodal.persistence import read_folder, save_folder

    state = {"loss.log_scale": torch.zeros(()), "loss.bias": torch.zeros(())}
    folder = save_folder(tmp_path / "model", {"kind": "test"}, state)
    assert (folder / "model.safetensors").read_bytes()[:2] == b"\x80\x00"
    read_folder(folder, weights=True)  # no ModelLoadError
