"""The supervised-loss registry.

A loss is an ``nn.Module`` built as ``cls(task, class_weights=None, **options)``; calling it with
``(outputs (B, K), targets)`` returns a dict of named terms whose sum is the task's loss. Rows whose
target is missing (-1, or NaN) are ignored.
"""

from __future__ import annotations

from transmodal.registry import Registry

LOSSES: Registry = Registry("loss", "transmodal.losses")


def default_loss(problem_type: str) -> str:
    """The loss used for ``loss="auto"``."""
    return {"regression": "mse", "multilabel": "bce"}.get(problem_type, "cross_entropy")
