"""Contrastive losses for shared embedding spaces: symmetric InfoNCE (CLIP) and SigLIP's sigmoid loss.

Both take two batches of L2-normalised embeddings ``a`` (B, D) and ``b`` (B, D) and a boolean
``positives`` (B, B) matrix: ``positives[i, j]`` is True when ``a[i]`` and ``b[j]`` show the same item
(several captions of one image make several positives per row, not only the diagonal). Each comes as
a function and an ``nn.Module`` that owns the learnable temperature (and bias), registered in
``CONTRASTIVE_LOSSES``; calling the module returns a dict of named terms.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from transmodal.registry import Registry

CONTRASTIVE_LOSSES: Registry = Registry("contrastive loss")
MAX_LOGIT_SCALE = 100.0  # CLIP clamps the learned inverse temperature at 100


def positive_mask(*keys: torch.Tensor) -> torch.Tensor:
    """Rows i, j are positives when they agree on any key (B,) -> (B, B) bool; the diagonal always is.

    Args:
        *keys: Integer item ids per row, e.g. the factorised cell values of each column, or an item
            column. Rows sharing an image, or sharing a caption, are then positives of each other.
    """
    size = keys[0].shape[0] if keys else 0
    mask = torch.eye(size, dtype=torch.bool, device=keys[0].device if keys else None)
    for key in keys:
        mask |= key.unsqueeze(0) == key.unsqueeze(1)
    return mask


def infonce_loss(a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor,
                 positives: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Symmetric InfoNCE: cross-entropy of scaled cosine logits against the positives, both ways.

    With several positives in a row the target is uniform over them (for the diagonal only it is
    CLIP's loss exactly).

    Args:
        a, b: L2-normalised embeddings (B, D).
        logit_scale: The inverse temperature (a scalar tensor, already exponentiated and clamped).
        positives: (B, B) bool; the diagonal when None.

    Returns:
        ``{"a_to_b": ..., "b_to_a": ...}``; their mean is CLIP's loss.
    """
    logits = logit_scale * a @ b.t()  # (B, B)
    if positives is None:
        positives = torch.eye(len(a), dtype=torch.bool, device=a.device)
    targets = positives.float()
    a_to_b = -(targets / targets.sum(1, keepdim=True) * F.log_softmax(logits, dim=1)).sum(1).mean()
    targets_t = targets.t()
    b_to_a = -(targets_t / targets_t.sum(1, keepdim=True) * F.log_softmax(logits.t(), dim=1)).sum(1).mean()
    return {"a_to_b": a_to_b / 2, "b_to_a": b_to_a / 2}


def sigmoid_loss(a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor, bias: torch.Tensor,
                 positives: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """SigLIP: an independent binary decision per pair, ``-log sigmoid(z_ij (t a_i.b_j + bias))``
    with ``z_ij = +1`` for positives and ``-1`` otherwise, summed over j and averaged over i.

    Returns:
        ``{"sigmoid": loss}``.
    """
    logits = logit_scale * a @ b.t() + bias  # (B, B)
    if positives is None:
        positives = torch.eye(len(a), dtype=torch.bool, device=a.device)
    signs = positives.float() * 2 - 1
    return {"sigmoid": -F.logsigmoid(signs * logits).sum() / len(a)}


@CONTRASTIVE_LOSSES.register("infonce")
class InfoNCELoss(nn.Module):
    """Symmetric InfoNCE with a learnable temperature (CLIP): ``scale = exp(log_scale)`` clamped at
    100, initialised at 1 / 0.07.

    Args:
        init_temperature: Initial temperature.
        learn_temperature: Train the temperature (else it stays fixed).
    """

    def __init__(self, init_temperature: float = 0.07, learn_temperature: bool = True) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)),
                                      requires_grad=learn_temperature)

    @property
    def scale(self) -> torch.Tensor:
        """The clamped inverse temperature."""
        return self.log_scale.exp().clamp(max=MAX_LOGIT_SCALE)

    def forward(self, a: torch.Tensor, b: torch.Tensor, positives: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return infonce_loss(a, b, self.scale, positives)


@CONTRASTIVE_LOSSES.register("siglip")
class SigLIPLoss(nn.Module):
    """SigLIP's pairwise sigmoid loss with a learnable temperature (init 10) and bias (init -10)."""

    def __init__(self, init_temperature: float = 0.1, init_bias: float = -10.0, learn_temperature: bool = True) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)),
                                      requires_grad=learn_temperature)
        self.bias = nn.Parameter(torch.tensor(float(init_bias)))

    @property
    def scale(self) -> torch.Tensor:
        """The clamped inverse temperature."""
        return self.log_scale.exp().clamp(max=MAX_LOGIT_SCALE)

    def forward(self, a: torch.Tensor, b: torch.Tensor, positives: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return sigmoid_loss(a, b, self.scale, self.bias, positives)
