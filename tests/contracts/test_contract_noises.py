"""Contract of every registered test-time noise (``metrics.noise.base.NOISES``, one registry per
modality): level 0 is the identity, level 1 corrupts, the result keeps shapes and dtypes, the input
batch is never changed in place, and the same generator seed gives the same corruption."""

from __future__ import annotations

import pytest
import torch

from transmodal.metrics.noise.base import MODALITIES, NOISES


def prepared_inputs(modality: str) -> list[dict[str, torch.Tensor]]:
    """What the encoders of ``modality`` prepare for a batch of 4 rows (each form a noise must take)."""
    g = torch.Generator().manual_seed(0)
    if modality == "image":
        return [{"pixels": torch.rand((4, 3, 16, 16), generator=g) * 2 - 1}]
    if modality == "audio":
        return [{"waveform": torch.randn((4, 2000), generator=g), "length": torch.tensor([2000, 1500, 2000, 900])}]
    if modality == "text":
        ids = torch.randint(1, 50, (4, 12), generator=g)
        attention = torch.ones(4, 12, dtype=torch.long)
        attention[1, 8:] = 0
        return [{"token_ids": ids}, {"input_ids": ids, "attention_mask": attention}]
    return [{"numeric": torch.randn((4, 3), generator=g), "numeric_missing": torch.zeros(4, 3),
             "categorical": torch.randint(1, 5, (4, 2), generator=g)}]


CASES = [(m, name, i) for m in MODALITIES for name in NOISES[m].names() for i in range(len(prepared_inputs(m)))]


def batch_of(inputs: dict[str, torch.Tensor]) -> dict:
    rows = next(iter(inputs.values())).shape[0]
    return {"inputs": {"x": inputs}, "masks": {"x": torch.ones(rows, dtype=torch.bool)}, "index": torch.arange(rows)}


@pytest.mark.parametrize("modality", MODALITIES)
def test_every_modality_has_noises_beyond_missing(modality):
    assert set(NOISES[modality].names()) - {"missing"}


@pytest.mark.parametrize("modality,name,form", CASES)
def test_noise_contract(modality, name, form):
    inputs = prepared_inputs(modality)[form]
    batch = batch_of(inputs)
    before = {k: v.clone() for k, v in inputs.items()}
    noise = NOISES[modality].get(name)
    assert noise(batch, "x", 0.0, torch.Generator().manual_seed(1)) is batch  # level 0: untouched
    first = noise(batch, "x", 1.0, torch.Generator().manual_seed(1))
    again = noise(batch, "x", 1.0, torch.Generator().manual_seed(1))
    for key, value in inputs.items():
        assert torch.equal(value, before[key]), f"{name} changed the input {key!r} in place"
        assert first["inputs"]["x"][key].shape == value.shape and first["inputs"]["x"][key].dtype == value.dtype
        assert torch.equal(first["inputs"]["x"][key], again["inputs"]["x"][key])  # same seed, same noise
    changed = any(not torch.equal(first["inputs"]["x"][k], inputs[k]) for k in inputs) or \
        not torch.equal(first["masks"]["x"], batch["masks"]["x"])
    assert changed, f"{modality} noise {name!r} at level 1 left the batch as it was"
    assert noise(batch, "other", 1.0, torch.Generator().manual_seed(1)) is batch  # another input: untouched
