"""Contract of every registered contrastive loss (``losses.contrastive.CONTRASTIVE_LOSSES``).

Built with its defaults, a contrastive loss takes two batches of L2-normalised embeddings (and an
optional (B, B) positives matrix) and returns a dict of named, finite scalar terms; matched pairs
cost less than shuffled ones; the gradient reaches both embeddings and the learnable temperature;
extra positives change the loss.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from transmodal.losses.contrastive import CONTRASTIVE_LOSSES

B, D = 8, 16


def _pairs(noise: float = 0.1):
    generator = torch.Generator().manual_seed(0)
    a = F.normalize(torch.randn(B, D, generator=generator), dim=-1)
    b = F.normalize(a + noise * torch.randn(B, D, generator=generator), dim=-1)
    return a, b


def _total(terms: dict[str, torch.Tensor]) -> torch.Tensor:
    return sum(terms.values())


def test_registry_is_not_empty():
    assert CONTRASTIVE_LOSSES.names(), "no contrastive loss is registered"


@pytest.mark.parametrize("name", CONTRASTIVE_LOSSES.names())
def test_named_finite_terms_and_gradients(name):
    loss = CONTRASTIVE_LOSSES.get(name)()
    a, b = (x.clone().requires_grad_(True) for x in _pairs())
    terms = loss(a, b)
    assert isinstance(terms, dict) and terms and all(isinstance(k, str) and k for k in terms)
    assert all(v.dim() == 0 and torch.isfinite(v) for v in terms.values())
    _total(terms).backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
    learnable = [p for p in loss.parameters() if p.requires_grad]
    assert learnable, "the temperature should be learnable by default"
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in learnable)


@pytest.mark.parametrize("name", CONTRASTIVE_LOSSES.names())
def test_matched_pairs_cost_less_than_shuffled_ones(name):
    loss = CONTRASTIVE_LOSSES.get(name)()
    a, b = _pairs()
    shuffled = b[torch.roll(torch.arange(B), 1)]
    with torch.no_grad():
        assert float(_total(loss(a, b))) < float(_total(loss(a, shuffled)))


@pytest.mark.parametrize("name", CONTRASTIVE_LOSSES.names())
def test_positives_matrix_is_honoured(name):
    loss = CONTRASTIVE_LOSSES.get(name)()
    a, b = _pairs(noise=1.0)
    diagonal = torch.eye(B, dtype=torch.bool)
    with torch.no_grad():
        torch.testing.assert_close(_total(loss(a, b, diagonal)), _total(loss(a, b)))
        more = diagonal.clone()
        more[0, 1] = more[1, 0] = True  # rows 0 and 1 show the same item
        assert not torch.isclose(_total(loss(a, b, more)), _total(loss(a, b, diagonal)))
