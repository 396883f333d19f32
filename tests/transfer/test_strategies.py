"""Each transfer strategy on a tiny table, starting from a saved source predictor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from transfer_helpers import hyperparameters, source_dir, source_table, target_table  # noqa: F401 (fixtures)
from transmodal.errors import ConfigError
from transmodal.predictor import MultimodalPredictor
from transmodal.transfer.base import STRATEGIES


def _fit(target_table, source_dir, **transfer):
    return MultimodalPredictor(label="label").fit(target_table, init_from=str(source_dir),
                                                  hyperparameters=hyperparameters(**transfer), seed=0)


def _encoder_state(predictor, name="image"):
    return {k: v.clone() for k, v in predictor.net_.encoder(name).state_dict().items()}


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(STRATEGIES.names()))
def test_every_strategy_fits_and_predicts(strategy, target_table, source_dir):
    predictor = _fit(target_table, source_dir, strategy=strategy)
    assert predictor.config_.transfer["strategy"] == strategy
    assert predictor.evaluate(target_table)["accuracy"] > 0.5  # chance is 1/3


def test_linear_probe_keeps_encoders_and_fusion_and_caches(target_table, source_dir):
    source = MultimodalPredictor.load(source_dir)
    predictor = _fit(target_table, source_dir, strategy="linear_probe")
    for name in ("image", "tabular"):
        before, after = _encoder_state(source, name), _encoder_state(predictor, name)
        assert all(torch.equal(before[k], after[k]) for k in before)
        assert predictor.net_.encoder(name).frozen
    for key, value in source.net_.fusion.state_dict().items():
        assert torch.equal(value, predictor.net_.fusion.state_dict()[key])


def test_partial_trains_only_the_top_groups(target_table, source_dir):
    source = MultimodalPredictor.load(source_dir)
    predictor = _fit(target_table, source_dir, strategy="partial", layers=1)
    groups_before = source.net_.encoder("image").layer_groups()
    groups_after = predictor.net_.encoder("image").layer_groups()
    same = [all(torch.equal(a, b) for a, b in zip(g0, g1)) for g0, g1 in zip(groups_before, groups_after)]
    assert all(same[:-1]) and not same[-1]


def test_finetune_uses_layer_decay_groups(target_table, source_dir):
    from transmodal.engine.optim import parameter_groups

    predictor = _fit(target_table, source_dir, strategy="finetune", layer_decay=0.5, freeze_epochs=1)
    rates = sorted({g["lr"] for g in parameter_groups(predictor.net_, predictor.config_)})
    base = predictor.config_.learning_rate
    assert rates[-1] == pytest.approx(base) and rates[0] == pytest.approx(base * 0.5**4)  # image cnn: 4 groups


def test_finetune_freeze_epochs_keeps_encoders_in_the_first_epoch(target_table, source_dir):
    source = MultimodalPredictor.load(source_dir)
    hp = hyperparameters(strategy="finetune", freeze_epochs=5)  # longer than the fit: nothing moves
    predictor = MultimodalPredictor(label="label").fit(target_table, init_from=str(source_dir),
                                                       hyperparameters=hp, seed=0)
    before, after = _encoder_state(source, "image"), _encoder_state(predictor, "image")
    assert all(torch.equal(before[k], after[k]) for k in before if "running" not in k and "num_batches" not in k)


@pytest.mark.slow
def test_l2sp_stays_closer_to_the_start_than_finetune(target_table, source_dir):
    source = _encoder_state(MultimodalPredictor.load(source_dir))
    distance = {}
    for strategy, extra in (("finetune", {"layer_decay": 1.0}), ("l2sp", {"alpha": 50.0})):
        state = _encoder_state(_fit(target_table, source_dir, strategy=strategy, **extra))
        distance[strategy] = sum(float(((state[k] - source[k]) ** 2).sum()) for k in source if "weight" in k)
    assert distance["l2sp"] < distance["finetune"]


def test_distill_adds_a_loss_term(target_table, source_dir):
    predictor = _fit(target_table, source_dir, strategy="distill", temperature=2.0)
    logged = predictor.history_["epochs"][0]
    assert "train/transfer/distill/label" in logged and np.isfinite(logged["train/transfer/distill/label"])


def test_distill_without_a_teacher_is_a_clear_error(target_table):
    with pytest.raises(ConfigError, match="teacher"):
        MultimodalPredictor(label="label").fit(target_table,
                                               hyperparameters=hyperparameters(strategy="distill"))


def test_unknown_strategy_lists_the_known_ones(target_table, source_dir):
    with pytest.raises(ConfigError, match="linear_probe"):
        _fit(target_table, source_dir, strategy="nope")


def test_inputs_limits_a_strategy_to_some_encoders(target_table, source_dir):
    predictor = _fit(target_table, source_dir, strategy="lora", inputs=["image"])
    assert list(predictor.spec_.adapters) == ["image"]
    assert not any("lora_" in n for n, _ in predictor.net_.encoder("tabular").named_parameters())
    with pytest.raises(ConfigError, match="nope"):
        _fit(target_table, source_dir, strategy="finetune", inputs=["nope"])
