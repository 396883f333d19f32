"""Contract of every registered transfer strategy (``transfer.base.STRATEGIES``).

Each strategy runs in a tiny fit through the public API, starting from a small saved source
predictor (``init_from=``; ``teacher=`` too for ``distill``): it trains, records itself in the saved
configuration, the saved model reloads to the same predictions, and its own effect shows (each
strategy names one check in ``EFFECTS``; a strategy registered without one fails
``test_every_strategy_has_an_effect_check``, so a new strategy comes with its check).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
import torch

from contracttools import (assert_reloads_identically, encoder_parameters, encoder_state, saved_config,
                           saved_weight_names, tiny_hyperparameters)
from transmodal.transfer.base import STRATEGIES

# strategy -> options of the ``transfer`` section (beyond ``strategy``) for the tiny fit
OPTIONS = {"finetune": {"layer_decay": 1.0}, "l2sp": {"alpha": 0.01}, "partial": {"layers": 1},
           "lora": {"r": 2}, "distill": {"temperature": 2.0}}
# strategy -> extra fit options; every strategy also gets init_from=source
NEEDS_TEACHER = {"distill"}


def _differs(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> list[str]:
    return [k for k in before if not torch.equal(before[k], after[k])]


def unchanged_encoders(source, predictor, folder) -> None:
    """linear_probe: the encoders (and the transferred fusion) keep the source's weights exactly."""
    for name in ("image", "tabular"):
        assert not _differs(encoder_state(source, name), encoder_state(predictor, name))
    fusion_before, fusion_after = source.net_.fusion.state_dict(), predictor.net_.fusion.state_dict()
    assert not _differs(fusion_before, fusion_after)


def changed_encoders(source, predictor, folder) -> None:
    """finetune, l2sp: the encoders train (their weights move away from the source's)."""
    for name in ("image", "tabular"):
        assert _differs(encoder_parameters(source, name), encoder_parameters(predictor, name))


def some_encoder_layers_change(source, predictor, folder) -> None:
    """partial: the top layer group trains, the layers below keep the source's weights."""
    before, after = encoder_parameters(source, "image"), encoder_parameters(predictor, "image")
    moved = _differs(before, after)
    assert moved and len(moved) < len(before)


def adapters_added(source, predictor, folder) -> None:
    """lora: adapter parameters join the encoders, they train, and the saved model holds them."""
    adapters = {n: p for n, p in predictor.net_.named_parameters() if "lora_" in n}
    assert adapters and all(p.requires_grad for p in adapters.values())
    assert any(p.abs().sum() > 0 for n, p in adapters.items() if "lora_B" in n)  # B starts at zero
    assert any("lora_" in n for n in saved_weight_names(folder))
    assert "lora_" not in "".join(n for n, _ in source.net_.named_parameters())


def distillation_term_logged(source, predictor, folder) -> None:
    """distill: the teacher's soft-label term joins the loss every epoch."""
    assert all(np.isfinite(epoch["train/transfer/distill/label"]) for epoch in predictor.history_["epochs"])


EFFECTS: dict[str, Callable] = {
    "linear_probe": unchanged_encoders, "finetune": changed_encoders, "l2sp": changed_encoders,
    "partial": some_encoder_layers_change, "lora": adapters_added, "distill": distillation_term_logged,
}


def test_registry_is_not_empty():
    assert STRATEGIES.names(), "no transfer strategy is registered"


def test_every_strategy_has_an_effect_check():
    assert set(STRATEGIES.names()) <= set(EFFECTS), \
        f"add an effect check to EFFECTS for {sorted(set(STRATEGIES.names()) - set(EFFECTS))}"


@pytest.mark.slow
@pytest.mark.parametrize("name", STRATEGIES.names())
def test_fits_from_a_source_reloads_and_shows_its_effect(name, source_dir, target_table, tmp_path):
    from transmodal.predictor import MultimodalPredictor

    source = MultimodalPredictor.load(source_dir)
    extra = {"teacher": str(source_dir)} if name in NEEDS_TEACHER else {}
    transfer = {"strategy": name, **OPTIONS.get(name, {})}
    predictor = MultimodalPredictor(label="label").fit(
        target_table, init_from=str(source_dir), hyperparameters=tiny_hyperparameters(transfer=transfer),
        seed=0, **extra)
    assert all(np.isfinite(epoch["train_loss"]) for epoch in predictor.history_["epochs"])
    folder = predictor.save(tmp_path / "model")
    config = saved_config(folder)
    assert config["fit_config"]["transfer"]["strategy"] == name
    assert "transfer" in config["history"]  # what init_from copied
    assert_reloads_identically(predictor, folder, target_table)
    if name in EFFECTS:
        EFFECTS[name](source, predictor, folder)
