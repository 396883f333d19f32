"""The ``multitask`` section of a :class:`~transmodal.config.FitConfig`, parsed and checked."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from transmodal.config import unknown_keys_message
from transmodal.errors import ConfigError


@dataclass
class MultitaskSettings:
    """What ``hyperparameters["multitask"]`` may hold.

    Attributes:
        architecture: A name from the sharing-architecture registry.
        weighting: A name from the loss-weighting registry.
        weights: Fixed per-task loss multipliers applied before the weighting (default 1 each).
        architecture_options: Extra constructor keyword arguments of the architecture.
        weighting_options: Extra constructor keyword arguments of the weighting.
    """

    architecture: str = "hard"
    weighting: str = "equal"
    weights: dict[str, float] = field(default_factory=dict)
    architecture_options: dict[str, Any] = field(default_factory=dict)
    weighting_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, values: dict[str, Any] | None, tasks: list[str] | None = None) -> "MultitaskSettings":
        """Parse the ``multitask`` dict; unknown keys, names and task names raise ConfigError."""
        from transmodal.multitask.architectures.base import ARCHITECTURES
        from transmodal.multitask.weighting.base import WEIGHTINGS

        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(unknown_keys_message(unknown, known, "multitask"))
        settings = cls(**values)
        for name, registry in ((settings.architecture, ARCHITECTURES), (settings.weighting, WEIGHTINGS)):
            if name not in registry:
                raise ConfigError(registry.unknown_message(name, f"multitask {registry.kind}"))
        if tasks is not None:
            strange = sorted(set(settings.weights) - set(tasks))
            if strange:
                raise ConfigError(f"multitask weights name unknown task(s) {strange}; tasks are {tasks}")
        return settings
