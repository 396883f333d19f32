"""Contrastive losses against hand-computed values, and positives with duplicate items."""

from __future__ import annotations

import math

import pytest
import torch

from transmodal.losses.contrastive import InfoNCELoss, SigLIPLoss, infonce_loss, positive_mask, sigmoid_loss


def _unit_3x3():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [math.sqrt(0.5), math.sqrt(0.5)]])
    b = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    return a, b


def test_infonce_equals_hand_computed_value():
    a, b = _unit_3x3()
    # cosines a_i.b_j: row 0 = [1, 0, -1], row 1 = [0, 1, 0], row 2 = [r, r, -r] with r = sqrt(.5)
    r, scale = math.sqrt(0.5), 2.0
    rows = [[1, 0, -1], [0, 1, 0], [r, r, -r]]
    cols = [[rows[i][j] for i in range(3)] for j in range(3)]

    def ce(logits, target):
        return -(scale * logits[target] - math.log(sum(math.exp(scale * x) for x in logits)))

    a_to_b = sum(ce(rows[i], i) for i in range(3)) / 3
    b_to_a = sum(ce(cols[j], j) for j in range(3)) / 3
    terms = infonce_loss(a, b, torch.tensor(scale))
    assert float(sum(terms.values())) == pytest.approx((a_to_b + b_to_a) / 2, rel=1e-5)


def test_sigmoid_loss_equals_hand_computed_value():
    a, b = _unit_3x3()
    r, scale, bias = math.sqrt(0.5), 2.0, -1.0
    cos = [[1, 0, -1], [0, 1, 0], [r, r, -r]]
    total = 0.0
    for i in range(3):
        for j in range(3):
            z = 1.0 if i == j else -1.0
            total += math.log(1 + math.exp(-z * (scale * cos[i][j] + bias)))
    terms = sigmoid_loss(a, b, torch.tensor(scale), torch.tensor(bias))
    assert float(terms["sigmoid"]) == pytest.approx(total / 3, rel=1e-5)


def test_duplicate_items_are_all_positives():
    images = torch.tensor([0, 0, 1, 2])  # rows 0 and 1 show the same image with two captions
    captions = torch.tensor([0, 1, 2, 2])  # rows 2 and 3 share a caption
    mask = positive_mask(images, captions)
    expected = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]], dtype=torch.bool)
    assert torch.equal(mask, expected)


def test_duplicates_target_is_uniform_over_positives():
    # two identical rows: with the diagonal only the loss cannot go below log 2 per row; with the
    # shared item as positives the optimum (perfectly aligned rows) gives zero loss
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    positives = positive_mask(torch.tensor([0, 0, 1]))
    terms = infonce_loss(a, a, torch.tensor(100.0), positives)
    assert float(sum(terms.values())) == pytest.approx(math.log(2) * 2 / 3, abs=1e-4)
    diagonal_only = infonce_loss(a, a, torch.tensor(100.0))
    assert float(sum(diagonal_only.values())) == pytest.approx(math.log(2) * 2 / 3, abs=1e-4)
    # the positive-aware target puts half the mass on each duplicate, so its gradient is zero
    a2 = a.clone().requires_grad_(True)
    sum(infonce_loss(a2, a, torch.tensor(100.0), positives).values()).backward()
    assert a2.grad.abs().max() < 1e-4


def test_temperature_is_learnable_and_clamped():
    loss = InfoNCELoss(init_temperature=0.001)
    assert float(loss.scale) == pytest.approx(100.0)
    assert loss.log_scale.requires_grad
    assert float(SigLIPLoss().bias) == -10.0
