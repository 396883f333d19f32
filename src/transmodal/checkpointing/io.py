"""Lightning checkpoints as one safetensors file (tensors) with a JSON header (everything else).

Lightning's default checkpoint format is a pickle; transmodal never writes or reads pickles. This
:class:`~lightning.fabric.plugins.io.checkpoint_io.CheckpointIO` flattens the nested checkpoint dict:
every tensor (or numpy array) goes into the safetensors payload under a numbered key, and the tree
around it is stored as JSON in the safetensors metadata. Writes are atomic (temp file + rename), so a
kill at any moment leaves either the previous or the new checkpoint, never a broken one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.fabric.plugins.io.checkpoint_io import CheckpointIO

META_KEY = "transmodal_checkpoint"


def flatten(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """A JSON-able copy of ``tree`` with tensors moved into ``tensors`` (replaced by references).

    Raises:
        TypeError: a value is neither JSON-able nor a tensor/array (it would need a pickle).
    """
    if isinstance(tree, torch.Tensor):
        key = str(len(tensors))
        tensors[key] = tree.detach().cpu().contiguous().clone()
        return {"__tensor__": key}
    if isinstance(tree, np.ndarray):
        key = str(len(tensors))
        tensors[key] = torch.from_numpy(np.ascontiguousarray(tree)).clone()
        return {"__ndarray__": key}
    if isinstance(tree, dict):
        return {"__dict__": [[flatten(k, tensors), flatten(v, tensors)] for k, v in tree.items()]}
    if isinstance(tree, tuple):
        return {"__tuple__": [flatten(v, tensors) for v in tree]}
    if isinstance(tree, list):
        return [flatten(v, tensors) for v in tree]
    if isinstance(tree, (np.integer, np.floating, np.bool_)):
        return tree.item()
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    raise TypeError(f"cannot store a {type(tree).__name__} in a checkpoint without pickling it")


def unflatten(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten`."""
    if isinstance(tree, list):
        return [unflatten(v, tensors) for v in tree]
    if isinstance(tree, dict):
        if "__tensor__" in tree:
            return tensors[tree["__tensor__"]]
        if "__ndarray__" in tree:
            return tensors[tree["__ndarray__"]].numpy()
        if "__tuple__" in tree:
            return tuple(unflatten(v, tensors) for v in tree["__tuple__"])
        return {_hashable(unflatten(k, tensors)): unflatten(v, tensors) for k, v in tree["__dict__"]}
    return tree


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def save_checkpoint_file(checkpoint: dict[str, Any], path: str | Path) -> None:
    """Write ``checkpoint`` to ``path`` atomically as safetensors + JSON metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    tree = flatten(checkpoint, tensors)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(tree)})
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(path)


def load_checkpoint_file(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint_file` (no code runs)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata() or {}
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    if META_KEY not in meta:
        raise ValueError(f"{path} is not a transmodal checkpoint")
    return unflatten(json.loads(meta[META_KEY]), tensors)


class SafetensorsCheckpointIO(CheckpointIO):
    """Lightning checkpoint I/O without pickles (see the module docstring)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        save_checkpoint_file(checkpoint, path)

    def load_checkpoint(self, path, map_location: Any | None = None, weights_only: bool | None = None) -> dict[str, Any]:
        return load_checkpoint_file(path)

    def remove_checkpoint(self, path) -> None:
        Path(path).unlink(missing_ok=True)
