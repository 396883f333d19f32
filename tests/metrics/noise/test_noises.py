"""Noise registries: level 0 is the identity, noise grows with the level, only the named input changes."""

from __future__ import annotations

import pytest
import torch

from transmodal.metrics.noise.base import NOISES, noise_registry


def _batch() -> dict:
    torch.manual_seed(0)
    return {
        "index": torch.arange(4),
        "inputs": {
            "image": {"pixels": torch.rand(4, 1, 8, 8) * 2 - 1},
            "audio": {"waveform": torch.randn(4, 800) * 0.3, "length": torch.tensor([800, 800, 400, 800])},
            "review": {"token_ids": torch.randint(1, 50, (4, 10))},
            "tabular": {"numeric": torch.randn(4, 3), "numeric_missing": torch.zeros(4, 3),
                        "categorical": torch.randint(1, 4, (4, 2))},
        },
        "masks": {n: torch.ones(4, dtype=torch.bool) for n in ("image", "audio", "review", "tabular")},
    }


MODALITY_OF = {"image": "image", "audio": "audio", "review": "text", "tabular": "tabular"}
CASES = [(name, kind) for name, modality in MODALITY_OF.items() for kind in NOISES[modality].names()]


def _changed(a: dict, b: dict) -> float:
    return sum(float((a[k].float() - b[k].float()).abs().sum()) for k in a)


@pytest.mark.parametrize("name,kind", CASES)
def test_noise_level_zero_is_identity_and_only_the_named_input_changes(name, kind):
    noise = noise_registry(MODALITY_OF[name]).get(kind)
    batch = _batch()
    assert noise(batch, name, 0.0, torch.Generator().manual_seed(0)) is batch
    noisy = noise(batch, name, 0.8, torch.Generator().manual_seed(0))
    changed = _changed(noisy["inputs"][name], batch["inputs"][name]) + \
        float((noisy["masks"][name] != batch["masks"][name]).sum())
    assert changed > 0
    for other in MODALITY_OF:
        if other != name:
            assert _changed(noisy["inputs"][other], batch["inputs"][other]) == 0
            assert torch.equal(noisy["masks"][other], batch["masks"][other])
    # the original batch is untouched
    assert _changed(_batch()["inputs"][name], batch["inputs"][name]) == 0


@pytest.mark.parametrize("name,kind", [c for c in CASES if c[1] != "missing"])
def test_stronger_noise_changes_more(name, kind):
    noise = noise_registry(MODALITY_OF[name]).get(kind)
    batch = _batch()
    weak = noise(batch, name, 0.2, torch.Generator().manual_seed(1))
    strong = noise(batch, name, 0.9, torch.Generator().manual_seed(1))
    assert _changed(strong["inputs"][name], batch["inputs"][name]) > _changed(weak["inputs"][name], batch["inputs"][name])


def test_required_noises_exist():
    assert {"gaussian", "salt_pepper", "occlusion", "missing"} <= set(NOISES["image"].names())
    assert {"white_noise", "time_dropout", "gaussian", "dropout"} <= set(NOISES["audio"].names())
    assert {"word_dropout", "dropout"} <= set(NOISES["text"].names())
    assert {"gaussian"} <= set(NOISES["tabular"].names())


def test_missing_hides_the_level_fraction_of_rows():
    noise = noise_registry("image").get("missing")
    batch = {"inputs": {}, "masks": {"image": torch.ones(10000, dtype=torch.bool)}}
    hidden = (~noise(batch, "image", 0.3, torch.Generator().manual_seed(0))["masks"]["image"]).float().mean()
    assert abs(float(hidden) - 0.3) < 0.02


def test_white_noise_respects_the_snr_and_the_padding():
    noise = noise_registry("audio").get("white_noise")
    batch = _batch()
    noisy = noise(batch, "audio", 1.0, torch.Generator().manual_seed(0))["inputs"]["audio"]["waveform"]
    diff = noisy - batch["inputs"]["audio"]["waveform"]
    assert diff[2, 400:].abs().sum() == 0  # padding stays silent
    clean_rms = batch["inputs"]["audio"]["waveform"][0].pow(2).mean().sqrt()
    assert abs(float(diff[0].pow(2).mean().sqrt() / clean_rms) - 1.0) < 0.1  # level 1 = 0 dB SNR


def test_hf_word_dropout_keeps_special_tokens():
    noise = noise_registry("text").get("word_dropout")
    inputs = {"input_ids": torch.randint(5, 50, (3, 8)), "attention_mask": torch.ones(3, 8, dtype=torch.long)}
    inputs["attention_mask"][1, 5:] = 0
    batch = {"inputs": {"t": inputs}, "masks": {"t": torch.ones(3, dtype=torch.bool)}}
    out = noise(batch, "t", 1.0, torch.Generator().manual_seed(0))["inputs"]["t"]["attention_mask"]
    assert out[:, 0].tolist() == [1, 1, 1] and out[1, 4] == 1 and out[0, 7] == 1
    assert out[:, 1:4].sum() == 0
