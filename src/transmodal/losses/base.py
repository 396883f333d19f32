"""The supervised-loss registry.

A loss is an ``nn.Module`` built as ``cls(task, class_weights=None, **options)``; calling it with
``(outputs (B, K), targets)`` returns a dict of named terms whose sum is the task's loss. Rows whose
target is missing (-1, or NaN) are ignored. Its class attribute ``problem_types`` names the task
types it applies to.
"""

from __future__ import annotations

from typing import Any

from transmodal.errors import ConfigError
from transmodal.registry import Registry

LOSSES: Registry = Registry("loss", "transmodal.losses")


def default_loss(problem_type: str) -> str:
    """The loss used for ``loss="auto"``."""
    return {"regression": "mse", "multilabel": "bce"}.get(problem_type, "cross_entropy")


def task_loss_name(choice: str | dict[str, str], task: str, problem_type: str) -> str:
    """The loss of one task under the ``loss`` hyperparameter.

    Args:
        choice: ``"auto"``; a loss name, used by every task whose problem type it applies to (the
            others keep their default, so ``"focal"`` changes only the classification tasks); or a
            dict task -> name (``"auto"`` or absent: the default), where a name that does not apply
            to its task's problem type raises.
        task: The task name.
        problem_type: The task's problem type.

    Raises:
        ConfigError: for an unknown loss name, or a per-task name that does not fit the task.
    """
    name = choice.get(task, "auto") if isinstance(choice, dict) else choice
    if name == "auto":
        return default_loss(problem_type)
    if name not in LOSSES:
        raise ConfigError(LOSSES.unknown_message(name, "loss"))
    applies_to: tuple[str, ...] = getattr(LOSSES.get(name), "problem_types", ())
    if problem_type in applies_to:
        return name
    if isinstance(choice, dict):
        raise ConfigError(f"loss {name!r} does not apply to the {problem_type} task {task!r}; "
                          f"it applies to {list(applies_to)}")
    return default_loss(problem_type)


def check_loss_choice(choice: Any, tasks: list) -> None:
    """Raise ConfigError unless ``loss`` names a loss for every task of ``tasks`` (TaskSpecs): a name
    or a dict naming known tasks, each resolving as in :func:`task_loss_name`."""
    if not isinstance(choice, (str, dict)):
        raise ConfigError(f"loss must be a loss name or a dict task -> loss name, got {choice!r}")
    names = [t.name for t in tasks]
    unknown = sorted(set(choice) - set(names)) if isinstance(choice, dict) else []
    if unknown:
        raise ConfigError(f"loss names unknown task(s) {unknown}; tasks are {names}")
    for task in tasks:
        task_loss_name(choice, task.name, task.problem_type)
