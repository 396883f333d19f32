"""``hard``: hard parameter sharing; every task's head reads the same fused vector."""

from __future__ import annotations

import torch

from transmodal.multitask.architectures.base import ARCHITECTURES, Sharing


@ARCHITECTURES.register("hard")
class HardSharing(Sharing):
    """Shared encoders and fusion, per-task heads (no parameters of its own)."""

    def forward(self, fused: torch.Tensor) -> dict[str, torch.Tensor]:  # (B, H) -> {task: (B, H)}
        return {task: fused for task in self.tasks}
