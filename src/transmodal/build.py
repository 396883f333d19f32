"""Building a network from a table's schema, the tasks and a fit configuration."""

from __future__ import annotations

from typing import Any, Collection

import numpy as np

from transmodal.config import FitConfig
from transmodal.data.dataset import TableDataset
from transmodal.data.schema import InputSpec
from transmodal.encoders.base import Encoder, build_encoder, default_encoder_spec, encoder_registry
from transmodal.errors import ConfigError
from transmodal.fusion.base import build_fusion
from transmodal.heads.head import TaskHead
from transmodal.heads.task import TaskSpec
from transmodal.model import MultimodalNet

SAMPLE_ROWS = 512  # image/audio rows decoded to fit data-dependent encoder settings


def encoder_spec(spec: InputSpec, choices: dict[str, Any], last_layer: bool = False) -> dict[str, Any]:
    """The encoder spec of one input: a column key in ``choices`` wins over a modality key, which
    wins over the default.

    Args:
        last_layer: The input's encoder trains (a transfer strategy) or is an alignment tower: the
            default text encoder pools its last layer only (see
            :func:`~transmodal.encoders.base.default_encoder_spec`).
    """
    choice = choices.get(spec.name, choices.get(spec.modality))
    if choice is None:
        resolved = default_encoder_spec(spec.modality, last_layer)
    elif isinstance(choice, str):
        resolved = {"name": choice}
    elif isinstance(choice, dict) and "name" in choice:
        resolved = dict(choice)
    elif isinstance(choice, dict):
        trains = choice.get("frozen") is False
        resolved = {**default_encoder_spec(spec.modality, last_layer or trains), **choice}
        if trains and "quantize" not in choice:
            resolved.pop("quantize", None)  # the default's int8 is for frozen encoders only
    else:
        raise ConfigError(f"encoder for {spec.name!r} must be a name or a dict with 'name', got {choice!r}")
    if resolved["name"] not in encoder_registry(spec.modality):
        registry = encoder_registry(spec.modality)
        raise ConfigError(registry.unknown_message(resolved["name"], f"{spec.modality} encoder for {spec.name!r}"))
    if spec.modality == "tabular":
        resolved["column_types"] = dict(spec.column_types)
    return resolved


def training_items(dataset: TableDataset, spec: InputSpec, seed: int) -> list[Any]:
    """Decoded non-missing items used to fit encoder settings (all rows for text and tabular, a
    random sample for image and audio)."""
    rows = np.arange(len(dataset))
    if spec.modality in ("image", "audio") and len(rows) > SAMPLE_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, SAMPLE_ROWS, replace=False))
    items = (dataset.item(spec, int(r)) for r in rows)
    return [item for item in items if item is not None]


def fit_encoders(dataset: TableDataset, choices: dict[str, Any], seed: int,
                 skip: Collection[str] = frozenset(), last_layer: Collection[str] = frozenset()) -> dict[str, dict[str, Any]]:
    """Input name -> full encoder settings (with ``name``), data-dependent parts learned; inputs in
    ``skip`` (whose settings come from elsewhere, e.g. a source model) are left out; inputs in
    ``last_layer`` (encoders that train, alignment towers) get the default text encoder on its last
    layer only (:func:`encoder_spec`)."""
    settings = {}
    for spec in dataset.inputs:
        if spec.name in skip:
            continue
        resolved = encoder_spec(spec, choices, spec.name in last_layer)
        cls = encoder_registry(spec.modality).get(resolved["name"])
        fitted = cls.fit_settings(training_items(dataset, spec, seed), {k: v for k, v in resolved.items() if k != "name"})
        settings[spec.name] = {"name": resolved["name"], **fitted}
    return settings


def build_net(spec, config: FitConfig) -> MultimodalNet:
    """Instantiate encoders, the fusion and one head per task from a
    :class:`~transmodal.saved.spec.ModelSpec` (inputs, encoder settings, tasks, architecture);
    ``config`` gives dropout, modality dropout and the multi-task sharing."""
    encoders: dict[str, Encoder] = {
        s.name: build_encoder(s.modality, spec.encoders[s.name]) for s in spec.inputs
    }
    architecture = spec.architecture
    fusion = build_fusion(architecture.fusion, {n: e.output_dim for n, e in encoders.items()},
                          architecture.hidden_dim, config.dropout, architecture.fusion_options)
    sharing = build_task_sharing(fusion.output_dim, spec.tasks, config)
    heads = {task.name: TaskHead(sharing.output_dim, task, config.dropout) for task in spec.tasks}
    return MultimodalNet(encoders, fusion, heads, spec.tasks, modality_dropout=config.modality_dropout,
                         sharing=sharing)


def build_task_sharing(input_dim: int, tasks: list[TaskSpec], config: FitConfig):
    """The multi-task sharing architecture of ``config.multitask`` (``hard`` by default)."""
    from transmodal.multitask.architectures.base import build_sharing
    from transmodal.multitask.settings import MultitaskSettings

    settings = MultitaskSettings.from_config(config.multitask, [t.name for t in tasks])
    return build_sharing(settings.architecture, input_dim, [t.name for t in tasks], config.dropout,
                         settings.architecture_options)


def class_weights(tasks: list[TaskSpec], targets: dict[str, np.ndarray], mode: str | None):
    """Task name -> balanced class weights (n / (K * count_k)) as a tensor, or None."""
    import torch

    weights = {}
    for task in tasks:
        if mode != "balanced" or task.problem_type not in ("binary", "multiclass"):
            weights[task.name] = None
            continue
        y = targets[task.name]
        counts = np.bincount(y[y >= 0], minlength=len(task.classes)).astype(np.float64)
        w = counts.sum() / (len(task.classes) * np.maximum(counts, 1))
        weights[task.name] = torch.tensor(w, dtype=torch.float32)
    return weights


def sampler_weights(tasks: list[TaskSpec], targets: dict[str, np.ndarray], mode: str | None):
    """Per-row sampling weights that balance the first classification task's classes, or None."""
    if mode != "balanced":
        return None
    for task in tasks:
        if task.problem_type in ("binary", "multiclass"):
            y = targets[task.name]
            counts = np.bincount(y[y >= 0], minlength=len(task.classes)).astype(np.float64)
            row_weight = np.where(y >= 0, 1.0 / np.maximum(counts[np.maximum(y, 0)], 1), 0.0)
            return row_weight / row_weight.sum()
    raise ConfigError("sampler='balanced' needs a classification task")
