"""Reading a saved predictor folder back into a network, with no fit stage.

:func:`load_fitted` verifies the folder's manifest, reads the :class:`~transmodal.saved.spec.ModelSpec`
and the fit config, builds the network once from the spec, re-inserts the adapters the spec lists
(after copying their base weights from the referenced folder, checked by SHA-256), and loads the
saved weights. Nothing in the folder is executed or unpickled. Before anything is built, the sizes
the config declares are bounded, and the weights of frozen pretrained encoders loaded from a local
path are checked against the digests recorded in the manifest at save time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transmodal.config import FitConfig
from transmodal.errors import ConfigError, ModelLoadError
from transmodal.saved.spec import FittedAttributes, ModelSpec

MAX_DIM = 1_000_000  # no size a config declares (width, dimension, vocabulary, classes) exceeds this
MAX_ELEMENTS = 500_000_000  # nor the product of the two largest sizes of one part (2 GB of float32)
NOT_SIZES = ("numeric_stats", "categories", "vocab", "column_types", "classes")  # data, not sizes


@dataclass
class FittedModel(FittedAttributes):
    """A fitted network with what is needed to read tables for it (the learned attributes of a
    fitted ``MultimodalPredictor``, from :class:`~transmodal.saved.spec.FittedAttributes`)."""

    params: dict[str, Any]
    spec_: ModelSpec
    config_: FitConfig
    net_: Any
    history_: dict[str, Any] = field(default_factory=dict)

    def _root(self) -> Path | None:
        root = self.params.get("allowed_root")
        return Path(root) if root is not None else None


def effective_root(caller: str | Path | None, saved: str | Path | None) -> str | None:
    """The folder image/audio paths must stay inside: the caller's, narrowed by the model folder's
    saved root only when that lies inside the caller's (a saved root never widens the caller's)."""
    if caller is None:
        return None if saved is None else str(saved)
    if saved is not None:
        inner, outer = Path(saved).resolve(), Path(caller).resolve()
        if inner == outer or outer in inner.parents:
            return str(saved)
    return str(caller)


def _sizes(tree: Any, where: str):
    """(path, value) of every integer in a JSON tree, skipping data tables (``NOT_SIZES``)."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key not in NOT_SIZES:
                yield from _sizes(value, f"{where}.{key}")
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _sizes(value, f"{where}[{i}]")
    elif isinstance(tree, int) and not isinstance(tree, bool):
        yield where, tree


def check_declared_sizes(saved: dict[str, Any], source: Path) -> None:
    """Refuse a config whose declared sizes would allocate an absurd network, before building it.

    Raises:
        ModelLoadError: an integer setting of the architecture or an encoder exceeds ``MAX_DIM``, the
            two largest of one part multiply beyond ``MAX_ELEMENTS``, or a task has too many classes.
    """
    parts = {"architecture": saved.get("architecture") or {}, "fit_config.fusion_options":
             (saved.get("fit_config") or {}).get("fusion_options") or {}}
    parts.update({f"encoders.{k}": v for k, v in (saved.get("encoders") or {}).items()})
    for part, tree in parts.items():
        sizes = sorted(_sizes(tree, part), key=lambda item: item[1])
        for where, value in sizes:
            if value > MAX_DIM:
                raise ModelLoadError(f"refusing to load {source}: {where} = {value} is larger than {MAX_DIM}")
        if len(sizes) >= 2 and sizes[-1][1] * sizes[-2][1] > MAX_ELEMENTS:
            raise ModelLoadError(f"refusing to load {source}: {sizes[-1][0]} x {sizes[-2][0]} "
                                 f"({sizes[-1][1]} x {sizes[-2][1]}) is more than {MAX_ELEMENTS} elements")
    for task in saved.get("tasks") or []:
        classes = task.get("classes") if isinstance(task, dict) else None
        if isinstance(classes, list) and len(classes) > MAX_DIM:
            raise ModelLoadError(f"refusing to load {source}: task {task.get('name')!r} has {len(classes)} classes")


