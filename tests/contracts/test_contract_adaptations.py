"""Contract of every registered domain adaptation (``transfer.domain.ADAPTATIONS``).

A criterion built from the feature size maps source (B, D) and target (B', D) features and the
training progress to a finite scalar whose gradient reaches the source features. Chosen by name in
a fit through the public API (``unlabeled_data=`` target rows, ``transfer.adapt=NAME``), it trains
(its term is logged every epoch), and the saved model holds exactly the weights of a fit without
adaptation (no critic or criterion left), and reloads to the same predictions.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contracttools import assert_reloads_identically, saved_config, saved_weight_names, tiny_hyperparameters
from transmodal.transfer.domain import ADAPTATIONS


def test_registry_is_not_empty():
    assert ADAPTATIONS.names(), "no domain adaptation is registered"


@pytest.mark.parametrize("name", ADAPTATIONS.names())
@pytest.mark.parametrize("progress", [0.0, 0.5, 1.0])
def test_criterion_is_a_finite_scalar_with_gradient(name, progress):
    torch.manual_seed(0)
    criterion = ADAPTATIONS.get(name)(8)
    source = torch.randn(16, 8, requires_grad=True)
    target = (torch.randn(12, 8) * 2 + 1).requires_grad_(True)  # another batch size, shifted
    loss = criterion(source, target, progress)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert source.grad is not None and torch.isfinite(source.grad).all()
    assert target.grad is not None and torch.isfinite(target.grad).all()
    if progress > 0:
        assert source.grad.abs().sum() > 0


@pytest.fixture(scope="module")
def plain_weights(source_table, tmp_path_factory):
    """Weight names of the same fit without adaptation."""
    from transmodal.predictor import MultimodalPredictor

    folder = tmp_path_factory.mktemp("contract_plain") / "model"
    MultimodalPredictor(label="label").fit(source_table, hyperparameters=tiny_hyperparameters(), seed=0).save(folder)
    return saved_weight_names(folder)


@pytest.mark.slow
@pytest.mark.parametrize("name", ADAPTATIONS.names())
def test_fits_with_unlabelled_rows_and_leaves_nothing_behind(name, source_table, target_table,
                                                             unlabelled_target, plain_weights, tmp_path):
    from transmodal.predictor import MultimodalPredictor

    predictor = MultimodalPredictor(label="label").fit(
        source_table, unlabeled_data=unlabelled_target.iloc[:16],
        hyperparameters=tiny_hyperparameters(transfer={"adapt": name}), seed=0)
    assert all(np.isfinite(epoch[f"train/adapt/{name}"]) for epoch in predictor.history_["epochs"])
    folder = predictor.save(tmp_path / "model")
    assert saved_config(folder)["fit_config"]["transfer"]["adapt"] == name
    assert saved_weight_names(folder) == plain_weights
    assert_reloads_identically(predictor, folder, target_table)
