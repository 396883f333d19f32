"""The fusion contract and registry.

A fusion module combines per-input feature vectors into one vector per row::

    fusion = FUSIONS.get(name)(input_dims={"image": 128, "audio": 128}, output_dim=256)
    fused = fusion(features, masks)   # features[name]: (B, D_name), masks[name]: (B,) bool -> (B, 256)

``masks[name][i]`` is False when row ``i`` lacks input ``name``; every fusion must give a valid
output for any pattern of missing inputs (as long as one input is present, and finite output even
when none is). Inputs are always visited in sorted-name order, for determinism.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from transmodal.registry import Registry

FUSIONS: Registry = Registry("fusion", "transmodal.fusion")


class Fusion(nn.Module):
    """Base class: stores the input sizes and a learned placeholder per input.

    Args:
        input_dims: Input name -> feature size.
        output_dim: Size of the fused vector.
        dropout: Dropout rate used inside the fusion.
        **options: Strategy-specific options (from ``hyperparameters["fusion_options"]``).
    """

    def __init__(self, input_dims: dict[str, int], output_dim: int, dropout: float = 0.1, **options: Any) -> None:
        super().__init__()
        self.names = sorted(input_dims)
        self.input_dims = dict(input_dims)
        self.output_dim = output_dim
        self.options = options
        # learned vector that stands in for an absent input
        self.placeholders = nn.ParameterDict(
            {_key(name): nn.Parameter(torch.zeros(input_dims[name])) for name in self.names}
        )

    def fill_missing(self, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Replace the features of absent inputs by the learned placeholder."""
        filled = {}
        for name in self.names:
            present = masks[name].unsqueeze(-1).to(features[name].dtype)  # (B, 1)
            placeholder = self.placeholders[_key(name)].to(features[name].dtype)
            filled[name] = features[name] * present + placeholder * (1 - present)
        return filled

    def forward(self, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError


def fusion_option_names(cls: type) -> list[str]:
    """The ``fusion_options`` a fusion class takes: the keyword parameters of its constructor beyond
    the ones every fusion has."""
    import inspect

    common = {"self", "input_dims", "output_dim", "dropout"}
    return sorted(name for name, p in inspect.signature(cls.__init__).parameters.items()
                  if name not in common and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))


def build_fusion(name: str, input_dims: dict[str, int], output_dim: int, dropout: float,
                 options: dict[str, Any]) -> "Fusion":
    """The fusion ``name`` from the registry, its options checked first.

    Raises:
        ConfigError: an option the fusion does not take (the ones it takes are listed).
    """
    from transmodal.errors import ConfigError

    cls = FUSIONS.get(name)
    unknown = sorted(set(options) - set(fusion_option_names(cls)))
    if unknown:
        raise ConfigError(f"unknown fusion_options {unknown} for fusion {name!r}; "
                          f"it takes {fusion_option_names(cls) or 'none'}")
    return cls(input_dims, output_dim, dropout=dropout, **options)


def _key(name: str) -> str:
    """A ParameterDict/ModuleDict-safe key for an input name (column names may hold dots)."""
    return "m_" + "".join(c if c.isalnum() or c == "_" else f"_{ord(c):x}_" for c in name)


def module_key(name: str) -> str:
    """Public alias of the key mangling used for per-input submodules."""
    return _key(name)


def mlp(input_dim: int, output_dim: int, dropout: float, hidden_dim: int | None = None) -> nn.Sequential:
    """Linear -> GELU -> Dropout -> Linear, the projection most fusions use."""
    hidden_dim = hidden_dim or output_dim
    return nn.Sequential(
        nn.Linear(input_dim, hidden_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden_dim, output_dim)
    )


def fusion_summaries() -> dict[str, str]:
    """Name -> first docstring line of every registered fusion (for ``transmodal fusions``)."""
    return {
        name: (FUSIONS.get(name).__doc__ or "").strip().splitlines()[0]
        for name in FUSIONS.public_names()
    }
