"""``hyperparameters={"align_weight": w}``: cross-modal alignment as an auxiliary loss in supervised
multimodal training.

Each input's features pass through a small projection into a shared space (temporary modules, not
part of the saved model); for every pair of inputs, rows that have both contribute a symmetric
InfoNCE term, weighted by ``w`` and averaged over the pairs.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from transmodal.errors import ConfigError
from transmodal.fitting import FIT_HOOKS, FitContext, FitHook
from transmodal.fusion.base import module_key

MODULE = "auxiliary_alignment"  # temporary submodule of the net
SPACE_DIM = 128


class _AlignmentHead(nn.Module):
    def __init__(self, dims: dict[str, int]) -> None:
        from transmodal.losses.contrastive import InfoNCELoss

        super().__init__()
        self.projections = nn.ModuleDict({module_key(n): nn.Linear(d, SPACE_DIM) for n, d in dims.items()})
        self.loss = InfoNCELoss()


@FIT_HOOKS.register("align_weight")
class AlignmentLossHook(FitHook):
    """Adds the pairwise alignment loss of the inputs' features to supervised training."""

    def active(self, ctx: FitContext) -> bool:
        return float(ctx.config.align_weight or 0.0) > 0.0

    def on_net(self, ctx: FitContext) -> None:
        names = ctx.net.input_names
        if len(names) < 2:
            raise ConfigError("align_weight needs at least two inputs (e.g. an image and a text column)")
        ctx.net.add_module(MODULE, _AlignmentHead({n: ctx.net.encoder(n).output_dim for n in names}))
        ctx.extra_losses.append(_AlignmentTerm(list(itertools.combinations(names, 2)), float(ctx.config.align_weight)))

    def after_fit(self, ctx: FitContext) -> None:
        if hasattr(ctx.net, MODULE):
            delattr(ctx.net, MODULE)


class _AlignmentTerm:
    """Extra loss ``{"align": w * mean over pairs of InfoNCE}`` on rows that have both inputs."""

    def __init__(self, pairs: list[tuple[str, str]], weight: float) -> None:
        self.pairs, self.weight = pairs, weight

    def __call__(self, module, batch: dict, out: dict) -> dict[str, torch.Tensor]:
        head = getattr(module.net, MODULE)
        total = 0.0
        for a, b in self.pairs:
            rows = batch["masks"][a] & batch["masks"][b]  # (B,)
            if rows.sum() < 2:
                continue
            za = F.normalize(head.projections[module_key(a)](out["features"][a][rows].float()), dim=-1)
            zb = F.normalize(head.projections[module_key(b)](out["features"][b][rows].float()), dim=-1)
            total = total + sum(head.loss(za, zb).values())
        return {"align": self.weight * total / len(self.pairs)}
