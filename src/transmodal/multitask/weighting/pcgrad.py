"""``pcgrad``: projecting conflicting gradients (Yu et al., NeurIPS 2020), a gradient surgery."""

from __future__ import annotations

import torch

from transmodal.multitask.weighting.base import WEIGHTINGS, Weighting, task_gradients


def project_conflicts(grads: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """PCGrad: for each task gradient, remove its component along every other task gradient it
    conflicts with (negative dot product), visiting the others in random order; return the sum.

    Args:
        grads: Per-task gradients, (T, P).

    Returns:
        The combined gradient, (P,).
    """
    projected = grads.clone()
    count = grads.shape[0]
    for t in range(count):
        for s in torch.randperm(count, generator=generator).tolist():
            if s == t:
                continue
            dot = projected[t] @ grads[s]
            norm = grads[s] @ grads[s]
            if dot < 0 and norm > 0:
                projected[t] -= dot / norm * grads[s]
    return projected.sum(dim=0)


@WEIGHTINGS.register("pcgrad")
class PCGrad(Weighting):
    """Sums the task losses, but the shared parameters receive the PCGrad-combined gradient.

    It returns the surrogate ``sum_t L_t + sum_p <p, (g_pc - sum_t g_t)_p>`` (the correction
    detached): its gradient is the projected sum ``g_pc`` on the shared parameters and the plain
    sum on each task's own parameters. Each step costs one extra backward pass per task.
    """

    uses_gradients = True

    def combine(self, losses: dict[str, torch.Tensor], shared) -> torch.Tensor:
        total = sum(losses.values())
        if not self.training or not shared or not total.requires_grad:
            return total
        grads = task_gradients(losses, shared)  # (T, P)
        correction = (project_conflicts(grads) - grads.sum(dim=0)).detach()  # (P,)
        offset, surrogate = 0, total
        for p in shared:
            part = correction[offset:offset + p.numel()].view_as(p)
            surrogate = surrogate + (p * part).sum()
            offset += p.numel()
        # same value as the task-loss sum, the surrogate's gradient
        return surrogate - surrogate.detach() + total.detach()
