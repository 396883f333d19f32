"""The multimodal network: per-input encoders, a fusion module and per-task heads."""

from __future__ import annotations

import torch
from torch import nn

from transmodal.encoders.base import Encoder
from transmodal.fusion.base import Fusion, module_key
from transmodal.heads.task import TaskSpec


class MultimodalNet(nn.Module):
    """Encoders -> fusion -> heads.

    Args:
        encoders: Input name -> encoder.
        fusion: Combines the encoders' features into one vector per row.
        heads: Task name -> head module.
        tasks: The task specs, in head order.
        modality_dropout: Probability of hiding each present input of a row while training (one
            present input per row is always kept).
        sharing: Maps the fused vector to one vector per task (a multi-task sharing architecture,
            see ``transmodal.multitask.architectures``); None feeds the fused vector to every head.
    """

    def __init__(self, encoders: dict[str, Encoder], fusion: Fusion, heads: dict[str, nn.Module],
                 tasks: list[TaskSpec], modality_dropout: float = 0.0, sharing: nn.Module | None = None) -> None:
        super().__init__()
        self.input_names = sorted(encoders)
        self.encoders = nn.ModuleDict({module_key(n): encoders[n] for n in self.input_names})
        self.fusion = fusion
        self.heads = nn.ModuleDict({module_key(t.name): heads[t.name] for t in tasks})
        self.tasks = list(tasks)
        self.modality_dropout = modality_dropout
        self.sharing = sharing

    def encoder(self, name: str) -> Encoder:
        """The encoder of input ``name``."""
        return self.encoders[module_key(name)]

    def encode(self, inputs: dict[str, dict[str, torch.Tensor]],
               given: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Per-input features (B, D_name); ``given`` supplies precomputed (cached) ones."""
        features = dict(given or {})
        for name in self.input_names:
            if name not in features:
                features[name] = self.encoder(name)(inputs[name])
        return features

    def drop_modalities(self, masks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Hide present inputs at random (training only), keeping at least one per row."""
        if not self.training or self.modality_dropout <= 0 or len(self.input_names) < 2:
            return masks
        present = torch.stack([masks[n] for n in self.input_names], dim=1)  # (B, M)
        keep = torch.rand(present.shape, device=present.device) >= self.modality_dropout
        kept = present & keep
        # rows that lost every input keep one of their present inputs at random
        empty = ~kept.any(dim=1) & present.any(dim=1)
        if empty.any():
            scores = torch.rand(present.shape, device=present.device) * present
            choice = torch.nn.functional.one_hot(scores.argmax(dim=1), present.shape[1]).bool()
            kept = torch.where(empty.unsqueeze(1), choice & present, kept)
        return {n: kept[:, i] for i, n in enumerate(self.input_names)}

    def forward(self, inputs: dict[str, dict[str, torch.Tensor]], masks: dict[str, torch.Tensor],
                features: dict[str, torch.Tensor] | None = None) -> dict[str, object]:
        """Returns ``{"features": per-input features, "embedding": (B, H), "outputs": {task: (B, K)}}``."""
        features = self.encode(inputs, features)
        masks = self.drop_modalities(masks)
        fused, outputs = self.decide(features, masks)
        return {"features": features, "masks": masks, "embedding": fused, "outputs": outputs}

    def decide(self, features: dict[str, torch.Tensor],
               masks: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Fusion, sharing and heads on given features: ``(fused (B, H), {task: outputs (B, K)})``."""
        fused = self.fusion(features, masks)  # (B, H)
        return fused, self.head_outputs(fused)

    def head_outputs(self, fused: torch.Tensor) -> dict[str, torch.Tensor]:
        """Sharing and heads on a fused vector (B, H): ``{task: outputs (B, K)}``."""
        per_task = self.sharing(fused) if self.sharing is not None else {t.name: fused for t in self.tasks}
        return {t.name: self.heads[module_key(t.name)](per_task[t.name]) for t in self.tasks}


def outputs_to_scores(outputs: torch.Tensor, task: TaskSpec) -> torch.Tensor:
    """Head outputs -> class probabilities (B, K), label probabilities, or de-standardised values (B,)."""
    if task.problem_type == "regression":
        return outputs.squeeze(-1) * task.target_std + task.target_mean
    if task.problem_type == "multilabel":
        return torch.sigmoid(outputs)
    return torch.softmax(outputs, dim=-1)
