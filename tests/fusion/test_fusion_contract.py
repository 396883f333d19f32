"""Contract tests parametrised over every registered fusion."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from tabletools import TINY_HYPERPARAMETERS
from transmodal.fusion.base import FUSIONS, fusion_summaries

DIMS = {"audio": 6, "image": 5, "review": 4}


def _masks(batch: int) -> dict[str, torch.Tensor]:
    masks = {n: torch.ones(batch, dtype=torch.bool) for n in DIMS}
    masks["audio"][0] = False
    masks["image"][1] = False
    masks["audio"][2] = masks["review"][2] = False
    for name in DIMS:  # row 3 has no input at all
        masks[name][3] = False
    return masks


@pytest.mark.parametrize("name", FUSIONS.names())
def test_fusion_shape_and_gradient(name):
    torch.manual_seed(0)
    fusion = FUSIONS.get(name)(DIMS, output_dim=8, dropout=0.0)
    features = {n: torch.randn(6, d, requires_grad=True) for n, d in DIMS.items()}
    out = fusion(features, _masks(6))
    assert out.shape == (6, 8)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in fusion.parameters())


@pytest.mark.parametrize("name", FUSIONS.names())
def test_absent_inputs_do_not_leak(name):
    """Changing the features of an absent input must not change that row's output."""
    torch.manual_seed(0)
    fusion = FUSIONS.get(name)(DIMS, output_dim=8, dropout=0.0).eval()
    features = {n: torch.randn(6, d) for n, d in DIMS.items()}
    masks = _masks(6)
    changed = {n: f.clone() for n, f in features.items()}
    changed["audio"] = changed["audio"] + 100.0 * torch.randn_like(changed["audio"])
    base, other = fusion(features, masks), fusion(changed, masks)
    absent = ~masks["audio"]
    torch.testing.assert_close(base[absent], other[absent])
    assert not torch.allclose(base[~absent], other[~absent])  # present audio does count


@pytest.mark.parametrize("name", FUSIONS.names())
def test_fusion_single_input(name):
    fusion = FUSIONS.get(name)({"image": 5}, output_dim=8, dropout=0.0)
    out = fusion({"image": torch.randn(3, 5)}, {"image": torch.tensor([True, False, True])})
    assert out.shape == (3, 8) and torch.isfinite(out).all()


def test_every_fusion_has_a_summary():
    summaries = fusion_summaries()
    assert {"concat", "late", "hierarchical", "tensor", "lowrank", "attention", "gated"} <= set(summaries)
    assert all(line.strip() for line in summaries.values())


def test_lowrank_rank_is_configurable():
    small = FUSIONS.get("lowrank")(DIMS, output_dim=8, rank=2)
    large = FUSIONS.get("lowrank")(DIMS, output_dim=8, rank=6)
    assert small.factors["m_audio"].shape[0] == 2 and large.factors["m_audio"].shape[0] == 6


@pytest.fixture(scope="module")
def gappy_table(tmp_path_factory):
    """The tiny table with image, audio and review missing in some rows (never all at once)."""
    from tabletools import write_table

    folder = tmp_path_factory.mktemp("gappy")
    frame = write_table(folder, n=36)[["image", "audio", "review", "label"]]
    frame.loc[frame.index % 5 == 1, "image"] = None
    frame.loc[frame.index % 7 == 2, "audio"] = None
    frame.loc[frame.index % 4 == 3, "review"] = None
    frame.to_csv(folder / "gappy.csv", index=False)
    return folder


@pytest.mark.parametrize("name", FUSIONS.names())
def test_every_fusion_fits_and_predicts_with_missing_modalities(name, gappy_table):
    from transmodal.predictor import MultimodalPredictor

    table = str(gappy_table / "gappy.csv")
    hyper = {**TINY_HYPERPARAMETERS, "fusion": name, "max_epochs": 1, "modality_dropout": 0.3}
    predictor = MultimodalPredictor(label="label").fit(table, hyperparameters=hyper, seed=0)
    probabilities = predictor.predict_proba(table)
    assert probabilities.shape == (36, 3)
    assert probabilities.notna().all().all()
    only_review = pd.read_csv(table).assign(image=None, audio=None)
    only_review.to_csv(gappy_table / f"only_review_{name}.csv", index=False)
    assert len(predictor.predict(str(gappy_table / f"only_review_{name}.csv"))) == 36


def test_unknown_fusion_options_are_refused_with_the_known_ones():
    from transmodal.errors import ConfigError
    from transmodal.fusion.base import build_fusion

    assert build_fusion("lowrank", {"a": 4, "b": 4}, 8, 0.1, {"rank": 2}).output_dim == 8
    with pytest.raises(ConfigError, match=r"\['rnak'\].*'rank'"):
        build_fusion("lowrank", {"a": 4, "b": 4}, 8, 0.1, {"rnak": 2})  # a typo was silently ignored
    with pytest.raises(ConfigError, match="takes none"):
        build_fusion("concat", {"a": 4}, 8, 0.1, {"heads": 2})
