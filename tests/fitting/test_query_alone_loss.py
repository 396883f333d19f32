"""``transfer_from.query_alone_weight`` (issue 17): an extra loss on every training row's Y-alone view
of the knowledge-transfer fusion."""

from __future__ import annotations

from types import SimpleNamespace

import torch
import torch.nn.functional as F

from transmodal.fitting.extensions.knowledge_transfer import QueryAloneTerm
from transmodal.fusion.transfer import TransferFusion, estimate_name

Z, BASE, B, K = 4, 3, 12, 3
WEIGHT = 0.6


def _module(fusion: TransferFusion, head: torch.nn.Linear) -> SimpleNamespace:
    net = SimpleNamespace(fusion=fusion, head_outputs=lambda fused: {"y": head(fused)})
    return SimpleNamespace(net=net, task_losses=lambda b, o: {"task/y": F.cross_entropy(o["outputs"]["y"],
                                                                                          b["targets"]["y"])})


def test_term_is_the_task_loss_of_y_alone_on_every_row_with_y():
    torch.manual_seed(0)
    fusion = TransferFusion({"image": Z, "audio": BASE + Z}, 8, 0.0, source="image", query="audio", z_dim=Z,
                            inner="concat", neighbour_share=0.5, neighbour_noise=0.3, estimate_slot=True,
                            alone_share=0.5).train()
    head = torch.nn.Linear(8, K)
    features = {"image": torch.randn(B, Z), "audio": torch.randn(B, BASE + Z)}
    audio = torch.ones(B, dtype=torch.bool)
    audio[:3] = False  # rows without Y take no part
    masks = {"image": torch.arange(B) % 2 == 0, "audio": audio}
    targets = {"y": torch.randint(0, K, (B,))}
    terms = QueryAloneTerm(WEIGHT, "audio")(_module(fusion, head), {"targets": targets},
                                            {"features": features, "masks": masks})
    alone = {"image": torch.zeros(B - 3, dtype=torch.bool), estimate_name("image"): torch.zeros(B - 3, dtype=torch.bool),
             "audio": torch.ones(B - 3, dtype=torch.bool)}
    inner_features = {"image": features["image"][3:], "audio": features["audio"][3:, :BASE],
                      estimate_name("image"): features["audio"][3:, BASE:]}
    expected = WEIGHT * F.cross_entropy(head(fusion.inner(inner_features, alone)), targets["y"][3:])
    torch.testing.assert_close(terms["transfer/query_alone"], expected)
    terms["transfer/query_alone"].backward()
    assert fusion.inner.placeholders["m_image"].grad is not None  # Z's placeholder stands in
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
