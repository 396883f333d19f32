"""Starting a fit from a saved predictor: its encoders and fusion, and its head when it fits.

The new network is built with the *source's* encoder settings for every input the two tables share
(same column name and modality), so a source trained on 28x28 grey digits reads 16x16 target
images through its own image processor (resized to 28x28, converted to grey). Weights are copied
where names and shapes match; a head is copied only for a task with the same name, problem type and
classes, so a different label set gets a new head while the encoders keep their weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transmodal.errors import ConfigError

PREDICTOR_FORMAT = "transmodal-model"


def is_predictor_folder(path: str | Path) -> bool:
    """True when ``path`` is a saved predictor folder (``config.json`` with the predictor format);
    other folder kinds (alignment models, ...) are left to their own hooks."""
    config = Path(path) / "config.json"
    if not config.is_file():
        return False
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("format") == PREDICTOR_FORMAT and "tasks" in data


def load_source(source: Any):
    """A fitted :class:`MultimodalPredictor` from a predictor object or a saved folder, or None when
    ``source`` is a folder of another kind.

    Raises:
        ConfigError: the folder does not exist, or the object is not a fitted predictor.
    """
    from transmodal.predictor import MultimodalPredictor

    if isinstance(source, MultimodalPredictor):
        if not hasattr(source, "net_"):
            raise ConfigError("init_from/teacher: the predictor is not fitted")
        return source
    if not isinstance(source, (str, Path)):
        raise ConfigError(f"init_from/teacher must be a model folder or a MultimodalPredictor, got {type(source).__name__}")
    if not Path(source).is_dir():
        raise ConfigError(f"init_from/teacher: model folder {source} does not exist")
    if not is_predictor_folder(source):
        return None
    return MultimodalPredictor.load(source)


def shared_inputs(target_inputs, source) -> list[str]:
    """Names of inputs present in both with the same modality (and the same tabular columns)."""
    by_name = {spec.name: spec for spec in source.inputs_}
    shared = []
    for spec in target_inputs:
        other = by_name.get(spec.name)
        if other is not None and other.modality == spec.modality and dict(other.column_types) == dict(spec.column_types):
            shared.append(spec.name)
    return shared


def same_task(a, b) -> bool:
    """Whether two task specs predict the same thing (so a head can be reused)."""
    return a.name == b.name and a.problem_type == b.problem_type and list(a.classes or []) == list(b.classes or [])


def transplant(ctx, source) -> dict[str, Any]:
    """Rebuild ``ctx.net`` with the source's encoder settings and fusion, and copy its weights.

    Returns:
        A summary: ``{"inputs": [...], "heads": [...], "copied": n_tensors}``.
    """
    from transmodal.build import build_net

    predictor, config = ctx.predictor, ctx.config
    shared = shared_inputs(predictor.inputs_, source)
    if not shared:
        raise ConfigError("init_from: the source predictor shares no input column with this table "
                          f"(source inputs {[s.name for s in source.inputs_]})")
    settings = {name: dict(s) for name, s in predictor.encoder_settings_.items()}
    for name in shared:
        settings[name] = dict(source.encoder_settings_[name])
    config.fusion, config.hidden_dim = source.config_.fusion, source.config_.hidden_dim
    config.fusion_options = dict(source.config_.fusion_options)
    net = build_net(predictor.inputs_, settings, predictor.tasks_, config)
    predictor.encoder_settings_ = settings
    heads = [t.name for t in predictor.tasks_ if any(same_task(t, s) for s in source.tasks_)]
    state = copy_state(net, source.net_, shared, heads)
    ctx.net = net
    return {"inputs": shared, "heads": heads, "copied": len(state)}


def copy_state(net, source_net, inputs: list[str], heads: list[str]) -> dict[str, Any]:
    """Copy the source's tensors of ``inputs``' encoders, the fusion and ``heads`` into ``net``
    where the name and the shape match; returns what was copied."""
    from transmodal.fusion.base import module_key

    prefixes = tuple(f"encoders.{module_key(n)}." for n in inputs) + ("fusion.",) + \
        tuple(f"heads.{module_key(n)}." for n in heads)
    own = net.state_dict()
    state = {k: v for k, v in source_net.state_dict().items()
             if k.startswith(prefixes) and k in own and own[k].shape == v.shape}
    net.load_state_dict(state, strict=False)
    return state
