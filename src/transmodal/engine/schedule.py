"""Learning-rate schedule: linear warm-up then cosine decay, as a pure function of the step."""

from __future__ import annotations

import math


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, floor: float = 0.0) -> float:
    """Multiplier of the base learning rate at ``step``.

    Rises linearly from 0 to 1 over ``warmup_steps``, then follows a half cosine down to ``floor``
    at ``total_steps``.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
