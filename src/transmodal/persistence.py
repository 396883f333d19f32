"""Model folders: safetensors weights plus JSON, guarded by a manifest of SHA-256 digests.

A model folder holds ``config.json`` (everything needed to rebuild the network), ``model.safetensors``
(the weights that cannot be rebuilt from a pretrained reference), optional extra JSON/CSV/HTML files
(history, bad rows, report), and ``manifest.json`` listing every other file with its size and
SHA-256. Loading refuses a folder with a file not in the manifest, a file whose digest differs, or
anything that looks like a pickle; nothing in the folder is ever executed or unpickled.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from transmodal.config import save_json
from transmodal.errors import ModelLoadError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
MANIFEST_FILE = "manifest.json"
FORMAT = "transmodal-model"
ALLOWED_SUFFIXES = (".json", ".safetensors", ".csv", ".html", ".png", ".yaml", ".txt", ".md")
CHECKPOINT_DIR = "checkpoints"  # resumable-training checkpoints (safetensors + JSON), ignored by load
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib", ".npy", ".npz")


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: str | Path) -> None:
    """(Re)write ``manifest.json`` for every file in ``folder`` (call after adding a file)."""
    folder = Path(folder)
    files = {
        p.name: {"size": p.stat().st_size, "sha256": sha256(p)}
        for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST_FILE and not p.name.endswith(".tmp")
    }
    save_json({"format": FORMAT, "files": files}, folder / MANIFEST_FILE)


def save_weights(state: dict[str, Any], path: Path) -> None:
    """Write tensors to safetensors atomically (independent, contiguous copies)."""
    from safetensors.torch import save_file

    tmp = path.with_suffix(".safetensors.tmp")
    save_file({k: v.detach().cpu().clone().contiguous() for k, v in state.items()}, str(tmp))
    tmp.replace(path)


def save_folder(folder: str | Path, config: dict[str, Any], state: dict[str, Any]) -> Path:
    """Write a complete model folder (config, weights, manifest)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_weights(state, folder / WEIGHTS_FILE)
    save_json({"format": FORMAT, **config}, folder / CONFIG_FILE)
    write_manifest(folder)
    return folder


def _looks_like_pickle(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(2)
    return path.suffix.lower() in PICKLE_SUFFIXES or (len(head) == 2 and head[0] == 0x80 and head[1] <= 5)


def _check_checkpoints(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_dir() or path.is_symlink() or _looks_like_pickle(path) or \
                not path.name.endswith((".safetensors", ".json", ".tmp")):
            raise ModelLoadError(f"refusing to load {folder.parent}: unexpected file {CHECKPOINT_DIR}/{path.name!r}")


def verify_folder(folder: str | Path) -> dict[str, Any]:
    """Check a model folder against its manifest and return the parsed config.

    Raises:
        ModelLoadError: missing folder/files, unlisted or pickle-like files, size or digest mismatch.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"model folder {folder} does not exist")
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        raise ModelLoadError(f"{folder} has no {MANIFEST_FILE}; it is not a transmodal model folder")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        listed = manifest["files"]
    except (ValueError, KeyError, TypeError) as err:
        raise ModelLoadError(f"{manifest_path} is not a valid manifest: {err}") from err
    for path in sorted(folder.iterdir()):
        if path.name == MANIFEST_FILE:
            continue
        if path.name == CHECKPOINT_DIR and path.is_dir() and not path.is_symlink():
            _check_checkpoints(path)  # training checkpoints: never read by load
            continue
        if path.is_dir() or path.is_symlink():
            raise ModelLoadError(f"refusing to load {folder}: unexpected entry {path.name!r} (folders and links are not allowed)")
        if _looks_like_pickle(path):
            raise ModelLoadError(f"refusing to load {folder}: {path.name!r} looks like a pickle, which could run code; "
                                 "transmodal model folders hold only safetensors and JSON")
        if path.name not in listed:
            raise ModelLoadError(f"refusing to load {folder}: {path.name!r} is not in the manifest")
        if not path.name.endswith(ALLOWED_SUFFIXES):
            raise ModelLoadError(f"refusing to load {folder}: file type of {path.name!r} is not allowed")
    for name, entry in listed.items():
        path = folder / name
        if not path.is_file():
            raise ModelLoadError(f"{folder} is incomplete: {name!r} is listed in the manifest but missing")
        if path.stat().st_size != entry.get("size") or sha256(path) != entry.get("sha256"):
            raise ModelLoadError(f"refusing to load {folder}: {name!r} was changed after saving (size or SHA-256 differs)")
    config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    if config.get("format") != FORMAT:
        raise ModelLoadError(f"{folder / CONFIG_FILE} is not a transmodal model config")
    return config


def load_weights(folder: str | Path) -> dict[str, Any]:
    """Read ``model.safetensors`` (tensors only; safetensors never runs code)."""
    from safetensors.torch import load_file

    return load_file(str(Path(folder) / WEIGHTS_FILE))


def refuses_remote_code(settings: dict[str, Any]) -> bool:
    """True when encoder settings ask for ``trust_remote_code``."""
    return bool(settings.get("trust_remote_code", False))
