"""An :class:`~transmodal.alignment.model.AlignmentModel`'s model folder: which weights are saved,
writing the folder and reading it back (``AlignmentModel.save``, ``.load`` and ``.saved_state``
call these).

A folder holds ``config.json`` (kind ``alignment``: the model's parameters, column types, encoder
settings, :class:`~transmodal.alignment.config.AlignConfig`, history, pretrained source and
adapters), the weights (safetensors) minus what rebuilds from a pretrained reference, a manifest
with the digests of those references, ``metrics.csv`` and ``fit.log``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transmodal.alignment.config import AlignConfig
from transmodal.data.schema import InputSpec
from transmodal.errors import ConfigError, ModelLoadError

KIND = "alignment"
FORMAT_VERSION = 1


def saved_state(model, copy_base: bool = False) -> dict[str, Any]:
    """``model``'s weights, minus what rebuilds from a pretrained reference: frozen pretrained
    encoders and the frozen base weights of towers with adapters (all kept when ``copy_base``)."""
    from transmodal.fusion.base import module_key

    state = model.net_.state_dict()
    skip: set[str] = set()
    adapters = getattr(model, "adapters_", {})
    for column in model.columns:
        encoder = model.net_.encoder(column)
        copied = copy_base and "load_weights" in type(encoder).DEFAULTS  # hf_aligned towers can rebuild empty
        if copied or not encoder.weights_from_reference or not encoder.settings.get("load_weights", True):
            continue
        prefix = f"towers.{module_key(column)}.encoder."
        if column in adapters:
            skip |= {prefix + k for k, p in encoder.named_parameters() if not p.requires_grad}
        elif encoder.frozen:
            skip |= {k for k in state if k.startswith(prefix)}
    return {k: v for k, v in state.items() if k not in skip}


def save_model(model, path: str | Path, base_weights: str = "reference") -> Path:
    """Write fitted ``model``'s folder (see ``AlignmentModel.save``); returns its path.

    Raises:
        ConfigError: ``base_weights`` is neither ``reference`` nor ``copy``, or ``path`` is not a
            folder transmodal may write.
    """
    from transmodal.persistence import reference_digests, save_folder
    from transmodal.saved.loader import reference_path

    if base_weights not in ("reference", "copy"):
        raise ConfigError(f"base_weights must be 'reference' or 'copy', got {base_weights!r}")
    copy = base_weights == "copy"
    encoders = {c: {**s, "load_weights": False} if copy and s.get("name") == "hf_aligned" else dict(s)
                for c, s in model.encoder_settings_.items()}
    config = {"kind": KIND, "version": FORMAT_VERSION, "params": model.get_params(),
              "column_types": model.column_types_, "encoders": encoders,
              "align_config": model.config_.to_dict(), "history": getattr(model, "history_", {}),
              "pretrained": getattr(model, "pretrained_", None), "adapters": getattr(model, "adapters_", {})}
    external = {}
    state = model.saved_state(copy_base=copy)
    for column in model.columns:
        encoder = model.net_.encoder(column)
        if not encoder.weights_from_reference or not (encoder.frozen or column in config["adapters"]) \
                or not encoders[column].get("load_weights", True):
            continue
        source = reference_path(encoder.settings)
        if source is not None:
            external[column] = {"checkpoint": encoder.settings.get("checkpoint"), "files": reference_digests(source)}
    return save_folder(path, config, state, extra=lambda folder: write_run_files(model, folder), external=external)


def write_run_files(model, folder: Path) -> None:
    """``metrics.csv`` (one row per epoch) and, for the model that ran the fit, ``fit.log``."""
    from transmodal.engine.run_log import METRICS_CSV, write_fit_log, write_metrics_csv

    write_metrics_csv(getattr(model, "history_", {}).get("epochs") or [], folder / METRICS_CSV)
    if getattr(model, "fit_log_", None) is not None:
        write_fit_log(model.fit_log_, folder)


def load_model(cls, path: str | Path):
    """An instance of ``cls`` (``AlignmentModel``) from a folder written by :func:`save_model`
    (verifies the manifest first).

    Raises:
        ModelLoadError: not an alignment model folder, or its weights do not match.
    """
    from transmodal.persistence import CONFIG_FILE, WEIGHTS_FILE, read_folder, weights_from_bytes
    from transmodal.saved.loader import check_declared_sizes, check_reference_weights

    folder = read_folder(path, weights=True)
    config, config_path = folder.config, Path(path) / CONFIG_FILE
    if config.get("kind") != KIND:
        raise ModelLoadError(f"{path} is not an alignment model folder (kind {config.get('kind')!r})")
    try:
        for name, settings in config["encoders"].items():
            if settings.get("trust_remote_code"):
                raise ModelLoadError(f"{path}: encoder {name!r} asks for trust_remote_code; refused")
        check_declared_sizes(config, config_path)
        check_reference_weights(config["encoders"], folder.manifest.get("external") or {}, config_path)
        model = cls(**config["params"])
        model.column_types_ = config["column_types"]
        model.inputs_ = [InputSpec(c, model.column_types_[c], [c]) for c in model.columns]
        model.encoder_settings_ = config["encoders"]
        model.config_ = AlignConfig.from_dict(config["align_config"])
        model.history_ = config.get("history", {})
        if config.get("pretrained"):
            model.pretrained_ = dict(config["pretrained"])
        weights = weights_from_bytes(folder.weights, Path(path) / WEIGHTS_FILE)
        model.net_ = model._build()
        model.adapters_ = {}
        if config.get("adapters"):
            from transmodal.alignment.pretrained import reinsert_adapters

            reinsert_adapters(model, config["adapters"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, ConfigError, RuntimeError) as err:
        raise ModelLoadError(f"{config_path} is malformed: {type(err).__name__}: {err}") from None
    expected = model.saved_state()
    if set(weights) != set(expected) or any(weights[k].shape != v.shape for k, v in expected.items()):
        raise ModelLoadError(f"{path}: the weights do not match the configuration")
    model.net_.load_state_dict(weights, strict=False)
    model.net_.eval()
    return model


def is_alignment_folder(path: Any) -> bool:
    """True when ``path`` is a folder whose config.json says it holds an alignment model."""
    from transmodal.persistence import peek_config

    config = peek_config(path)
    return config is not None and config.get("kind") == KIND
