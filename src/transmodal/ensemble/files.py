"""An ensemble's model folder: the same verified folder as a predictor's, flat.

- ``config.json``: ``{"format", "ensemble": {...}}`` (preset, task, columns, metric, weights and
  every member's leaderboard row);
- ``model.safetensors``: every saved member's tensors, keys ``<member>/<key>`` (linear weights,
  IDF weights, SVD components, number scaling, neural members' weights);
- ``member.<name>.json``: a member's JSON metadata (vocabularies, categories, neural model specs);
- ``member.<name>.<fold>.txt``: LightGBM boosters in LightGBM's text model format;
- ``leaderboard.csv`` and ``report.html`` (the run report: preset, metric, leaderboard); ``manifest.json``
  lists every file with its SHA-256.

Loading checks the whole folder against the manifest first (:func:`transmodal.persistence.read_folder`),
then reads each member file once more and checks those bytes' SHA-256 against the manifest, so the
bytes parsed are the bytes verified. Only members with a weight are saved.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from transmodal.ensemble.members.base import MemberFiles
from transmodal.errors import ModelLoadError

FILE_PREFIX = "member."


def member_file(name: str, suffix: str) -> str:
    """The file name of one of ``name``'s files (``member.<name>.<suffix>``)."""
    return f"{FILE_PREFIX}{name}.{suffix}"


def write_members(folder: Path, saved: dict[str, MemberFiles]) -> None:
    """Write every member's JSON metadata and text files into ``folder`` (before the manifest)."""
    for name, files in saved.items():
        (folder / member_file(name, "json")).write_text(json.dumps(files.meta), encoding="utf-8")
        for suffix, text in files.texts.items():
            (folder / member_file(name, suffix)).write_text(text, encoding="utf-8")


def state_of(saved: dict[str, MemberFiles]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(tensors, external)`` of every member, keys prefixed by the member's name (tensors as torch)."""
    import numpy as np
    import torch

    tensors, external = {}, {}
    for name, files in saved.items():
        for key, value in files.tensors.items():
            tensors[f"{name}/{key}"] = value if isinstance(value, torch.Tensor) else torch.from_numpy(
                np.ascontiguousarray(value))
        external.update({f"{name}/{key}": record for key, record in files.external.items()})
    return tensors, external


def read_members(path: Path, manifest: dict[str, Any], weights: dict[str, Any],
                 entries: list[dict[str, Any]]) -> dict[str, MemberFiles]:
    """Each saved member's files, read from ``path`` and checked against the manifest's digests.

    Args:
        weights: The verified tensors of ``model.safetensors`` (torch; members read them with
            ``np.asarray`` where they want arrays).
        entries: The config's member rows (``name``, ``kind``, ``saved``).

    Raises:
        ModelLoadError: a member file is missing from the manifest or differs from its digest.
    """
    from transmodal.persistence import MAX_JSON_BYTES, read_regular_file

    listed = manifest["files"]
    external = manifest.get("external") or {}
    out = {}
    for entry in entries:
        if not entry.get("saved"):
            continue
        name = entry["name"]

        def verified(file: str, limit: int | None = None) -> bytes:
            if file not in listed:
                raise ModelLoadError(f"{path} is incomplete: {file!r} is not in the manifest")
            data = read_regular_file(path / file, limit)
            if hashlib.sha256(data).hexdigest() != listed[file]["sha256"]:
                raise ModelLoadError(f"refusing to load {path}: {file!r} was changed after saving (SHA-256 differs)")
            return data

        try:
            meta = json.loads(verified(member_file(name, "json"), MAX_JSON_BYTES))
        except ValueError as err:
            raise ModelLoadError(f"{path / member_file(name, 'json')} is malformed: {err}") from None
        prefix = f"{name}/"
        tensors = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
        texts = {f[len(member_file(name, "")):]: verified(f).decode("utf-8") for f in listed
                 if f.startswith(member_file(name, "")) and f.endswith(".txt")}
        own_external = {k[len(prefix):]: v for k, v in external.items() if k.startswith(prefix)}
        out[name] = MemberFiles(tensors, meta, texts, own_external)
    return out
