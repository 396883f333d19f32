"""Unsupervised domain adaptation (dann, coral, mmd), their criteria, and joint source+target training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from transfer_helpers import hyperparameters, source_dir, source_table, target_table  # noqa: F401 (fixtures)
from transmodal.errors import ConfigError
from transmodal.predictor import MultimodalPredictor
from transmodal.transfer.domain import ADAPTATIONS


@pytest.mark.parametrize("name", ["dann", "coral", "mmd"])
def test_criteria_are_small_for_equal_and_large_for_shifted_features(name):
    torch.manual_seed(0)
    criterion = ADAPTATIONS.get(name)(8)
    source = torch.randn(64, 8)
    same = criterion(source, torch.randn(64, 8), 1.0)
    shifted = criterion(source, torch.randn(64, 8) * 3 + 2, 1.0)
    if name == "dann":  # an untrained critic cannot tell the domains apart yet: loss near log 2
        assert abs(float(same) - np.log(2)) < 0.1
        return
    assert float(shifted) > 5 * float(same)


def test_gradient_reversal_flips_the_gradient():
    from transmodal.transfer.dann import GradientReversal

    x = torch.ones(3, requires_grad=True)
    (GradientReversal.apply(x, 0.5) * 2).sum().backward()
    assert torch.allclose(x.grad, torch.full((3,), -1.0))


@pytest.mark.slow
@pytest.mark.parametrize("method,level", [("dann", "fused"), ("coral", "features"), ("mmd", "fused")])
def test_adaptation_fits_with_unlabelled_rows_and_leaves_no_critic(method, level, source_table, target_table, tmp_path):
    unlabelled = pd.read_csv(target_table).drop(columns=["label"])
    unlabelled["image"] = [str(pd.io.common.Path(target_table).parent / p) for p in unlabelled["image"]]
    predictor = MultimodalPredictor(label="label").fit(
        source_table, unlabeled_data=unlabelled, hyperparameters=hyperparameters(adapt=method, adapt_on=level))
    logged = predictor.history_["epochs"][0]
    assert np.isfinite(logged[f"train/adapt/{method}"])
    assert not hasattr(predictor.net_, "domain_adapter")
    folder = predictor.save(tmp_path / "model")
    assert MultimodalPredictor.load(folder).evaluate(target_table)["accuracy"] == \
        pytest.approx(predictor.evaluate(target_table)["accuracy"])


def test_target_entropy_matches_hand_computed_value():
    from types import SimpleNamespace

    from transmodal.transfer.domain import target_entropy

    net = SimpleNamespace(tasks=[SimpleNamespace(name="y", problem_type="multiclass"),
                                 SimpleNamespace(name="r", problem_type="regression")])
    logits = torch.tensor([[0.0, 0.0], [100.0, 0.0]])  # uniform (entropy log 2), certain (entropy 0)
    value = target_entropy(net, {"y": logits, "r": torch.zeros(2, 1)})
    assert float(value) == pytest.approx(np.log(2) / 2, abs=1e-6)
    with pytest.raises(ConfigError, match="entropy_weight"):
        target_entropy(SimpleNamespace(tasks=net.tasks[1:]), {"r": torch.zeros(2, 1)})


def test_pseudo_label_loss_counts_only_confident_rows():
    from types import SimpleNamespace

    import torch.nn.functional as F

    from transmodal.transfer.domain import pseudo_label_loss

    net = SimpleNamespace(tasks=[SimpleNamespace(name="y", problem_type="multiclass")])
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.0, 5.0]], requires_grad=True)
    value = pseudo_label_loss(net, {"y": logits}, threshold=0.9)
    expected = (F.cross_entropy(logits[0:1], torch.tensor([0])) + F.cross_entropy(logits[2:3], torch.tensor([2]))) / 3
    assert float(value) == pytest.approx(float(expected), rel=1e-6)
    value.backward()
    assert torch.all(logits.grad[1] == 0)  # the unsure row gives no gradient


def test_pseudo_label_threshold_out_of_range_is_a_clear_error(source_table, target_table):
    unlabelled = pd.read_csv(target_table).drop(columns=["label"])
    unlabelled["image"] = [str(pd.io.common.Path(target_table).parent / p) for p in unlabelled["image"]]
    with pytest.raises(ConfigError, match="pseudo_label_threshold"):
        MultimodalPredictor(label="label").fit(source_table, unlabeled_data=unlabelled, hyperparameters=hyperparameters(
            adapt="coral", pseudo_label_threshold=1.5))


def test_entropy_term_is_logged_every_epoch(source_table, target_table):
    unlabelled = pd.read_csv(target_table).drop(columns=["label"])
    unlabelled["image"] = [str(pd.io.common.Path(target_table).parent / p) for p in unlabelled["image"]]
    predictor = MultimodalPredictor(label="label").fit(
        source_table, unlabeled_data=unlabelled,
        hyperparameters=hyperparameters(adapt="mmd", entropy_weight=1.0, pseudo_label_threshold=0.5))
    assert all(np.isfinite(e["train/adapt/entropy"]) for e in predictor.history_["epochs"])
    assert all(np.isfinite(e["train/adapt/pseudo_label"]) for e in predictor.history_["epochs"])


def test_adapt_without_unlabelled_rows_is_a_clear_error(source_table):
    with pytest.raises(ConfigError, match="unlabeled_data"):
        MultimodalPredictor(label="label").fit(source_table, hyperparameters=hyperparameters(adapt="dann"))


def test_joint_training_adds_a_source_head_then_drops_it(source_table, target_table):
    source = pd.read_csv(source_table).rename(columns={"label": "kind"})
    source["image"] = [str(pd.io.common.Path(source_table).parent / p) for p in source["image"]]
    predictor = MultimodalPredictor(label="label").fit(
        target_table, source_data=source, source_label="kind", hyperparameters=hyperparameters(**{"lambda": 0.5}))
    logged = predictor.history_["epochs"][0]
    assert "train/task/source:kind" in logged and "train/task/label" in logged
    assert [t.name for t in predictor.tasks_] == ["label"]
    assert predictor.history_["joint_source"]["weights"] == {"label": 0.5, "source:kind": 1.0}
    assert predictor.config_.multitask == {}  # the weights are this fit's, not written into the user's config
    assert predictor.predict(target_table).shape == (36,)



def test_source_rows_annotations_resolve():
    import typing

    from transmodal.data.readers import Table
    from transmodal.heads.task import TaskSpec
    from transmodal.transfer.joint import source_rows

    assert typing.get_type_hints(source_rows)["return"] == tuple[str, Table, TaskSpec]

def test_source_label_without_source_data_is_a_clear_error(target_table):
    with pytest.raises(ConfigError, match="source_data"):
        MultimodalPredictor(label="label").fit(target_table, source_label="x", hyperparameters=hyperparameters())


@pytest.mark.slow
def test_semi_supervised_fit_combines_init_from_joint_source_and_unlabelled_rows(
        source_dir, source_table, target_table):
    """Few labelled target rows, the labelled source table and unlabelled target rows in one fit."""
    source = pd.read_csv(source_table).rename(columns={"label": "kind"})
    source["image"] = [str(pd.io.common.Path(source_table).parent / p) for p in source["image"]]
    target = pd.read_csv(target_table)
    target["image"] = [str(pd.io.common.Path(target_table).parent / p) for p in target["image"]]
    labelled, unlabelled = target.iloc[:9], target.iloc[9:].drop(columns=["label"])
    hp = {**hyperparameters(strategy="finetune", adapt="dann", entropy_weight=0.3), "holdout_fraction": 0.0}
    predictor = MultimodalPredictor(label="label").fit(
        labelled, init_from=str(source_dir), source_data=source, source_label="kind",
        unlabeled_data=unlabelled, hyperparameters=hp)
    logged = predictor.history_["epochs"][-1]
    assert {"train/task/source:kind", "train/task/label", "train/adapt/dann", "train/adapt/entropy"} <= set(logged)
    assert predictor.history_["epoch_selected"] is False  # no holdout: the last epoch is kept
    assert [t.name for t in predictor.tasks_] == ["label"] and not hasattr(predictor.net_, "domain_adapter")
    assert predictor.predict(target).shape == (36,)


def test_joint_training_with_integer_labels_trains_both_tasks(source_table, target_table):
    """Appending source rows makes the target's integer label column float (NaN on source rows):
    its labels must still count."""
    source = pd.read_csv(source_table)
    source["image"] = [str(pd.io.common.Path(source_table).parent / p) for p in source["image"]]
    source["kind"] = source.pop("label").map({"cat": 0, "dog": 1, "eel": 2})
    target = pd.read_csv(target_table)
    target["image"] = [str(pd.io.common.Path(target_table).parent / p) for p in target["image"]]
    target["label"] = target["label"].map({"cat": 0, "dog": 1, "eel": 2})
    predictor = MultimodalPredictor(label="label").fit(
        target, source_data=source, source_label="kind", hyperparameters=hyperparameters())
    logged = predictor.history_["epochs"][0]
    assert logged["train/task/label"] > 0 and logged["train/task/source:kind"] > 0
    assert set(predictor.predict(target)) <= {0, 1, 2}


def test_unknown_adapt_options_are_a_config_error():
    from types import SimpleNamespace

    from transmodal.transfer.domain import build_criterion

    net = SimpleNamespace(fusion=SimpleNamespace(output_dim=8), input_names=[])
    assert build_criterion(net, {"adapt": "mmd"})["fused"] is not None
    with pytest.raises(ConfigError, match="adapt_options"):  # was a raw TypeError from the constructor
        build_criterion(net, {"adapt": "mmd", "adapt_options": {"nonsense": 1}})
