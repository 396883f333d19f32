"""``ModelSpec``: everything a fit learned except the weights, saved as ``config.json``.

The configuration a user gives (:class:`~transmodal.config.FitConfig`) says how to fit; the spec says
what came out: the columns and their modalities, the tasks, each input's full encoder settings, the
network's architecture (which a source model may have chosen), and what loading must rebuild around
the weights (adapters inside encoders, base weights kept by reference). A fit never writes into the
config; it fills a spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transmodal.data.schema import InputSpec
from transmodal.heads.task import TaskSpec


@dataclass(frozen=True)
class Architecture:
    """The fusion network between the encoders and the heads.

    Attributes:
        fusion: A name from the fusion registry.
        fusion_options: Extra fusion constructor arguments.
        hidden_dim: Width of the fused representation.
    """

    fusion: str
    fusion_options: dict[str, Any] = field(default_factory=dict)
    hidden_dim: int = 256

    @classmethod
    def of(cls, config) -> "Architecture":
        """The architecture a :class:`~transmodal.config.FitConfig` asks for."""
        return cls(config.fusion, dict(config.fusion_options), int(config.hidden_dim))

    def to_dict(self) -> dict[str, Any]:
        return {"fusion": self.fusion, "fusion_options": dict(self.fusion_options), "hidden_dim": self.hidden_dim}


@dataclass(frozen=True)
class ModelSpec:
    """What a fitted predictor is, apart from its weights.

    Attributes:
        column_types: Column -> modality, for every feature column.
        inputs: The model inputs (one per image/audio/text column, one tabular input).
        tasks: The tasks, in head order.
        encoders: Input name -> full encoder settings (``name`` included).
        architecture: Fusion and width.
        eval_metric: The metric that chose the best epoch.
        adapters: Input name -> peft adapter settings (LoRA/IA3) inserted in that encoder.
        base: ``{"path", "sha256"}`` of the model folder whose weights the adapted encoders start
            from (frozen base weights are loaded from there and not saved again), or None.
    """

    column_types: dict[str, str]
    inputs: list[InputSpec]
    tasks: list[TaskSpec]
    encoders: dict[str, dict[str, Any]]
    architecture: Architecture
    eval_metric: str
    adapters: dict[str, dict[str, Any]] = field(default_factory=dict)
    base: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (the keys of ``config.json``)."""
        return {"column_types": dict(self.column_types), "inputs": [s.to_dict() for s in self.inputs],
                "tasks": [t.to_dict() for t in self.tasks], "encoders": self.encoders,
                "architecture": self.architecture.to_dict(), "eval_metric": self.eval_metric,
                "adapters": self.adapters, "base": self.base}

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> "ModelSpec":
        """Read the spec from a saved ``config.json`` (folders of format version 1, which kept the
        architecture and adapters in the fit config, are read too)."""
        fit_config = saved.get("fit_config", {})
        transfer = fit_config.get("transfer") or {}
        architecture = saved.get("architecture") or {
            "fusion": fit_config.get("fusion", "concat"), "fusion_options": fit_config.get("fusion_options", {}),
            "hidden_dim": fit_config.get("hidden_dim", 256)}
        return cls(column_types=dict(saved["column_types"]), inputs=[InputSpec(**s) for s in saved["inputs"]],
                   tasks=[TaskSpec(**t) for t in saved["tasks"]], encoders=dict(saved["encoders"]),
                   architecture=Architecture(**architecture), eval_metric=saved["eval_metric"],
                   adapters=dict(saved.get("adapters", transfer.get("adapters")) or {}),
                   base=saved.get("base", transfer.get("base")))


class FittedAttributes:
    """The learned attributes of a fitted predictor, read from its ``spec_`` (a :class:`ModelSpec`).

    Shared by ``MultimodalPredictor`` and :class:`~transmodal.saved.loader.FittedModel`, so code that
    reads a source or a teacher model takes either.
    """

    spec_: ModelSpec

    @property
    def inputs_(self) -> list[InputSpec]:
        """The model inputs."""
        return self.spec_.inputs

    @property
    def tasks_(self) -> list[TaskSpec]:
        """The tasks, in head order."""
        return self.spec_.tasks

    @property
    def column_types_(self) -> dict[str, str]:
        """Column -> modality of every feature column."""
        return self.spec_.column_types

    @property
    def encoder_settings_(self) -> dict[str, dict[str, Any]]:
        """Input name -> full encoder settings."""
        return self.spec_.encoders

    @property
    def eval_metric_(self) -> str:
        """The metric that chose the best epoch."""
        return self.spec_.eval_metric
