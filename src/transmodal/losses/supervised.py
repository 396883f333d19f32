"""Cross-entropy, focal, mean-squared-error and binary cross-entropy losses with missing targets."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from transmodal.heads.task import TaskSpec
from transmodal.losses.base import LOSSES


def _zero(outputs: torch.Tensor) -> torch.Tensor:
    return outputs.sum() * 0.0  # keeps the graph connected when a batch has no labelled row


@LOSSES.register("cross_entropy")
class CrossEntropyLoss(nn.Module):
    """Softmax cross-entropy with optional class weights and label smoothing."""

    problem_types = ("binary", "multiclass")

    def __init__(self, task: TaskSpec, class_weights: torch.Tensor | None = None, label_smoothing: float = 0.0, **_) -> None:
        super().__init__()
        self.register_buffer("class_weights", class_weights, persistent=False)
        self.label_smoothing = label_smoothing

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        labelled = targets >= 0  # (B,)
        if not labelled.any():
            return {"loss": _zero(outputs)}
        loss = F.cross_entropy(outputs[labelled], targets[labelled], weight=self.class_weights,
                               label_smoothing=self.label_smoothing)
        return {"loss": loss}


@LOSSES.register("focal")
class FocalLoss(nn.Module):
    """Focal loss (Lin et al., 2017): cross-entropy scaled by (1 - p_true) ** gamma."""

    problem_types = ("binary", "multiclass")

    def __init__(self, task: TaskSpec, class_weights: torch.Tensor | None = None, focal_gamma: float = 2.0, **_) -> None:
        super().__init__()
        self.register_buffer("class_weights", class_weights, persistent=False)
        self.gamma = focal_gamma

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        labelled = targets >= 0
        if not labelled.any():
            return {"loss": _zero(outputs)}
        log_p = F.log_softmax(outputs[labelled], dim=-1)  # (N, K)
        target = targets[labelled]
        log_p_true = log_p.gather(1, target.unsqueeze(1)).squeeze(1)  # (N,)
        loss = -((1 - log_p_true.exp()) ** self.gamma) * log_p_true
        if self.class_weights is not None:
            weight = self.class_weights[target]
            return {"loss": (loss * weight).sum() / weight.sum()}
        return {"loss": loss.mean()}


@LOSSES.register("mse")
class MSELoss(nn.Module):
    """Mean squared error on standardised regression targets."""

    problem_types = ("regression",)

    def __init__(self, task: TaskSpec, **_) -> None:
        super().__init__()

    def error(self, predicted: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean error of the labelled rows' predictions (N,) against their targets (N,)."""
        return F.mse_loss(predicted, targets)

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        # outputs (B, 1), targets (B,) standardised, NaN where missing
        labelled = ~torch.isnan(targets)
        if not labelled.any():
            return {"loss": _zero(outputs)}
        return {"loss": self.error(outputs.squeeze(-1)[labelled], targets[labelled])}


@LOSSES.register("bce")
class MultilabelBCELoss(nn.Module):
    """Binary cross-entropy per label for multilabel tasks (rows with NaN targets ignored)."""

    problem_types = ("multilabel",)

    def __init__(self, task: TaskSpec, **_) -> None:
        super().__init__()

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        labelled = ~torch.isnan(targets).any(dim=-1)
        if not labelled.any():
            return {"loss": _zero(outputs)}
        return {"loss": F.binary_cross_entropy_with_logits(outputs[labelled], targets[labelled])}
