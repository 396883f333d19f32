"""Model-folder names, SHA-256 digests, the manifest and its optional HMAC signature, and writing
weights (safetensors)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any


CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
MANIFEST_FILE = "manifest.json"
FORMAT = "transmodal-model"
ALLOWED_SUFFIXES = (".json", ".safetensors", ".csv", ".html", ".png", ".yaml", ".txt", ".md", ".log")
CHECKPOINT_DIR = "checkpoints"  # resumable-training checkpoints (safetensors + JSON), ignored by load
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib", ".npy", ".npz")
CHECKPOINT_SUFFIXES = (".safetensors", ".json", ".tmp")
CHECKPOINT_MARKER = "transmodal-checkpoints.json"  # marks a checkpoint folder transmodal created
LEGACY_CHECKPOINT_FILES = ("last.safetensors", "run.json")  # an unmarked folder of these is adopted
SIGNATURE_FILE = "manifest.sig"  # HMAC-SHA256 of manifest.json's bytes, when a signing key is set
SIGNING_KEY_ENV = "TRANSMODAL_SIGNING_KEY"
LOCK_TIMEOUT_ENV = "TRANSMODAL_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 300.0  # seconds a second writer waits for the lock
MAX_JSON_BYTES = 16 << 20  # no JSON file of a model folder is read beyond this
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx")


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- signing ---------------------------------------------------------------------------------
def signing_key() -> bytes | None:
    """The HMAC-SHA256 key of ``TRANSMODAL_SIGNING_KEY``, or None when it is not set."""
    key = os.environ.get(SIGNING_KEY_ENV)
    return key.encode("utf-8") if key else None


def _signature(key: bytes, manifest: bytes) -> str:
    return "hmac-sha256:" + hmac.new(key, manifest, hashlib.sha256).hexdigest()


# ---- writing ---------------------------------------------------------------------------------
def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _existing_external(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        return dict(manifest.get("external") or {})
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def write_manifest(folder: str | Path, external: dict[str, Any] | None = None) -> None:
    """(Re)write ``manifest.json`` for every file in ``folder`` (call after adding a file).

    ``external`` records the digests of weights loaded from outside the folder (kept from the
    previous manifest when None). With ``TRANSMODAL_SIGNING_KEY`` set, ``manifest.sig`` (an
    HMAC-SHA256 of the manifest's bytes) is written too; without it a stale signature is removed.
    """
    folder = Path(folder)
    if external is None:
        external = _existing_external(folder)
    files = {
        p.name: {"size": p.stat().st_size, "sha256": sha256(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.is_symlink() and p.name not in (MANIFEST_FILE, SIGNATURE_FILE)
        and not p.name.endswith(".tmp")
    }
    manifest = {"format": FORMAT, "files": files, **({"external": external} if external else {})}
    data = json.dumps(manifest, indent=2).encode("utf-8")
    _write_atomic(folder / MANIFEST_FILE, data)
    key = signing_key()
    if key is not None:
        _write_atomic(folder / SIGNATURE_FILE, (_signature(key, data) + "\n").encode("ascii"))
    else:
        (folder / SIGNATURE_FILE).unlink(missing_ok=True)


def save_weights(state: dict[str, Any], path: Path) -> None:
    """Write tensors to safetensors atomically (independent, contiguous copies)."""
    from safetensors.torch import save_file

    tmp = path.with_suffix(".safetensors.tmp")
    save_file({k: v.detach().cpu().clone().contiguous() for k, v in state.items()}, str(tmp))
    tmp.replace(path)


# ---- weights loaded from outside the folder ---------------------------------------------------
_DIGEST_CACHE: dict[tuple, str] = {}


def reference_digests(path: str | Path) -> dict[str, dict[str, Any]]:
    """``{file name: {"size", "sha256"}}`` of the weight files of a pretrained model: the file
    itself, or the weight files at the top of a folder (cached per file identity and mtime)."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    digests = {}
    for file in files:
        info = file.stat()
        key = (str(file.resolve()), info.st_ino, info.st_size, info.st_mtime_ns)
        if key not in _DIGEST_CACHE:
            _DIGEST_CACHE[key] = sha256(file)
        digests[file.name] = {"size": info.st_size, "sha256": _DIGEST_CACHE[key]}
    return digests


def refuses_remote_code(settings: dict[str, Any]) -> bool:
    """True when encoder settings ask for ``trust_remote_code``."""
    return bool(settings.get("trust_remote_code", False))
