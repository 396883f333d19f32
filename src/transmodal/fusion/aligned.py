"""``aligned`` fusion: inputs that live in one shared (aligned) embedding space.

Each input is projected into the space (``identity``: it already is, as a pretrained CLIP tower's
output; ``linear`` or ``mlp``: the projection of a tower trained by ``AlignmentModel``), L2-normalised,
averaged over the inputs present in the row and normalised again. The head on top then scores scaled
cosine similarities: the zero-shot predictor (``MultimodalPredictor.from_zero_shot``) puts the class
prompts' embeddings, times the model's logit scale, in that head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from transmodal.errors import ConfigError
from transmodal.fusion.base import FUSIONS, Fusion, mlp, module_key

PROJECTIONS = ("identity", "linear", "mlp")


def shared_projection(kind: str, input_dim: int, output_dim: int, dropout: float) -> nn.Module:
    """The projection of one input into the shared space, built as an alignment tower builds it
    (:class:`transmodal.encoders.projection.Tower`), so that a tower's weights load into it."""
    if kind == "identity":
        if input_dim != output_dim:
            raise ConfigError(f"an identity projection needs the input size {input_dim} to equal the space size {output_dim}")
        return nn.Identity()
    if kind == "linear":
        return nn.Linear(input_dim, output_dim)
    if kind == "mlp":
        return mlp(input_dim, output_dim, dropout, hidden_dim=max(output_dim, 512))
    raise ConfigError(f"aligned fusion projection must be one of {list(PROJECTIONS)}, got {kind!r}")


@FUSIONS.register("aligned")
class AlignedFusion(Fusion):
    """Inputs in one shared space: projected, normalised, averaged over present inputs, normalised.

    Options:
        projection: ``identity``, ``linear`` (default) or ``mlp``, for every input.
        projection_dropout: Dropout inside an ``mlp`` projection (default 0.1).
    """

    def __init__(self, input_dims: dict[str, int], output_dim: int, dropout: float = 0.1, *,
                 projection: str = "linear", projection_dropout: float = 0.1) -> None:
        super().__init__(input_dims, output_dim, dropout, projection=projection, projection_dropout=projection_dropout)
        self.projections = nn.ModuleDict({module_key(n): shared_projection(projection, input_dims[n], output_dim,
                                                                           float(projection_dropout))
                                          for n in self.names})

    def projection(self, name: str) -> nn.Module:
        """The projection of input ``name``."""
        return self.projections[module_key(name)]

    def forward(self, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> torch.Tensor:
        total = None
        for name in self.names:
            present = masks[name].unsqueeze(-1)  # (B, 1)
            embedded = F.normalize(self.projection(name)(features[name]), dim=-1)  # (B, D)
            embedded = torch.where(present, embedded, torch.zeros_like(embedded))
            total = embedded if total is None else total + embedded
        return F.normalize(total, dim=-1)  # (B, D); zeros for a row with no input
