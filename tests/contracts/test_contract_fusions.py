"""Contract of every registered fusion (``fusion.base.FUSIONS``).

A fusion builds from the input sizes, maps ``features`` (B, D_name) and presence ``masks`` (B,) to
finite (B, output_dim) for any pattern of missing inputs, never lets an absent input's features
reach its row (neither in the output nor in the gradient), and trains. The ``transfer`` fusion runs
twice: alone (no source set up: the inner fusion) and set up as ``transfer_from`` builds it.
"""

from __future__ import annotations

import pytest
import torch

from transmodal.fusion.base import FUSIONS

DIMS = {"audio": 6, "image": 5, "review": 4}
BATCH = 6
# options a fusion needs beyond the defaults to be tested in its configured form (name -> options)
CONFIGURED = {"transfer": {"source": "audio", "query": "review", "z_dim": 6, "inner": "concat",
                           "neighbour_share": 0.5, "neighbour_noise": 0.3, "estimate_slot": True}}
CASES = [(name, {}) for name in FUSIONS.names()] + \
    [(name, options) for name, options in CONFIGURED.items() if name in FUSIONS.names()]
IDS = [name if not options else f"{name}-configured" for name, options in CASES]


def _dims(options: dict) -> dict[str, int]:
    dims = dict(DIMS)
    if options.get("query"):  # the query input carries [base(Y), Zhat(Y)]
        dims[options["query"]] += int(options["z_dim"])
    return dims


def _masks() -> dict[str, torch.Tensor]:
    """Row 0 lacks audio, row 1 image, row 2 audio and review, row 3 everything; 4 and 5 are full."""
    masks = {name: torch.ones(BATCH, dtype=torch.bool) for name in DIMS}
    masks["audio"][0] = False
    masks["image"][1] = False
    masks["audio"][2] = masks["review"][2] = False
    for name in DIMS:
        masks[name][3] = False
    return masks


def _build(name: str, options: dict, dims: dict[str, int] | None = None):
    torch.manual_seed(0)
    dims = dims or _dims(options)
    fusion = FUSIONS.get(name)(dims, output_dim=8, dropout=0.0, **options)
    return fusion, dims


def _features(dims: dict[str, int], seed: int = 0, grad: bool = False) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {n: torch.randn(BATCH, d, generator=generator).requires_grad_(grad) for n, d in dims.items()}


def test_registry_is_not_empty():
    assert FUSIONS.names(), "no fusion is registered"


@pytest.mark.parametrize("name,options", CASES, ids=IDS)
def test_output_shape_finite_and_gradient(name, options):
    fusion, dims = _build(name, options)
    assert fusion.output_dim == 8
    features = _features(dims, grad=True)
    out = fusion.train()(features, _masks())
    assert out.shape == (BATCH, 8)
    assert torch.isfinite(out).all()  # row 3, with no input at all, too
    out.square().sum().backward()
    grads = [p.grad for p in fusion.parameters() if p.grad is not None]
    assert grads and sum(float(g.abs().sum()) for g in grads) > 0
    assert all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name,options", CASES, ids=IDS)
@pytest.mark.parametrize("hidden", ["audio", "image", "review"])
def test_an_absent_input_does_not_reach_its_row(name, options, hidden):
    """Whatever an absent input's features hold, that row's output (and its gradient) stays the same."""
    fusion, dims = _build(name, options)
    fusion.eval()
    masks = _masks()
    features = _features(dims)
    changed = {n: f.clone() for n, f in features.items()}
    changed[hidden] = changed[hidden] + 100.0 * torch.randn_like(changed[hidden])
    absent = ~masks[hidden]
    with torch.no_grad():
        base, other = fusion(features, masks), fusion(changed, masks)
    torch.testing.assert_close(base[absent], other[absent])
    assert not torch.allclose(base[~absent], other[~absent])  # where it is present it counts
    probe = {n: f.clone().requires_grad_(True) for n, f in features.items()}
    fusion(probe, masks)[absent].sum().backward()
    assert probe[hidden].grad is None or torch.count_nonzero(probe[hidden].grad[absent]) == 0


@pytest.mark.parametrize("name,options", CASES, ids=IDS)
def test_rows_are_independent_in_eval_mode(name, options):
    """A row's output does not depend on the other rows of the batch."""
    fusion, dims = _build(name, options)
    fusion.eval()
    features, masks = _features(dims), _masks()
    with torch.no_grad():
        whole = fusion(features, masks)
        alone = fusion({n: f[4:5] for n, f in features.items()}, {n: m[4:5] for n, m in masks.items()})
    torch.testing.assert_close(alone[0], whole[4])


@pytest.mark.parametrize("name", FUSIONS.names())
def test_a_single_input(name):
    fusion, _ = _build(name, {}, dims={"image": 5})
    out = fusion({"image": torch.randn(3, 5)}, {"image": torch.tensor([True, False, True])})
    assert out.shape == (3, 8) and torch.isfinite(out).all()
