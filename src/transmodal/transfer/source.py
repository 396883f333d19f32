"""Starting a fit from a saved predictor: its encoders and fusion, and its head when it fits.

The new network is built with the *source's* encoder settings for every input the two tables share
(same column name and modality), so a source trained on 28x28 grey digits reads 16x16 target
images through its own image processor (resized to 28x28, converted to grey). Weights are copied
where names and shapes match; a head is copied only for a task with the same name, problem type and
classes, so a different label set gets a new head while the encoders keep their weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transmodal.errors import ConfigError
from transmodal.saved.loader import is_predictor_folder, load_fitted
from transmodal.saved.spec import FittedAttributes

__all__ = ["copy_state", "is_predictor_folder", "load_source", "same_task", "shared_inputs"]


def load_source(source: Any):
    """A fitted predictor (the object itself, or a :class:`~transmodal.saved.loader.FittedModel`
    read from a saved folder), or None when ``source`` is a folder of another kind.

    Raises:
        ConfigError: the folder does not exist, or the object is not a fitted predictor.
    """
    if not isinstance(source, (str, Path)):
        if not isinstance(source, FittedAttributes):
            raise ConfigError(f"init_from/teacher must be a model folder or a fitted MultimodalPredictor, "
                              f"got {type(source).__name__}")
        if not (hasattr(source, "spec_") and hasattr(source, "net_")):
            raise ConfigError("init_from/teacher: the predictor is not fitted")
        return source
    if not Path(source).is_dir():
        raise ConfigError(f"init_from/teacher: model folder {source} does not exist")
    if not is_predictor_folder(source):
        return None
    return load_fitted(source)


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


def copy_state(net, source_net, inputs: list[str], heads: list[str]) -> dict[str, Any]:
    """Copy the source's tensors of ``inputs``' encoders, the fusion and ``heads`` into ``net``
    where the name and the shape match; returns what was copied."""
    from transmodal.fusion.base import module_key

    prefixes = tuple(f"encoders.{module_key(n)}." for n in inputs) + ("fusion.",) + \
        tuple(f"heads.{module_key(n)}." for n in heads)
    from transmodal.encoders.adapters import unmerged_state

    own = net.state_dict()
    # a fitted LoRA predictor predicts with its adapters merged into the base weights: copy them apart
    source = unmerged_state(source_net, source_net.state_dict())
    state = {k: v for k, v in source.items() if k.startswith(prefixes) and k in own and own[k].shape == v.shape}
    net.load_state_dict(state, strict=False)
    return state

