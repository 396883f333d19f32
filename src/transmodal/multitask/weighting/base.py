"""The loss-weighting contract and registry.

A weighting turns the per-task losses of a batch into the loss that is back-propagated::

    weighting = WEIGHTINGS.get(name)(tasks=["a", "b"], weights={"a": 2.0}, **options)
    total = weighting(losses, shared)   # losses: {task: scalar}; shared: the shared parameters

``weights`` are fixed multipliers applied first. A weighting may own parameters (they are added to
the optimizer), may keep statistics updated by :meth:`Weighting.epoch_end`, and may need per-task
gradients of the ``shared`` parameters (gradient methods compute them with ``torch.autograd.grad``
and return a surrogate loss whose gradient is the combined one, so the trainer's ordinary backward
pass, gradient clipping and schedule are kept). :meth:`Weighting.weights` reports the current
per-task multipliers; they are logged every epoch and saved with the model.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from transmodal.errors import ConfigError
from transmodal.registry import Registry

WEIGHTINGS: Registry = Registry("loss weighting", "transmodal.multitask.weighting")


class Weighting(nn.Module):
    """Base class; subclasses implement :meth:`combine` and, if their weights change, :meth:`method_weights`.

    Args:
        tasks: Task names.
        weights: Fixed per-task multipliers (default 1 each).
    """

    learning_rate: float | None = None  # of the weighting's own parameters; None: the base rate
    uses_gradients: bool = False  # True: combine() needs the shared parameters (per-task gradients)

    def __init__(self, tasks: list[str], weights: dict[str, float] | None = None, **options: Any) -> None:
        super().__init__()
        if options:
            raise ConfigError(f"unknown option(s) {sorted(options)} of the {type(self).__name__} weighting")
        self.tasks = list(tasks)
        self.fixed = {t: float((weights or {}).get(t, 1.0)) for t in self.tasks}

    def forward(self, losses: dict[str, torch.Tensor], shared: list[nn.Parameter]) -> torch.Tensor:
        """The loss to back-propagate, from ``{task: scalar loss}`` and the shared parameters."""
        scaled = {t: self.fixed[t] * losses[t] for t in self.tasks}
        return self.combine(scaled, shared)

    def combine(self, losses: dict[str, torch.Tensor], shared: list[nn.Parameter]) -> torch.Tensor:
        raise NotImplementedError

    def method_weights(self) -> dict[str, float]:
        """The method's own current multiplier per task (1 unless the method changes it)."""
        return {t: 1.0 for t in self.tasks}

    def weights(self) -> dict[str, float]:
        """The current total multiplier of each task's loss (fixed times the method's)."""
        own = self.method_weights()
        return {t: self.fixed[t] * own[t] for t in self.tasks}

    def epoch_end(self) -> None:
        """Called after every training epoch (for methods that look at loss histories)."""


def task_gradients(losses: dict[str, torch.Tensor], shared: list[nn.Parameter]) -> torch.Tensor:
    """Per-task gradients of the shared parameters, flattened: (T, P); zeros where a loss does not
    reach a parameter. The graph is kept for the ordinary backward pass that follows."""
    rows = []
    for loss in losses.values():
        grads = torch.autograd.grad(loss, shared, retain_graph=True, allow_unused=True) if loss.requires_grad \
            else [None] * len(shared)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                               for g, p in zip(grads, shared)]))
    return torch.stack(rows)  # (T, P)


def build_weighting(name: str, tasks: list[str], weights: dict[str, float] | None = None,
                    options: dict[str, Any] | None = None) -> Weighting:
    """Instantiate weighting ``name``; unknown options raise ConfigError."""
    cls = WEIGHTINGS.get(name)
    try:
        return cls(tasks, weights=weights, **(options or {}))
    except TypeError as err:
        raise ConfigError(f"bad options for the {name!r} multitask weighting: {err}") from err