def reference_path(settings: dict[str, Any]) -> Path | None:
    """The local file or folder a pretrained encoder's weights are read from (a packaged model or a
    path), or None (no checkpoint, or a hub model id)."""
    from transmodal.encoders.hf_loading import resolve_checkpoint

    checkpoint = settings.get("checkpoint")
    if not isinstance(checkpoint, str) or not checkpoint:
        return None
    path = Path(resolve_checkpoint(checkpoint))
    return path if path.exists() else None


def reference_weights(net, names) -> dict[str, dict[str, Any]]:
    """Input name -> ``{"checkpoint", "files"}`` (digests of the weight files) of every frozen encoder
    of ``net`` whose weights are not saved but read from a local path; recorded in the manifest."""
    from transmodal.persistence import reference_digests

    records = {}
    for name in names:
        encoder = net.encoder(name)
        if encoder.frozen and encoder.weights_from_reference:
            path = reference_path(encoder.settings)
            if path is not None:
                records[name] = {"checkpoint": encoder.settings.get("checkpoint"), "files": reference_digests(path)}
    return records


def check_reference_weights(encoders: dict[str, Any], external: dict[str, Any], source: Path) -> None:
    """Check the weights of pretrained encoders read from a path against the manifest's digests.

    Raises:
        ModelLoadError: a recorded encoder is gone from the config, or its weight files changed.
    """
    from transmodal.persistence import reference_digests

    for name, record in external.items():
        settings = encoders.get(name)
        if not isinstance(settings, dict) or not isinstance(record, dict):
            raise ModelLoadError(f"refusing to load {source}: the manifest records weights of encoder {name!r}, "
                                 "which the config does not have")
        try:
            path = reference_path(settings)
        except (ConfigError, ModelLoadError) as err:
            raise ModelLoadError(f"refusing to load {source}: encoder {name!r}: {err}") from None
        now = reference_digests(path) if path is not None else {}
        if now != record.get("files"):
            raise ModelLoadError(f"refusing to load {source}: the pretrained weights of encoder {name!r} "
                                 f"({path or settings.get('checkpoint')}) changed since the model was saved "
                                 "(SHA-256 differs)")


def is_predictor_folder(path: Any) -> bool:
    """True when ``path`` is a saved predictor folder (other folder kinds, such as alignment
    models, have their own readers)."""
    from transmodal.persistence import FORMAT, peek_config

    config = peek_config(path)
    return config is not None and config.get("format") == FORMAT and "tasks" in config


def saved_state(net, spec: ModelSpec) -> dict[str, Any]:
    """The weights a folder holds: the network's, minus frozen encoders that rebuild from a
    pretrained reference and frozen base weights of adapted encoders kept by reference."""
    from transmodal.encoders.adapters import base_keys, unmerged_state
    from transmodal.fusion.base import module_key

    skip = tuple(f"encoders.{module_key(n)}." for n in net.input_names
                 if net.encoder(n).frozen and net.encoder(n).weights_from_reference)
    base = base_keys(net, spec.adapters, spec.base is not None) if spec.adapters else set()
    state = unmerged_state(net, net.state_dict()) if spec.adapters else net.state_dict()
    return {k: v for k, v in state.items() if not k.startswith(skip) and k not in base}


def restore_adapters(net, spec: ModelSpec) -> None:
    """Copy the adapted encoders' base weights (when kept by reference) and re-insert the adapters."""
    from transmodal.encoders.adapters import inject

    if not spec.adapters:
        return
    if spec.base:
        load_base(net, spec.base, list(spec.adapters))
    for name, adapter in spec.adapters.items():
        inject(net.encoder(name), adapter)


def load_base(net, base: dict[str, str], inputs: list[str]) -> None:
    """Copy ``inputs``' encoder weights from the base folder after checking its SHA-256.

    Raises:
        ModelLoadError: the base folder is gone or its weights changed since the adapters were trained.
    """
    import hashlib

    from transmodal.fusion.base import module_key
    from transmodal.persistence import WEIGHTS_FILE, read_regular_file, weights_from_bytes

    weights = Path(base["path"]) / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelLoadError(f"the base model of these adapters is missing: {weights} does not exist")
    data = read_regular_file(weights)  # hashed and loaded from the same bytes
    if hashlib.sha256(data).hexdigest() != base["sha256"]:
        raise ModelLoadError(f"the base model {weights} changed since the adapters were trained (SHA-256 differs)")
    prefixes = tuple(f"encoders.{module_key(n)}." for n in inputs)
    own = net.state_dict()
    state = {k: v for k, v in weights_from_bytes(data, weights).items()
             if k.startswith(prefixes) and k in own and own[k].shape == v.shape}
    net.load_state_dict(state, strict=False)


