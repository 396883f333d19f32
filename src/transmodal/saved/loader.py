"""Reading a saved predictor folder back into a network, with no fit stage.

:func:`load_fitted` verifies the folder's manifest, reads the :class:`~transmodal.saved.spec.ModelSpec`
and the fit config, builds the network once from the spec, re-inserts the adapters the spec lists
(after copying their base weights from the referenced folder, checked by SHA-256), and loads the
saved weights. Nothing in the folder is executed or unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transmodal.config import FitConfig
from transmodal.errors import ModelLoadError
from transmodal.saved.spec import ModelSpec

PREDICTOR_FORMAT = "transmodal-model"


@dataclass
class FittedModel:
    """A fitted network with what is needed to read tables for it.

    The attribute names are those of a fitted ``MultimodalPredictor``, so code that reads a source
    or a teacher model takes either.
    """

    params: dict[str, Any]
    spec_: ModelSpec
    config_: FitConfig
    net_: Any
    history_: dict[str, Any] = field(default_factory=dict)

    @property
    def inputs_(self):
        return self.spec_.inputs

    @property
    def tasks_(self):
        return self.spec_.tasks

    @property
    def column_types_(self):
        return self.spec_.column_types

    @property
    def encoder_settings_(self):
        return self.spec_.encoders

    @property
    def eval_metric_(self) -> str:
        return self.spec_.eval_metric

    def _root(self) -> Path | None:
        root = self.params.get("allowed_root")
        return Path(root) if root is not None else None


def is_predictor_folder(path: Any) -> bool:
    """True when ``path`` is a saved predictor folder (other folder kinds, such as alignment
    models, have their own readers)."""
    import json

    config = Path(str(path)) / "config.json"
    if not config.is_file():
        return False
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("format") == PREDICTOR_FORMAT and "tasks" in data


def saved_state(net, spec: ModelSpec) -> dict[str, Any]:
    """The weights a folder holds: the network's, minus frozen encoders that rebuild from a
    pretrained reference and frozen base weights of adapted encoders kept by reference."""
    from transmodal.encoders.adapters import base_keys
    from transmodal.fusion.base import module_key

    skip = tuple(f"encoders.{module_key(n)}." for n in net.input_names
                 if net.encoder(n).frozen and net.encoder(n).weights_from_reference)
    base = base_keys(net, spec.adapters, spec.base is not None) if spec.adapters else set()
    return {k: v for k, v in net.state_dict().items() if not k.startswith(skip) and k not in base}


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
    from transmodal.fusion.base import module_key
    from transmodal.persistence import WEIGHTS_FILE, load_weights, sha256

    weights = Path(base["path"]) / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelLoadError(f"the base model of these adapters is missing: {weights} does not exist")
    if sha256(weights) != base["sha256"]:
        raise ModelLoadError(f"the base model {weights} changed since the adapters were trained (SHA-256 differs)")
    prefixes = tuple(f"encoders.{module_key(n)}." for n in inputs)
    own = net.state_dict()
    state = {k: v for k, v in load_weights(base["path"]).items()
             if k.startswith(prefixes) and k in own and own[k].shape == v.shape}
    net.load_state_dict(state, strict=False)


def load_fitted(path: str | Path, trust_remote_code: bool = False) -> FittedModel:
    """Load a predictor folder written by ``MultimodalPredictor.save``.

    Raises:
        ModelLoadError: the folder is incomplete, tampered with, holds a pickle, its weights do not
            match its spec, or it asks for remote code while ``trust_remote_code`` is False.
    """
    from transmodal.build import build_net
    from transmodal.persistence import load_weights, verify_folder

    saved = verify_folder(path)
    for name, settings in saved["encoders"].items():
        if settings.get("trust_remote_code") and not trust_remote_code:
            raise ModelLoadError(f"{path}: encoder {name!r} asks for trust_remote_code, which runs code "
                                 "from its checkpoint; pass trust_remote_code=True only if you trust it")
    spec = ModelSpec.from_dict(saved)
    config = FitConfig.from_dict(saved["fit_config"])
    net = build_net(spec, config)
    restore_adapters(net, spec)
    weights = load_weights(path)
    expected = saved_state(net, spec)
    if set(weights) != set(expected):
        raise ModelLoadError(f"{path}: the weights do not match the configuration "
                             f"(missing {sorted(set(expected) - set(weights))[:5]}, "
                             f"unexpected {sorted(set(weights) - set(expected))[:5]})")
    net.load_state_dict(weights, strict=False)
    net.eval()
    return FittedModel(dict(saved["params"]), spec, config, net, saved.get("history", {}))
