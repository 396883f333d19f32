"""The knowledge-transfer fusion learns how far to trust the neighbour estimate Zhat (issue 17):
while training a share of the rows that have X get Zhat (some from wrong neighbours), Zhat is
scaled by a learned trust, and Z itself is never changed."""

from __future__ import annotations

import pytest
import torch

from transmodal.errors import ConfigError
from transmodal.fitting.extensions.knowledge_transfer import TransferFromSettings
from transmodal.fusion.transfer import TransferFusion

Z, BASE, B = 4, 3, 512


def _fusion(share: float = 0.5, noise: float = 0.0) -> TransferFusion:
    torch.manual_seed(0)
    return TransferFusion({"image": Z, "audio": BASE + Z}, 8, 0.0, source="image", query="audio", z_dim=Z,
                          inner="concat", neighbour_share=share, neighbour_noise=noise)


def test_eval_uses_z_where_present_and_trusted_zhat_where_missing():
    fusion = _fusion().eval()
    z, zhat = torch.randn(B, Z), torch.randn(B, Z)
    present = torch.arange(B) % 2 == 0
    assert torch.equal(fusion.estimated_rows(present), ~present)
    with torch.no_grad():
        fusion.trust.fill_(0.0)  # trust 0.5
    assert torch.allclose(fusion.estimate(zhat), 0.5 * zhat)


def test_training_gives_zhat_to_a_share_of_the_rows_with_x():
    fusion = _fusion(share=0.5).train()
    present = torch.ones(4000, dtype=torch.bool)
    share = fusion.estimated_rows(present).float().mean().item()
    assert 0.45 < share < 0.55
    assert fusion.estimated_rows(torch.zeros(10, dtype=torch.bool)).all()  # rows without X always


def test_wrong_neighbours_for_the_noise_share_while_training():
    zhat = torch.arange(B, dtype=torch.float32).unsqueeze(-1).repeat(1, Z)
    noisy = _fusion(noise=0.5).train()
    with torch.no_grad():
        noisy.trust.fill_(50.0)  # trust 1: only the shuffling shows
    moved = (noisy.estimate(zhat) != zhat).any(dim=1).float().mean().item()
    assert 0.35 < moved < 0.6
    assert torch.allclose(noisy.eval().estimate(zhat), zhat)  # never at prediction


def test_the_trust_learns_from_the_loss_and_z_reaches_the_inner_fusion_unchanged():
    fusion = _fusion().train()
    features = {"image": torch.randn(B, Z), "audio": torch.randn(B, BASE + Z)}
    masks = {"image": torch.arange(B) % 3 != 0, "audio": torch.ones(B, dtype=torch.bool)}
    fusion(features, masks).square().mean().backward()
    assert fusion.trust.grad is not None and fusion.trust.grad.abs().sum() > 0
    untaught = TransferFusion({"image": Z, "audio": BASE + Z}, 8, 0.0, source="image", query="audio", z_dim=Z)
    assert untaught.trust is None  # no neighbour share: as before (older saved models load)


@pytest.mark.parametrize("key,value", [("neighbour_share", 1.0), ("neighbour_noise", -0.1), ("neighbour_share", "a")])
def test_settings_are_checked(key, value):
    with pytest.raises(ConfigError, match=key):
        TransferFromSettings.from_dict({"column": "image", "model": "m", key: value})


def test_the_query_encoder_skips_the_nearest_bank_row_while_training():
    from tests.contracts.test_contract_encoders import _transfer_query_settings, items
    from transmodal.encoders.base import build_encoder, encoder_registry

    settings = _transfer_query_settings("image")  # bank of 6 rows, keys of size 8, Z of size 4, k = 2
    settings = encoder_registry("image").get("transfer_query").fit_settings(items("image")[0], settings)
    encoder = build_encoder("image", {"name": "transfer_query", **settings})
    with torch.no_grad():
        encoder.bank_keys.copy_(torch.eye(6, 8))  # bank row i: key e_i, Z = (i, i, i, i)
        encoder.bank_values.copy_(torch.arange(6, dtype=torch.float32).unsqueeze(-1).repeat(1, 4))
    query = torch.nn.functional.normalize(torch.eye(8)[2] + 0.5 * torch.eye(8)[3] + 0.2 * torch.eye(8)[4], dim=0)
    assert torch.allclose(encoder.eval().neighbours(query[None]), torch.full((1, 4), 2.5))  # rows 2 and 3
    # training: row 2 (most often the row itself) is skipped, rows 3 and 4 are averaged
    assert torch.allclose(encoder.train().neighbours(query[None]), torch.full((1, 4), 3.5))
