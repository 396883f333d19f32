"""``hyperparameters={"unimodal_loss_weight": w}``: every input alone through the fusion and the heads,
as an extra loss.

With several inputs, a fused model leans on the strongest one and its weaker inputs get little
gradient of their own, so it degrades sharply when the strong input is missing at test time
(modality dropout helps only in the fraction of steps where it hides the strong input). This term
trains, at every step, the exact condition "only input *m* is present": for each input the batch's
rows that have it run through the same fusion (the other inputs masked out, so their learned
placeholders stand in) and the same heads, and the task losses are added with weight ``w``, averaged
over the inputs. It is the per-modality supervision of Gradient-Blending (Wang, Tran and Feiszli,
CVPR 2020) with the model's own heads; nothing is added to the saved model.
"""

from __future__ import annotations

from typing import Any

import torch

from transmodal.errors import ConfigError
from transmodal.fitting.state import Extension, FitRequest, FitState


class UnimodalLoss(Extension):
    """Adds the ``unimodal/<input>`` loss terms to training."""

    @classmethod
    def wanted(cls, request: FitRequest) -> bool:
        return float(request.config.unimodal_loss_weight or 0.0) > 0.0

    def attach(self, state: FitState) -> None:
        if len(state.net.input_names) < 2:
            raise ConfigError("unimodal_loss_weight needs at least two inputs; with one input it is the task loss "
                              "itself (set it to 0)")
        state.training.extra_losses.append(UnimodalTerm(float(state.config.unimodal_loss_weight)))


class UnimodalTerm:
    """Extra loss ``{"unimodal/<input>": w / M * task loss with only that input present}``."""

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def __call__(self, module, batch: dict[str, Any], out: dict[str, Any]) -> dict[str, torch.Tensor]:
        net = module.net
        names = net.input_names
        terms = {}
        for name in names:
            rows = out["masks"][name]  # (B,) bool: present and not hidden by modality dropout
            if not bool(rows.any()):
                continue
            features = {n: f[rows] for n, f in out["features"].items()}  # (R, D_n)
            masks = {n: rows[rows] if n == name else torch.zeros_like(rows[rows]) for n in names}
            _, outputs = net.decide(features, masks)
            targets = {t: v[rows] for t, v in batch["targets"].items()}  # task -> (R,) or (R, K)
            losses = module.task_losses({"targets": targets}, {"outputs": outputs})
            terms[f"unimodal/{name}"] = self.weight / len(names) * sum(losses.values())
        return terms