def load_fitted(path: str | Path, trust_remote_code: bool = False,
                allowed_root: str | Path | None = None) -> FittedModel:
    """Load a predictor folder written by ``MultimodalPredictor.save``.

    Args:
        allowed_root: The folder image/audio paths must stay inside; the folder's saved root only
            narrows it (see :func:`effective_root`).

    Raises:
        ModelLoadError: the folder is incomplete, malformed, tampered with, holds a pickle, declares
            absurd sizes, its weights do not match its spec, or it asks for remote code while
            ``trust_remote_code`` is False (each message names the file).
    """
    from transmodal.persistence import CONFIG_FILE, WEIGHTS_FILE, read_folder, weights_from_bytes

    folder = read_folder(path, weights=True)
    if "ensemble" in folder.config:
        raise ModelLoadError(f"{path} holds an ensemble (fit with presets); load it with "
                             "transmodal.AutoPredictor.load (the CLI commands read either kind)")
    weights = weights_from_bytes(folder.weights, Path(path) / WEIGHTS_FILE)
    return fitted_from_saved(folder.config, folder.manifest.get("external") or {}, weights, Path(path),
                             Path(path) / CONFIG_FILE, trust_remote_code, allowed_root)


def fitted_from_saved(saved: dict[str, Any], external: dict[str, Any], weights: dict[str, Any], path: Path,
                      config_path: Path, trust_remote_code: bool = False,
                      allowed_root: str | Path | None = None) -> FittedModel:
    """Build a fitted model from a saved predictor config and its (verified) weights; the part of
    :func:`load_fitted` after the folder is read (an ensemble's neural members come this way).

    Raises:
        ModelLoadError: see :func:`load_fitted`.
    """
    from transmodal.build import build_net

    weights_path = path / "model.safetensors"
    try:
        for name, settings in saved["encoders"].items():
            if settings.get("trust_remote_code") and not trust_remote_code:
                raise ModelLoadError(f"{path}: encoder {name!r} asks for trust_remote_code, which runs code "
                                     "from its checkpoint; pass trust_remote_code=True only if you trust it")
        check_declared_sizes(saved, config_path)
        spec = ModelSpec.from_dict(saved)
        config = FitConfig.from_dict(saved["fit_config"])
        params = dict(saved["params"])
        params["allowed_root"] = effective_root(allowed_root, params.get("allowed_root"))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, ConfigError) as err:
        raise ModelLoadError(f"{config_path} is malformed: {type(err).__name__}: {err}") from None
    check_reference_weights(spec.encoders, external, config_path)
    try:
        net = build_net(spec, config)
        restore_adapters(net, spec)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, ConfigError, RuntimeError) as err:
        raise ModelLoadError(f"{config_path} does not describe a network that can be built: "
                             f"{type(err).__name__}: {err}") from None
    expected = saved_state(net, spec)
    if set(weights) != set(expected):
        raise ModelLoadError(f"{path}: the weights do not match the configuration "
                             f"(missing {sorted(set(expected) - set(weights))[:5]}, "
                             f"unexpected {sorted(set(weights) - set(expected))[:5]})")
    wrong = [k for k in expected if tuple(expected[k].shape) != tuple(weights[k].shape)]
    if wrong:
        raise ModelLoadError(f"{weights_path}: {wrong[0]!r} has shape {tuple(weights[wrong[0]].shape)}, the "
                             f"configuration needs {tuple(expected[wrong[0]].shape)}")
    net.load_state_dict(weights, strict=False)
    net.eval()
    return FittedModel(params, spec, config, net, saved.get("history", {}))
