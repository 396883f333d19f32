"""``gradnorm``: gradient normalisation (Chen et al., ICML 2018)."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.multitask.weighting.base import WEIGHTINGS, Weighting, task_gradients


@WEIGHTINGS.register("gradnorm")
class GradNorm(Weighting):
    """Learns task weights ``w_t`` so that the gradient norms ``G_t = ||grad_W w_t L_t||`` on the
    shared parameters ``W`` follow ``mean(G) * r_t ** alpha``, where ``r_t`` is task t's loss ratio
    ``L_t / L_t(0)`` relative to the mean ratio: tasks that train slower get larger gradients.

    The back-propagated loss is ``sum_t w_t L_t`` (``w`` detached, so it trains the network) plus
    the GradNorm loss ``sum_t |G_t - target_t|`` (which only reaches ``w``). The weights are
    renormalised to sum to the number of tasks before every step.

    Args:
        alpha: Strength of the restoring force towards equal training rates.
        learning_rate: Learning rate of the weights (default: the base rate).
    """

    uses_gradients = True

    def __init__(self, tasks: list[str], weights: dict[str, float] | None = None, alpha: float = 1.5,
                 learning_rate: float | None = None) -> None:
        super().__init__(tasks, weights)
        self.alpha = float(alpha)
        self.learning_rate = learning_rate
        self.task_weights = nn.Parameter(torch.ones(len(self.tasks)))  # (T,)
        self.register_buffer("initial", torch.zeros(len(self.tasks)), persistent=False)  # L_t(0)

    def combine(self, losses: dict[str, torch.Tensor], shared) -> torch.Tensor:
        with torch.no_grad():  # keep sum(w) = T and w > 0
            w = self.task_weights.clamp_min(1e-3)
            self.task_weights.copy_(w * len(self.tasks) / w.sum())
        stacked = torch.stack([losses[t] for t in self.tasks])  # (T,)
        total = (self.task_weights.detach() * stacked).sum()
        if not self.training or not shared:
            return total
        if not bool((self.initial > 0).all()):
            self.initial = torch.where(self.initial > 0, self.initial, stacked.detach().clamp_min(1e-8))
        norms = task_gradients(losses, shared).norm(dim=1)  # (T,)
        grad_norms = self.task_weights * norms  # (T,), differentiable in w only
        ratio = stacked.detach() / self.initial
        target = grad_norms.mean().detach() * (ratio / ratio.mean()) ** self.alpha  # (T,)
        return total + (grad_norms - target).abs().sum()

    def method_weights(self) -> dict[str, float]:
        w = self.task_weights.detach().clamp_min(1e-3)
        return dict(zip(self.tasks, (w * len(self.tasks) / w.sum()).tolist()))
