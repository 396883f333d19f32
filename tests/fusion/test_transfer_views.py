"""Single views of the knowledge-transfer fusion (issue 17): trained with ``alone_share``, rows are
sometimes shown Y alone or Z alone, and at prediction a row averages the views chosen for it (by
default: rows with Z the full view and Z alone, rows with Zhat the full view)."""

from __future__ import annotations

import pytest
import torch

from transmodal.errors import ConfigError
from transmodal.fitting.extensions.knowledge_transfer import TransferFromSettings
from transmodal.fusion.transfer import TransferFusion, estimate_name
from transmodal.fusion.views import alone_rows, default_views, view_masks

Z, BASE, B = 4, 3, 2048
SLOT = estimate_name("image")


def _fusion(alone: float) -> TransferFusion:
    torch.manual_seed(0)
    return TransferFusion({"image": Z, "audio": BASE + Z}, 8, 0.0, source="image", query="audio", z_dim=Z,
                          inner="concat", neighbour_share=0.5, neighbour_noise=0.0, estimate_slot=True,
                          alone_share=alone)


def _inputs(present: torch.Tensor) -> tuple[dict, dict]:
    torch.manual_seed(1)
    features = {"image": torch.randn(len(present), Z), "audio": torch.randn(len(present), BASE + Z)}
    return features, {"image": present, "audio": torch.ones(len(present), dtype=torch.bool)}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _masks(present: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"image": present, SLOT: ~present, "audio": torch.ones(len(present), dtype=torch.bool)}


def test_query_alone_hides_z_and_zhat_and_source_alone_hides_y_where_z_is():
    present = torch.arange(8) % 2 == 0
    alone = view_masks(_masks(present), "query_alone", "image", "audio", SLOT)
    assert not alone["image"].any() and not alone[SLOT].any() and alone["audio"].all()
    source = view_masks(_masks(present), "source_alone", "image", "audio", SLOT)
    assert torch.equal(source["image"], present) and torch.equal(source["audio"], ~present)
    assert torch.equal(source[SLOT], ~present)  # rows with Zhat keep Y with it (Zhat comes from Y)
    assert _same(view_masks(_masks(present), "full", "image", "audio", SLOT), _masks(present))
    with pytest.raises(ValueError, match="unknown view"):
        view_masks(_masks(present), "both", "image", "audio", SLOT)


def test_training_shows_the_share_of_rows_one_view_alone():
    torch.manual_seed(0)
    present = torch.arange(B) % 2 == 0  # half the rows have Z, the others Zhat
    masks = alone_rows(_masks(present), "image", "audio", SLOT, 0.4)
    query_alone = masks["audio"] & ~masks["image"] & ~masks[SLOT]
    source_alone = masks["image"] & ~masks["audio"]
    assert 0.15 < source_alone[present].float().mean().item() < 0.25  # half of 0.4 of the rows with Z
    assert 0.15 < query_alone[present].float().mean().item() < 0.25
    assert 0.35 < query_alone[~present].float().mean().item() < 0.45  # rows with Zhat: Y alone only
    assert not source_alone[~present].any()
    kept = masks["audio"] | masks["image"] | masks[SLOT]
    assert kept.all()  # every row keeps an input
    assert _same(alone_rows(_masks(present), "image", "audio", SLOT, 0.0), _masks(present))


def test_the_fusion_trains_single_views_only_with_an_alone_share():
    present = torch.ones(B, dtype=torch.bool)
    features, masks = _inputs(present)
    seen = {}
    for share in (0.0, 0.4):
        fusion = _fusion(share).train()
        handle = fusion.inner.register_forward_pre_hook(lambda m, args: seen.update(masks=args[1]))
        fusion(features, masks)
        handle.remove()
        alone = seen["masks"]["audio"] & ~seen["masks"]["image"] & ~seen["masks"][SLOT]
        assert alone.any() == (share > 0)


def _views(fusion: TransferFusion, features: dict, present: torch.Tensor) -> dict[str, torch.Tensor]:
    """The inner fusion's output (B, 8) for each view of every row."""
    inner_features = {"image": features["image"], "audio": features["audio"][:, :BASE],
                      SLOT: features["audio"][:, BASE:]}
    return {v: fusion.inner(inner_features, view_masks(_masks(present), v, "image", "audio", SLOT))
            for v in ("full", "query_alone", "source_alone")}


def _assert_rows_with_zhat_average_y_alone(fusion: TransferFusion) -> None:
    """Rows with Z predict the full view; rows with Zhat the mean of the full view and Y alone."""
    present = torch.arange(16) % 2 == 0
    features, masks = _inputs(present)
    out = fusion(features, masks)
    view = _views(fusion, features, present)
    assert torch.allclose(out[present], view["full"][present])
    assert torch.allclose(out[~present], (view["full"][~present] + view["query_alone"][~present]) / 2)


