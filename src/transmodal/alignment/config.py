"""The configuration of an alignment fit, saved with the model as JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from transmodal.config import section_from_dict
from transmodal.errors import ConfigError


@dataclass(frozen=True)
class AlignConfig:
    """How towers are built and trained into a shared space.

    ``encoders`` chooses each tower's encoder exactly as ``FitConfig.encoders`` does (a column or a
    modality key; a name or a dict of settings); the default per modality is the core default.
    """

    encoders: dict[str, Any] = field(default_factory=dict)  # column or modality -> encoder spec
    embed_dim: int = 256  # shared-space size when no tower is locked (else the locked tower's size)
    projection: str = "auto"  # "linear", "mlp", or "auto" (mlp over a frozen encoder, else linear)
    dropout: float = 0.1  # inside mlp projections
    init_temperature: float = 0.07
    max_epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 1e-3  # new parts (projections, built-in encoders, temperature)
    encoder_learning_rate: float = 2e-5  # trainable pretrained encoders
    weight_decay: float = 0.05
    warmup_ratio: float = 0.05
    gradient_clip: float | None = 1.0
    patience: int = 6  # epochs without a better tuning MRR before stopping
    holdout_fraction: float = 0.1  # tuning split (by item) when no tuning data is given
    progress_bar: bool = False
    num_workers: int = 0
    # where training runs, as FitConfig: Lightning's accelerator, devices per node (processes under
    # DDP), strategy ("ddp" for several processes), nodes and precision ("bf16-mixed", ...)
    accelerator: str = "cpu"
    devices: int | str = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "AlignConfig":
        """Build from a (partial) dict.

        Raises:
            ConfigError: an unknown key (the valid ones are listed), a value of the wrong type, or
                an unknown ``projection``.
        """
        config = section_from_dict(cls, values, "alignment")
        if config.projection not in ("auto", "linear", "mlp"):
            raise ConfigError(f"projection must be auto, linear or mlp, got {config.projection!r}")
        return config

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy."""
        return dataclasses.asdict(self)
