"""``hyperparameters={"align_weight": w}``: cross-modal alignment as an auxiliary loss in supervised
multimodal training.

Each input's features pass through a small projection into a shared space (an auxiliary module that
trains beside the network and is not part of the saved model); for every pair of inputs, rows that
have both contribute a symmetric InfoNCE term, weighted by ``w`` and averaged over the pairs.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from transmodal.errors import ConfigError
from transmodal.fitting.state import Extension, FitRequest, FitState
from transmodal.fusion.base import module_key

SPACE_DIM = 128


class AlignmentHead(nn.Module):
    """One linear projection per input into the shared space, and the InfoNCE loss."""

    def __init__(self, dims: dict[str, int]) -> None:
        from transmodal.losses.contrastive import InfoNCELoss

        super().__init__()
        self.projections = nn.ModuleDict({module_key(n): nn.Linear(d, SPACE_DIM) for n, d in dims.items()})
        self.loss = InfoNCELoss()


class AlignmentLoss(Extension):
    """Adds the pairwise alignment loss of the inputs' features to supervised training."""

    @classmethod
    def wanted(cls, request: FitRequest) -> bool:
        return float(request.config.align_weight or 0.0) > 0.0

    def attach(self, state: FitState) -> None:
        names = state.net.input_names
        if len(names) < 2:
            raise ConfigError("align_weight needs at least two inputs (e.g. an image and a text column)")
        head = AlignmentHead({n: state.net.encoder(n).output_dim for n in names})
        state.training.modules["auxiliary_alignment"] = head
        state.training.extra_losses.append(AlignmentTerm(head, list(itertools.combinations(names, 2)),
                                                         float(state.config.align_weight)))


class AlignmentTerm:
    """Extra loss ``{"align": w * mean over pairs of InfoNCE}`` on rows that have both inputs."""

    def __init__(self, head: AlignmentHead, pairs: list[tuple[str, str]], weight: float) -> None:
        self.head, self.pairs, self.weight = head, pairs, weight

    def __call__(self, module, batch: dict, out: dict) -> dict[str, torch.Tensor]:
        total = 0.0
        for a, b in self.pairs:
            rows = batch["masks"][a] & batch["masks"][b]  # (B,)
            if rows.sum() < 2:
                continue
            za = F.normalize(self.head.projections[module_key(a)](out["features"][a][rows].float()), dim=-1)  # (R, S)
            zb = F.normalize(self.head.projections[module_key(b)](out["features"][b][rows].float()), dim=-1)  # (R, S)
            total = total + sum(self.head.loss(za, zb).values())
        return {"align": self.weight * total / len(self.pairs)}
