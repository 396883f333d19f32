"""Distillation losses: a student matches a teacher's soft labels or its features.

Each is a function returning a dict of named terms, so several can be combined and logged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_label_kl(student_logits: torch.Tensor, teacher_probs: torch.Tensor,
                  temperature: float = 1.0) -> dict[str, torch.Tensor]:
    """Hinton's distillation: ``T^2 KL(teacher_T || student_T)`` averaged over rows.

    Args:
        student_logits: (B, K) raw outputs of the student.
        teacher_probs: (B, K) teacher probabilities (at temperature 1); they are re-sharpened or
            softened to ``temperature`` as ``softmax(log p / T)``.
        temperature: Softening temperature T.

    Returns:
        ``{"distill_kl": loss}``.
    """
    teacher = F.softmax(teacher_probs.clamp_min(1e-8).log() / temperature, dim=-1)  # (B, K)
    student = F.log_softmax(student_logits / temperature, dim=-1)  # (B, K)
    kl = F.kl_div(student, teacher, reduction="batchmean")
    return {"distill_kl": kl * temperature**2}


def feature_regression(student_features: torch.Tensor, teacher_features: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean squared error between (projected) student features and teacher features, both (B, D),
    after L2 normalisation of each row (so the scale of either network does not matter).

    Returns:
        ``{"distill_feature": loss}``.
    """
    student = F.normalize(student_features, dim=-1)
    teacher = F.normalize(teacher_features, dim=-1)
    return {"distill_feature": (student - teacher).pow(2).sum(-1).mean()}
