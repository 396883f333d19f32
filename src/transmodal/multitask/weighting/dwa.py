"""``dwa``: dynamic weight average (Liu, Johns and Davison, CVPR 2019)."""

from __future__ import annotations

import torch

from transmodal.multitask.weighting.base import WEIGHTINGS, Weighting


@WEIGHTINGS.register("dwa")
class DynamicWeightAverage(Weighting):
    """Weights ``T * softmax(r / temperature)`` with ``r_t = L_t(e-1) / L_t(e-2)``, the ratio of a
    task's mean training loss in the last two epochs: tasks that stopped improving get more weight.
    The first two epochs use weight 1.

    Args:
        temperature: Softmax temperature; larger means more uniform weights.
    """

    def __init__(self, tasks: list[str], weights: dict[str, float] | None = None, temperature: float = 2.0) -> None:
        super().__init__(tasks, weights)
        self.temperature = float(temperature)
        self.history: list[list[float]] = []  # mean loss per task, per finished epoch
        self._sums = torch.zeros(len(self.tasks), dtype=torch.float64)
        self._batches = 0
        self._weights = torch.ones(len(self.tasks))

    def combine(self, losses: dict[str, torch.Tensor], shared) -> torch.Tensor:
        stacked = torch.stack([losses[t] for t in self.tasks])  # (T,)
        if self.training:
            self._sums += stacked.detach().double().cpu()
            self._batches += 1
        return (self._weights.to(stacked) * stacked).sum()

    def epoch_end(self) -> None:
        if self._batches:
            self.history.append((self._sums / self._batches).tolist())
        self._sums.zero_()
        self._batches = 0
        if len(self.history) >= 2:
            last, before = torch.tensor(self.history[-1]), torch.tensor(self.history[-2])
            ratio = last / before.clamp_min(1e-12)  # (T,)
            self._weights = len(self.tasks) * torch.softmax(ratio / self.temperature, dim=0)

    def method_weights(self) -> dict[str, float]:
        return dict(zip(self.tasks, self._weights.tolist()))
