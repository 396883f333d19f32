"""Pretrained aligned models (CLIP, SigLIP, CLAP) mapped onto two table columns, and fine-tuning them.

``AlignmentModel.from_pretrained(path, columns=("image", "caption"))`` builds one ``hf_aligned``
tower per column (:mod:`transmodal.encoders.aligned_hf`: the model's own tower, processor and
projection), no new projection (the towers' outputs are the model's shared space), and the family's
contrastive loss carrying the model's learned temperature: InfoNCE for CLIP and CLAP (CLAP's audio
scale ``logit_scale_a``, the one its audio->text scores use), the sigmoid loss with its bias for
SigLIP. Everything works at once: ``encode``, ``zero_shot``, ``retrieve``, ``evaluate_retrieval``.

``fit`` then fine-tunes on the user's pairs: a tower in ``lock`` stays fixed (LiT), a tower in
``lora`` gets peft adapters (only they train), every other tower trains fully; the temperature
(and SigLIP's bias) train too. Until ``fit`` every tower is frozen, so a saved zero-shot model
holds only the temperature and a reference to the checkpoint.
"""

from __future__ import annotations

from typing import Any, Sequence

from transmodal.errors import ConfigError

FAMILY_LOSS = {"clip": "infonce", "siglip": "siglip", "clap": "infonce"}
SCALE_PARAMETER = {"clip": "logit_scale", "siglip": "logit_scale", "clap": "logit_scale_a"}


def checkpoint_family(name_or_path: str) -> tuple[str, list[str]]:
    """The family of a checkpoint and its towers' modalities in order (the non-text tower first).

    Raises:
        ConfigError: not a CLIP, SigLIP or CLAP checkpoint.
        ModelLoadError: the checkpoint's config cannot be read.
    """
    from transformers import AutoConfig

    from transmodal.encoders.aligned_hf import FAMILIES, model_family
    from transmodal.encoders.hf_loading import load_failed, pretrained_kwargs, resolve_checkpoint

    try:
        config = AutoConfig.from_pretrained(resolve_checkpoint(str(name_or_path)), **pretrained_kwargs(False))
    except (OSError, ValueError) as err:
        raise load_failed("aligned", str(name_or_path), err) from err
    family = model_family(config)
    return family, sorted(FAMILIES[family].towers, key=lambda m: m == "text")


def column_modalities(columns: Sequence[str], towers: list[str], column_types: dict[str, str] | None) -> dict[str, str]:
    """Column -> modality: ``column_types`` where given; the other columns take the remaining towers
    in order (the non-text tower first).

    Raises:
        ConfigError: not two columns, or the modalities are not the model's two towers.
    """
    if len(columns) != 2 or columns[0] == columns[1]:
        raise ConfigError(f"a pretrained aligned model maps onto two distinct columns, got {list(columns)}")
    given = dict(column_types or {})
    remaining = [m for m in towers if m not in {given[c] for c in columns if c in given}]
    types = {c: given[c] if c in given else (remaining.pop(0) if remaining else "?") for c in columns}
    if sorted(types.values()) != sorted(towers):
        raise ConfigError(f"the checkpoint's towers are {towers}, but the columns {list(columns)} are {types}; "
                          "pass column_types={column: modality}")
    return types


def build_pretrained(cls, name_or_path: str, columns: Sequence[str], column_types: dict[str, str] | None = None,
                     lock: Sequence[str] = (), lora: Sequence[str] = (), lora_options: dict[str, Any] | None = None,
                     loss: str | None = None, hyperparameters: dict[str, Any] | None = None, allowed_root=None):
    """An :class:`~transmodal.alignment.model.AlignmentModel` ready to use (see the module docstring)."""
    from transmodal.alignment.config import AlignConfig
    from transmodal.data.schema import InputSpec
    from transmodal.encoders.adapters import adapter_spec

    family, towers = checkpoint_family(name_or_path)
    types = column_modalities(columns, towers, column_types)
    unknown = sorted(set(lora) - set(columns))
    if unknown or set(lora) & set(lock):
        raise ConfigError(f"lora names {list(lora)}: each must be one of the columns {list(columns)} and not locked")
    model = cls(columns=columns, lock=lock, loss=loss or FAMILY_LOSS[family], hyperparameters=hyperparameters,
                column_types=types, allowed_root=allowed_root)
    model._check_columns()
    model.pretrained_ = {"checkpoint": str(name_or_path), "family": family, "lora": list(lora),
                         # the base weights rebuild from the checkpoint, so its norms stay frozen too
                         "lora_options": {**adapter_spec(dict(lora_options or {})), "train_norms": False}}
    model.adapters_ = {}
    model.column_types_ = types
    model.inputs_ = [InputSpec(c, types[c], [c]) for c in model.columns]
    model.encoder_settings_ = {c: {"name": "hf_aligned", "checkpoint": str(name_or_path), "frozen": True}
                               for c in model.columns}
    model.config_ = AlignConfig.from_dict(hyperparameters)
    model.history_ = {}
    model.net_ = model._build()
    set_pretrained_scores(model.net_, family)
    model.net_.eval()
    return model


def set_pretrained_scores(net, family: str) -> None:
    """Copy the checkpoint's log scale (and SigLIP's bias) into the loss module."""
    import torch

    scalars = net.encoder(net.columns[0]).pretrained_scalars
    with torch.no_grad():
        net.loss.log_scale.fill_(scalars[SCALE_PARAMETER[family]])
        if family == "siglip" and hasattr(net.loss, "bias"):
            net.loss.bias.fill_(scalars["logit_bias"])


def prepare_finetuning(model) -> None:
    """Make each tower trainable as planned: locked towers stay frozen, ``lora`` towers get adapters,
    the others train fully; the encoder settings record what is saved."""
    from transmodal.encoders.adapters import inject

    plan = model.pretrained_
    for column in model.columns:
        encoder = model.net_.encoder(column)
        if column in model.lock or column in model.adapters_:
            continue
        if column in plan["lora"]:
            if not inject(encoder, plan["lora_options"]):
                raise ConfigError(f"lora: the {column!r} tower has no layer to adapt")
            model.adapters_[column] = dict(plan["lora_options"])
        else:
            encoder.freeze(False)
            model.encoder_settings_[column] = {**model.encoder_settings_[column], "frozen": False}


def reinsert_adapters(model, adapters: dict[str, dict[str, Any]]) -> None:
    """Put saved adapters back into the rebuilt towers (loading)."""
    from transmodal.encoders.adapters import inject

    for column, spec in adapters.items():
        inject(model.net_.encoder(column), spec)
    model.adapters_ = {c: dict(s) for c, s in adapters.items()}