def test_prediction_averages_the_full_view_and_z_alone_for_rows_with_z():
    fusion = _fusion(0.4).eval()
    assert (fusion.views_with_z, fusion.views_with_estimate) == (("full", "source_alone"), ("full",))
    present = torch.arange(16) % 2 == 0
    features, masks = _inputs(present)
    out = fusion(features, masks)  # (16, 8)
    view = _views(fusion, features, present)
    assert torch.allclose(out[present], (view["full"][present] + view["source_alone"][present]) / 2)
    assert not torch.allclose(out[present], view["full"][present])
    assert torch.allclose(out[~present], view["full"][~present])  # rows with Zhat: the full view


def test_any_views_can_be_averaged_for_rows_with_zhat():
    fusion = _fusion(0.4).eval()
    fusion.views_with_z, fusion.views_with_estimate = ("full",), ("full", "query_alone")
    _assert_rows_with_zhat_average_y_alone(fusion)


def test_without_an_alone_share_prediction_is_the_full_view():
    fusion = _fusion(0.0).eval()
    assert default_views(0.0) == (("full",), ("full",))
    present = torch.arange(16) % 2 == 0
    features, masks = _inputs(present)
    inner_features = {"image": features["image"], "audio": features["audio"][:, :BASE],
                      SLOT: features["audio"][:, BASE:]}
    assert torch.allclose(fusion(features, masks), fusion.inner(inner_features, _masks(present)))


def test_alone_share_is_checked():
    assert TransferFromSettings.from_dict({"column": "image", "model": "m"}).alone_share == 0.5  # default
    with pytest.raises(ConfigError, match="alone_share"):
        TransferFromSettings.from_dict({"column": "image", "model": "m", "alone_share": 1.5})


def test_a_view_of_every_row_is_the_inner_fusion_on_that_views_masks():
    fusion = _fusion(0.0).eval()
    present = torch.arange(16) % 2 == 0
    features, masks = _inputs(present)
    view = _views(fusion, features, present)
    for name in ("full", "query_alone", "source_alone"):
        assert torch.allclose(fusion.view(features, masks, name), view[name])
    changed = {"image": features["image"] + 5.0, "audio": features["audio"].clone()}
    changed["audio"][:, BASE:] += 5.0  # other Z and Zhat: Y alone does not move
    assert torch.allclose(fusion.view(changed, masks, "query_alone"), view["query_alone"])
    assert not torch.allclose(fusion.view(changed, masks, "full"), view["full"])
    no_slot = TransferFusion({"image": Z, "audio": BASE + Z}, 8, 0.0, source="image", query="audio", z_dim=Z)
    with pytest.raises(ValueError, match="estimate slot"):
        no_slot.view(features, masks, "query_alone")


def test_average_query_alone_averages_y_alone_into_rows_with_zhat():
    torch.manual_seed(0)
    fusion = TransferFusion({"image": Z, "audio": BASE + Z}, 8, 0.0, source="image", query="audio", z_dim=Z,
                            inner="concat", neighbour_share=0.5, estimate_slot=True, alone_share=0.0,
                            average_query_alone=True).eval()
    assert (fusion.views_with_z, fusion.views_with_estimate) == (("full",), ("full", "query_alone"))
    assert default_views(0.5, True) == (("full", "source_alone"), ("full", "query_alone"))
    _assert_rows_with_zhat_average_y_alone(fusion)


def test_query_alone_options_are_checked():
    settings = TransferFromSettings.from_dict({"column": "image", "model": "m"})
    assert (settings.query_alone_weight, settings.average_query_alone) == (None, False)  # defaults:
    assert (settings.weight(True), settings.weight(False)) == (2.0, 0.0)  # 2 with the estimate slot, else 0
    settings.check_slot(False)  # the default weight does not ask for the slot
    with pytest.raises(ConfigError, match="query_alone_weight"):
        TransferFromSettings.from_dict({"column": "image", "model": "m", "query_alone_weight": -1.0})
    with pytest.raises(ConfigError, match="average_query_alone needs Y alone trained"):
        TransferFromSettings.from_dict({"column": "image", "model": "m", "alone_share": 0.0,
                                        "query_alone_weight": 0.0, "average_query_alone": True})
    weighted = TransferFromSettings.from_dict({"column": "image", "model": "m", "query_alone_weight": 1.0,
                                               "neighbour_share": 0.0})
    with pytest.raises(ConfigError, match="need neighbour_share > 0"):
        weighted.check_slot(False)
    weighted.check_slot(True)
