"""Tests of the built-in trainable encoders: image cnn, audio cnn, builtin_text, tabular mlp."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from transmodal.encoders.base import build_encoder, encoder_registry
from transmodal.errors import ConfigError

RATE = 8000


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    # these tensors are tiny: extra threads only spin on a shared 2-core machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    np.random.seed(0)
    yield
    torch.set_num_threads(threads)


def tone(freq: float, seconds: float, rate: int = RATE, noise: float = 0.0, rng=None) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    wave = 0.5 * np.sin(2 * np.pi * freq * t)
    if noise:
        wave = wave + noise * (rng or np.random).standard_normal(len(t))
    return wave.astype(np.float32)


def grey_image(rng: np.random.Generator, size: int = 28) -> Image.Image:
    return Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8), mode="L")


def image_case():
    rng = np.random.default_rng(0)
    train = [grey_image(rng) for _ in range(6)]
    batch = [grey_image(rng), None, grey_image(rng, 20), grey_image(rng)]
    return "image", "cnn", train, {"width": 8, "output_dim": 24}, batch


def audio_case():
    train = [(tone(300 + 100 * i, 0.3 + 0.1 * i), RATE) for i in range(6)]
    batch = [(tone(440, 0.4), RATE), None, (tone(880, 1.5), RATE), (tone(660, 0.2), 16000)]
    settings = {"sample_rate": RATE, "n_mels": 32, "width": 8, "output_dim": 24}
    return "audio", "cnn", train, settings, batch


def text_case():
    train = ["the cat sat", "The dog sat!", "a cat and a dog", "the end"]
    batch = ["the cat", None, "", "unknown words only", "THE DOG and the cat sat"]
    return "text", "builtin_text", train, {"embedding_dim": 16, "output_dim": 24}, batch


def tabular_case():
    train = [
        {"age": 30, "income": "1000.5", "city": "paris", "member": True},
        {"age": 40, "income": None, "city": "rome", "member": False},
        {"age": float("nan"), "income": 2000, "city": None, "member": True},
        {"age": 50, "income": 1500, "city": "paris", "member": False},
    ]
    batch = [train[0], None, {"age": 35}, {"city": "tokyo", "income": "n/a", "member": 1}]
    types = {"age": "numeric", "income": "numeric", "city": "categorical", "member": "categorical"}
    return "tabular", "mlp", train, {"column_types": types, "output_dim": 24}, batch


CASES = {"image": image_case, "audio": audio_case, "text": text_case, "tabular": tabular_case}


def built(case: str):
    modality, name, train, settings, batch = CASES[case]()
    cls = encoder_registry(modality).get(name)
    settings = cls.fit_settings(train, settings)
    encoder = build_encoder(modality, {"name": name, **settings})
    return cls, encoder, batch


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_backward(case):
    cls, encoder, batch = built(case)
    assert isinstance(encoder, cls) and encoder.output_dim == 24
    encoder.train()
    out = encoder(encoder.prepare(batch))
    assert out.shape == (len(batch), 24)
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    params = list(encoder.parameters())
    assert params and all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)
    assert sum(float(p.grad.abs().sum()) for p in params) > 0


@pytest.mark.parametrize("case", sorted(CASES))
def test_rebuilt_from_json_settings_gives_identical_outputs(case):
    cls, encoder, batch = built(case)
    encoder.train()
    encoder(encoder.prepare(batch))  # move batch-norm statistics away from their initial values
    settings = json.loads(json.dumps(encoder.settings))
    rebuilt = cls(**settings)
    rebuilt.load_state_dict(encoder.state_dict())
    encoder.eval(), rebuilt.eval()
    inputs, inputs_again = encoder.prepare(batch), rebuilt.prepare(batch)
    assert inputs.keys() == inputs_again.keys()
    for key in inputs:
        torch.testing.assert_close(inputs[key], inputs_again[key])
    with torch.no_grad():
        torch.testing.assert_close(encoder(inputs), rebuilt(inputs_again))


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_groups_cover_parameters_once_and_freeze(case):
    cls, encoder, _ = built(case)
    grouped = [id(p) for group in encoder.layer_groups() for p in group]
    assert len(encoder.layer_groups()) >= 2
    assert sorted(grouped) == sorted(id(p) for p in encoder.parameters())
    encoder.freeze()
    assert encoder.settings["frozen"] and not any(p.requires_grad for p in encoder.parameters())
    assert not encoder.train().training
    with pytest.raises(ConfigError, match="unknown"):
        cls(**{**encoder.settings, "widht": 3})


# ---------------------------------------------------------------------------------------- image


def test_image_settings_are_inferred():
    cls = encoder_registry("image").get("cnn")
    rng = np.random.default_rng(0)
    grey = [grey_image(rng, size) for size in (20, 28, 30)]
    assert cls.fit_settings(grey, {}) == {"image_size": 28, "channels": 1}
    mixed = grey + [Image.new("RGB", (300, 200))]
    assert cls.fit_settings(mixed, {"channels": 1}) == {"image_size": 29, "channels": 1}
    assert cls.fit_settings([Image.new("RGB", (400, 400))] * 2, {})["channels"] == 3
    assert cls.fit_settings([Image.new("RGB", (400, 400))], {})["image_size"] == 128
    assert cls.fit_settings([Image.new("L", (8, 8))], {})["image_size"] == 16


def test_grey_trained_image_cnn_accepts_rgb_and_rgb_trained_accepts_grey():
    grey_model = build_encoder("image", {"name": "cnn", "image_size": 28, "channels": 1, "width": 8})
    rgb = Image.new("RGB", (16, 16), (255, 0, 0))
    pixels = grey_model.prepare([rgb, None])["pixels"]
    assert pixels.shape == (2, 1, 28, 28)
    assert torch.allclose(pixels[0], torch.full_like(pixels[0], 76 / 255 * 2 - 1))  # L of red
    assert torch.equal(pixels[1], torch.zeros_like(pixels[1]))
    assert grey_model.eval()({"pixels": pixels}).shape == (2, 128)
    rgb_model = build_encoder("image", {"name": "cnn", "image_size": 16, "channels": 3, "width": 8})
    pixels = rgb_model.prepare([Image.new("L", (40, 30), 255)])["pixels"]
    assert pixels.shape == (1, 3, 16, 16) and torch.allclose(pixels, torch.ones_like(pixels))


def test_image_augment_only_while_training():
    encoder = build_encoder(
        "image", {"name": "cnn", "image_size": 16, "channels": 1, "width": 8, "augment": True}
    )
    bars = np.zeros((16, 16), dtype=np.uint8)
    bars[:, 6:9] = 255
    inputs = encoder.prepare([Image.fromarray(bars)] * 2)
    encoder.eval()
    torch.testing.assert_close(encoder(inputs), encoder(inputs))
    encoder.train()
    assert torch.isfinite(encoder(inputs)).all()


# ---------------------------------------------------------------------------------------- audio


def test_audio_max_seconds_is_the_95th_percentile_rounded_up():
    cls = encoder_registry("audio").get("cnn")
    clips = [(np.zeros(round(RATE * s), np.float32), RATE) for s in np.linspace(0.3, 2.3, 21)]
    assert cls.fit_settings(clips, {}) == {"max_seconds": 2.2, "sample_rate": RATE}  # p95 = 2.2 exactly
    assert cls.fit_settings(clips[:3], {})["max_seconds"] == 0.5  # clamped up
    assert cls.fit_settings([(np.zeros(RATE * 20), RATE)], {})["max_seconds"] == 10.0
    assert cls.fit_settings(clips, {"max_seconds": 1.0})["max_seconds"] == 1.0


def test_audio_sample_rate_is_the_clips_rate_up_to_16_khz():
    cls = encoder_registry("audio").get("cnn")
    clips = [(np.zeros(800, np.float32), 8000)] * 3 + [(np.zeros(2205, np.float32), 22050)]
    assert cls.fit_settings(clips, {})["sample_rate"] == 8000  # the most common rate: no resampling
    assert cls.fit_settings([(np.zeros(4410, np.float32), 44100)], {})["sample_rate"] == 16000
    assert cls.fit_settings(clips, {"sample_rate": 16000})["sample_rate"] == 16000  # given wins


def test_audio_is_resampled_from_8_khz_cropped_and_padded():
    encoder = build_encoder("audio", {"name": "cnn", "max_seconds": 1.0, "width": 8})
    assert encoder.settings["sample_rate"] == 16000 and encoder.settings["n_fft"] == 512
    long_clip = np.concatenate([np.zeros(RATE), tone(400, 1.0), np.zeros(RATE)])  # 3 s
    inputs = encoder.prepare([(tone(400, 0.5), RATE), None, (long_clip, RATE)])
    wave, length = inputs["waveform"], inputs["length"]
    assert wave.shape == (3, 16000) and length.tolist() == [8000, 0, 16000]
    spectrum = np.abs(np.fft.rfft(wave[0, :8000].numpy()))
    assert np.argmax(spectrum) * 16000 / 8000 == pytest.approx(400, abs=2)  # still a 400 Hz tone
    assert wave[0, 8000:].abs().max() == 0 and wave[1].abs().max() == 0
    # the centre of the 3 s clip is the tone
    assert np.abs(np.fft.rfft(wave[2].numpy())).argmax() == pytest.approx(400, abs=2)
    out = encoder.eval()(inputs)
    assert out.shape == (3, 128) and torch.isfinite(out).all()


def test_audio_embedding_ignores_padding_and_augment_runs():
    settings = {"name": "cnn", "sample_rate": RATE, "n_mels": 32, "width": 8}
    short = build_encoder("audio", {**settings, "max_seconds": 0.5}).eval()
    long = build_encoder("audio", {**settings, "max_seconds": 1.0}).eval()
    long.load_state_dict(short.state_dict())
    clip = [(tone(500, 0.3, noise=0.05), RATE)]
    with torch.no_grad():
        torch.testing.assert_close(short(short.prepare(clip)), long(long.prepare(clip)))
    augmented = build_encoder("audio", {**settings, "max_seconds": 0.5, "augment": True}).train()
    out = augmented(augmented.prepare(clip * 4 + [None]))
    assert torch.isfinite(out).all()


@pytest.mark.slow
def test_audio_and_image_cnns_learn_simple_patterns():
    rng = np.random.default_rng(1)
    labels = torch.tensor([0, 1] * 16)
    clips = [(tone(400 if y == 0 else 1200, 0.4, noise=0.3, rng=rng), RATE) for y in labels]
    audio = build_encoder(
        "audio",
        {"name": "cnn", "sample_rate": RATE, "max_seconds": 0.4, "n_mels": 32, "width": 8},
    )
    images = []
    for y in labels.tolist():
        array = rng.normal(0, 40, (16, 16)) + 60
        start = rng.integers(0, 13)
        if y == 0:
            array[start : start + 3, :] += 150  # a horizontal bar
        else:
            array[:, start : start + 3] += 150  # a vertical bar
        images.append(Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), mode="L"))
    image = build_encoder("image", {"name": "cnn", "image_size": 16, "channels": 1, "width": 8})
    for encoder, items in ((audio, clips), (image, images)):
        inputs = encoder.prepare(items)
        head = torch.nn.Linear(encoder.output_dim, 2)
        optimiser = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=3e-3)
        encoder.train()
        for _ in range(30):
            loss = torch.nn.functional.cross_entropy(head(encoder(inputs)), labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        encoder.eval()
        with torch.no_grad():
            accuracy = (head(encoder(inputs)).argmax(1) == labels).float().mean()
        assert accuracy > 0.9, f"{encoder.modality}: train accuracy {accuracy:.2f}"


# ----------------------------------------------------------------------------------------- text


def test_builtin_text_vocabulary_and_unknown_words():
    cls = encoder_registry("text").get("builtin_text")
    texts = ["b a c", "A b; a!", "d e", None, "c c"]
    settings = cls.fit_settings(texts, {})
    assert settings["vocab"] == ["<pad>", "<unk>", "a", "c", "b"]  # count >= 2, by count, then word
    assert cls.fit_settings(texts, {"vocab_size": 1})["vocab"] == ["<pad>", "<unk>", "a"]
    assert cls.fit_settings(texts, {"min_count": 1})["vocab"][-2:] == ["d", "e"]
    encoder = build_encoder("text", {"name": "builtin_text", **settings, "max_tokens": 4})
    ids = encoder.prepare(["C zebra A", "", None, "a a a a a a"])["token_ids"]
    assert ids.tolist() == [[3, 1, 2, 0], [0, 0, 0, 0], [0, 0, 0, 0], [2, 2, 2, 2]]
    encoder.train()
    out = encoder({"token_ids": ids})
    assert torch.isfinite(out).all()
    assert torch.equal(out[1], torch.zeros(128)) and out[0].abs().sum() > 0
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in encoder.parameters())


def test_builtin_text_output_does_not_depend_on_batch_padding():
    cls = encoder_registry("text").get("builtin_text")
    encoder = cls(**cls.fit_settings(["one two three"] * 2, {})).eval()
    with torch.no_grad():
        alone = encoder(encoder.prepare(["one two"]))
        padded = encoder(encoder.prepare(["one two", "one two three three three"]))[:1]
    torch.testing.assert_close(alone, padded)


# -------------------------------------------------------------------------------------- tabular


def test_tabular_standardisation_and_categories():
    cls = encoder_registry("tabular").get("mlp")
    rows = [{"x": v, "k": k} for v, k in [(1, 3), ("2", 3.0), (3.0, "b"), (None, None)]]
    rows += [{"x": math.nan, "k": "a"}, {"x": math.inf, "k": " "}, {"x": "4", "k": True}]
    settings = cls.fit_settings(rows, {"column_types": {"x": "numeric", "k": "categorical"}})
    assert settings["numeric_stats"]["x"] == {"mean": 2.5, "std": pytest.approx(math.sqrt(1.25))}
    assert settings["categories"] == {"k": ["3", "True", "a", "b"]}
    json.dumps(settings)
    encoder = build_encoder("tabular", {"name": "mlp", **settings})
    std = math.sqrt(1.25)
    inputs = encoder.prepare(
        [{"x": 2.5 + std, "k": "b"}, {"x": "bad", "k": 3}, None, {"x": 0.0, "k": "zebra"}]
        + [{"x": 1e300, "k": False}]
    )
    expected = torch.tensor([1.0, 0.0, 0.0, -2.5 / std, 1e4])
    torch.testing.assert_close(inputs["numeric"][:, 0], expected)
    assert inputs["numeric_missing"][:, 0].tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]
    assert inputs["categorical"][:, 0].tolist() == [4, 1, 0, 0, 0]
    assert torch.isfinite(encoder(inputs)).all()
    assert encoder.embeddings[0].embedding_dim == min(16, (4 + 1) // 2 + 1) == 3


def test_tabular_constant_column_and_single_kind_of_columns():
    cls = encoder_registry("tabular").get("mlp")
    rows = [{"x": 5.0, "y": "u"}, {"x": 5.0, "y": "v"}, {"x": None, "y": None}]
    for types in ({"x": "numeric"}, {"y": "categorical"}):
        encoder = cls(**cls.fit_settings(rows, {"column_types": types, "output_dim": 8}))
        out = encoder.train()(encoder.prepare(rows + [None]))
        assert out.shape == (4, 8) and torch.isfinite(out).all()
    settings = cls.fit_settings(rows, {"column_types": {"x": "numeric"}})
    assert settings["numeric_stats"]["x"] == {"mean": 5.0, "std": 1e-6}
    with pytest.raises(ConfigError, match="column_types"):
        cls.fit_settings(rows, {})
    with pytest.raises(ConfigError, match="numeric"):
        cls(column_types={"x": "text"})
