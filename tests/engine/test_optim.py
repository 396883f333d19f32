"""One parameter-group function and one optimiser for the predictor's and the alignment nets."""

from __future__ import annotations

import pytest
import torch

from transmodal.alignment.config import AlignConfig
from transmodal.alignment.towers import AlignmentNet, Tower
from transmodal.config import FitConfig
from transmodal.encoders.base import build_encoder
from transmodal.encoders.image_cnn import ImageCNN
from transmodal.engine.optim import configure_adamw, parameter_groups
from transmodal.fusion.base import FUSIONS
from transmodal.heads.task import TaskSpec
from transmodal.losses.contrastive import CONTRASTIVE_LOSSES
from transmodal.model import MultimodalNet


class PretrainedCNN(ImageCNN):
    """A built-in CNN that counts as pretrained (rebuilt from a reference checkpoint)."""

    weights_from_reference = True


def _encoders() -> dict:
    return {"image": PretrainedCNN(width=4, output_dim=8), "text": build_encoder("text", {"name": "builtin_text",
                                                                                          "output_dim": 8})}


def _ids(groups: list[dict], lr: float) -> set[int]:
    return {id(p) for g in groups if g["lr"] == lr for p in g["params"]}


@pytest.mark.parametrize("kind", ["predictor", "alignment"])
def test_pretrained_encoders_get_their_own_rate_in_both_nets(kind):
    encoders = _encoders()
    if kind == "predictor":
        fusion = FUSIONS.get("concat")({n: 8 for n in encoders}, output_dim=4)
        net = MultimodalNet(encoders, fusion, {"y": torch.nn.Linear(4, 2)}, [TaskSpec("y", "multiclass", ["0", "1"])])
        config = FitConfig(learning_rate=1e-3, encoder_learning_rate=1e-5)
    else:
        towers = {c: Tower(e, "linear", 8) for c, e in encoders.items()}
        net = AlignmentNet(towers, CONTRASTIVE_LOSSES.get("infonce")())
        config = AlignConfig(learning_rate=1e-3, encoder_learning_rate=1e-5)
    groups = parameter_groups(net, config)
    pretrained = {id(p) for p in encoders["image"].parameters()}
    assert _ids(groups, 1e-5) == pretrained
    assert _ids(groups, 1e-3) == {id(p) for p in net.parameters()} - pretrained
    for group in groups:  # biases, norms, the temperature: no weight decay
        assert all(p.ndim >= 2 for p in group["params"]) == (group["weight_decay"] > 0)
    # the same split for both nets: new parts at learning_rate, pretrained encoders at their rate
    assert [(g["lr"], g["weight_decay"] > 0) for g in groups] == [(1e-3, True), (1e-3, False), (1e-5, True),
                                                                 (1e-5, False)]


def test_configure_adamw_warms_up_then_decays():
    weight = torch.nn.Parameter(torch.zeros(2, 2))
    setup = configure_adamw([{"params": [weight], "lr": 1.0, "weight_decay": 0.0}], total_steps=10, warmup_ratio=0.2)
    optimizer, schedule = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    assert setup["lr_scheduler"]["interval"] == "step"
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[:3] == pytest.approx([0.5, 1.0, 1.0])  # 2 warm-up steps, then the cosine from the top
    assert rates[-1] < 0.05 and all(a >= b for a, b in zip(rates[1:], rates[2:]))
