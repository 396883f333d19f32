"""Modality dropout and the learned placeholder of absent inputs (MultimodalNet, Fusion base)."""

from __future__ import annotations

import torch

from transmodal.fusion.base import FUSIONS
from transmodal.heads.task import TaskSpec
from transmodal.model import MultimodalNet


class _Identity(torch.nn.Module):
    def forward(self, inputs):
        return inputs["x"]


def _net(dropout: float) -> MultimodalNet:
    fusion = FUSIONS.get("concat")({"a": 3, "b": 3, "c": 3}, output_dim=4)
    task = TaskSpec("y", "multiclass", ["0", "1"])
    heads = {"y": torch.nn.Linear(4, 2)}
    return MultimodalNet({n: _Identity() for n in "abc"}, fusion, heads, [task], modality_dropout=dropout)


def _masks(batch: int) -> dict[str, torch.Tensor]:
    masks = {n: torch.ones(batch, dtype=torch.bool) for n in "abc"}
    masks["a"][::2] = False  # half the rows lack "a"
    return masks


def test_modality_dropout_rate_keeps_one_input_and_never_revives_absent_ones():
    torch.manual_seed(0)
    net = _net(0.3).train()
    masks = _masks(20000)
    dropped = net.drop_modalities(masks)
    kept = torch.stack([dropped[n] for n in "abc"], dim=1)
    assert kept.any(dim=1).all()  # every row keeps at least one input
    assert not (dropped["a"] & ~masks["a"]).any()  # absent stays absent
    rate = 1 - dropped["c"][1::2].float().mean()  # rows with all three inputs
    assert 0.25 < float(rate) < 0.33


def test_modality_dropout_is_off_in_eval_and_at_zero():
    masks = _masks(10)
    assert _net(0.3).eval().drop_modalities(masks) is masks
    assert _net(0.0).train().drop_modalities(masks) is masks


def test_learned_placeholder_stands_in_for_absent_inputs_and_trains():
    torch.manual_seed(0)
    fusion = FUSIONS.get("concat")({"a": 3, "b": 3}, output_dim=4)
    features = {"a": torch.randn(4, 3), "b": torch.randn(4, 3)}
    masks = {"a": torch.tensor([True, False, True, False]), "b": torch.ones(4, dtype=torch.bool)}
    with torch.no_grad():
        fusion.placeholders["m_a"].copy_(torch.tensor([1.0, 2.0, 3.0]))
    filled = fusion.fill_missing(features, masks)
    assert torch.equal(filled["a"][1], torch.tensor([1.0, 2.0, 3.0]))
    assert torch.equal(filled["a"][0], features["a"][0])
    fusion(features, masks).sum().backward()
    assert fusion.placeholders["m_a"].grad.abs().sum() > 0  # absent rows train the placeholder
