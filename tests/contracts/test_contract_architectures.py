"""Contract of every registered multi-task sharing architecture
(``multitask.architectures.base.ARCHITECTURES``).

An architecture maps the fused (B, D) to one finite (B, output_dim) per task, passes the gradient
back to the fused vector and to its own parameters, gives each row the same output alone or in a
batch (eval mode), and, chosen by name in a two-label fit through the public API, is recorded and
reloads.
"""

from __future__ import annotations

import pytest
import torch

from contracttools import assert_reloads_identically, fit_two_labels
from transmodal.multitask.architectures.base import ARCHITECTURES, build_sharing

TASKS = ["rating", "department.name"]  # a dotted name: module keys must be mangled


def test_registry_is_not_empty():
    assert ARCHITECTURES.names(), "no sharing architecture is registered"


@pytest.mark.parametrize("name", ARCHITECTURES.names())
def test_one_representation_per_task(name):
    torch.manual_seed(0)
    sharing = build_sharing(name, 12, TASKS, dropout=0.0)
    assert sharing.output_dim > 0
    fused = torch.randn(5, 12, requires_grad=True)
    out = sharing.train()(fused)
    assert set(out) == set(TASKS)
    assert all(v.shape == (5, sharing.output_dim) and torch.isfinite(v).all() for v in out.values())
    sum(v.square().sum() for v in out.values()).backward()
    assert fused.grad is not None and fused.grad.abs().sum() > 0
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in sharing.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", ARCHITECTURES.names())
def test_rows_are_independent_in_eval_mode(name):
    torch.manual_seed(0)
    sharing = build_sharing(name, 12, TASKS, dropout=0.1).eval()
    fused = torch.randn(5, 12)
    with torch.no_grad():
        whole, alone = sharing(fused), sharing(fused[2:3])
    for task in TASKS:
        torch.testing.assert_close(alone[task][0], whole[task][2])


@pytest.mark.slow
@pytest.mark.parametrize("name", ARCHITECTURES.names())
def test_chosen_in_a_two_label_fit(name, two_label_table, tmp_path):
    predictor, folder, recorded = fit_two_labels(two_label_table, tmp_path / "model", {"architecture": name})
    assert recorded["architecture"] == name
    proba = predictor.predict_proba(two_label_table)
    assert set(proba) == {"label", "big"} and proba["label"].shape == (36, 3) and proba["big"].shape == (36, 2)
    assert_reloads_identically(predictor, folder, two_label_table)
