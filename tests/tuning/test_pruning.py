"""The pruning callback reports the best score so far per epoch and stops the fit when told."""

from __future__ import annotations

from types import SimpleNamespace

import optuna
import pytest
import torch

from transmodal.tuning.pruning import PruneOnScore


class StubTrial:
    def __init__(self, prune_at: int) -> None:
        self.reports: list[tuple[int, float]] = []
        self.prune_at = prune_at

    def report(self, value: float, step: int) -> None:
        self.reports.append((step, value))

    def should_prune(self) -> bool:
        return len(self.reports) > self.prune_at


def trainer(epoch: int, score: float):
    return SimpleNamespace(sanity_checking=False, current_epoch=epoch,
                           callback_metrics={"val_score": torch.tensor(score)})


def test_reports_the_running_best_and_raises_when_pruned():
    trial = StubTrial(prune_at=2)
    callback = PruneOnScore(trial)
    callback.on_validation_end(trainer(0, 0.6), None)
    callback.on_validation_end(trainer(1, 0.5), None)
    with pytest.raises(optuna.TrialPruned, match="after epoch 2"):
        callback.on_validation_end(trainer(2, 0.55), None)
    assert trial.reports == [(0, pytest.approx(0.6)), (1, pytest.approx(0.6)), (2, pytest.approx(0.6))]


def test_sanity_checks_and_missing_scores_are_not_reported():
    trial = StubTrial(prune_at=0)
    callback = PruneOnScore(trial)
    callback.on_validation_end(SimpleNamespace(sanity_checking=True, current_epoch=0,
                                               callback_metrics={"val_score": torch.tensor(0.5)}), None)
    callback.on_validation_end(SimpleNamespace(sanity_checking=False, current_epoch=0, callback_metrics={}), None)
    assert trial.reports == []
