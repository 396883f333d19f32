"""The knowledge-transfer fusion learns how far to trust the neighbour estimate Zhat (issue 17):
while training a share of the rows that have X get Zhat (some from wrong neighbours), Zhat is
scaled by a learned trust, and Z itself is never changed."""

from __future__ import annotations

import pytest
import torch

from transmodal.errors import ConfigError
from transmodal.fitting.extensions.knowledge_transfer import TransferFromSettings
from transmodal.fusion.transfer import TransferFusion, estimate_name

Z, BASE, B = 4, 3, 512


def _fusion(share: float = 0.5, noise: float = 0.0, slot: bool = False) -> TransferFusion:
    torch.manual_seed(0)
    return TransferFusion({"image": Z, "audio": BASE + Z}, 8, 0.0, source="image", query="audio", z_dim=Z,
                          inner="concat", neighbour_share=share, neighbour_noise=noise, estimate_slot=slot)


def _inner_inputs(fusion: TransferFusion, features, masks) -> tuple[dict, dict]:
    """What the inner fusion receives: (features, masks)."""
    seen = {}

    def record(module, args):
        seen["features"], seen["masks"] = args

    handle = fusion.inner.register_forward_pre_hook(record)
    fusion(features, masks)
    handle.remove()
    return seen["features"], seen["masks"]


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


def test_the_estimate_slot_keeps_z_and_zhat_apart():
    """Z goes to X's slot, Zhat to its own: the network can tell a real Z from an estimate."""
    fusion = _fusion(slot=True).eval()
    assert fusion.trust is None and estimate_name("image") in fusion.inner.names
    base, z, zhat = torch.randn(B, BASE), torch.randn(B, Z), torch.randn(B, Z)
    present = torch.arange(B) % 2 == 0
    audio = torch.arange(B) % 4 != 1  # rows 1, 5, ... lack the query too: no estimate either
    inner, masks = _inner_inputs(fusion, {"image": z, "audio": torch.cat([base, zhat], 1)},
                                 {"image": present, "audio": audio})
    assert torch.equal(inner["image"], z) and torch.equal(inner["audio"], base)
    assert torch.equal(inner[estimate_name("image")], zhat)
    assert torch.equal(masks["image"], present)
    assert torch.equal(masks[estimate_name("image")], ~present & audio)


def test_the_estimate_slot_takes_the_training_share_and_changes_the_output():
    fusion = _fusion(share=0.5, slot=True).train()
    z, zhat = torch.randn(B, Z), torch.randn(B, Z)
    features = {"image": z, "audio": torch.cat([torch.randn(B, BASE), zhat], 1)}
    ones = torch.ones(B, dtype=torch.bool)
    _, masks = _inner_inputs(fusion, features, {"image": ones, "audio": ones})
    estimated = masks[estimate_name("image")]
    assert 0.4 < estimated.float().mean().item() < 0.6
    assert torch.equal(masks["image"], ~estimated)  # each row has Z or Zhat, never both
    fusion.eval()
    with_z = fusion(features, {"image": ones, "audio": ones})
    with_zhat = fusion(features, {"image": ~ones, "audio": ones})
    assert not torch.allclose(with_z, with_zhat)


def test_knowledge_transfer_builds_the_slot_only_when_taught():
    from transmodal.fitting.extensions.knowledge_transfer import TransferFromSettings

    assert TransferFromSettings.from_dict({"column": "image", "model": "m"}).neighbour_share > 0  # default: slot
    older = TransferFusion({"image": Z, "audio": BASE + Z}, 8, 0.0, source="image", query="audio", z_dim=Z,
                           neighbour_share=0.5, neighbour_noise=0.3)  # saved before the slot: trust
    assert older.trust is not None and estimate_name("image") not in older.inner.names
