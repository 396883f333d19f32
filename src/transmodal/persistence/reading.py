"""Reading a model folder: regular files only, JSON bounded in size, every file checked against the
manifest (and its signature when a key is set), weights hashed and parsed from the same bytes."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transmodal.errors import ModelLoadError
from transmodal.persistence.manifest import (
    ALLOWED_SUFFIXES, CHECKPOINT_DIR, CHECKPOINT_SUFFIXES, CONFIG_FILE, FORMAT, MANIFEST_FILE,
    MAX_JSON_BYTES, PICKLE_SUFFIXES, SIGNATURE_FILE, SIGNING_KEY_ENV, WEIGHTS_FILE, _signature,
    signing_key,
)


def _open_regular(folder: Path, dir_fd: int, name: str) -> int:
    """An fd of the regular file ``name`` in ``dir_fd``; anything else (FIFO, device, socket, link)
    is refused before it is opened."""
    try:
        mode = os.lstat(name, dir_fd=dir_fd).st_mode
    except FileNotFoundError:
        raise ModelLoadError(f"{folder} is incomplete: {name!r} is missing (or the folder changed while loading)") from None
    if not stat.S_ISREG(mode):
        raise ModelLoadError(f"refusing to load {folder}: {name!r} is not a regular file "
                             "(a FIFO, device, socket, folder or link)")
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped after the check
        os.close(fd)
        raise ModelLoadError(f"refusing to load {folder}: {name!r} is not a regular file")
    return fd


def _read_regular(folder: Path, dir_fd: int, name: str, limit: int | None = None,
                  expected_size: int | None = None, keep: bool = True) -> tuple[bytes, str]:
    """(bytes or b"" when not ``keep``, hex SHA-256) of a regular file, its size bounded first."""
    fd = _open_regular(folder, dir_fd, name)
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if limit is not None and size > limit:
            raise ModelLoadError(f"refusing to load {folder}: {name!r} is {size} bytes, more than the {limit} allowed")
        if expected_size is not None and size != expected_size:
            raise ModelLoadError(f"refusing to load {folder}: {name!r} was changed after saving (size or SHA-256 differs)")
        digest, parts = hashlib.sha256(), []
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            if keep:
                parts.append(block)
    return b"".join(parts), digest.hexdigest()


def read_regular_file(path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path`` (a FIFO, device, socket or link is refused)."""
    path = Path(path)
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as err:
        raise ModelLoadError(f"cannot read {path}: {err.strerror}") from None
    try:
        return _read_regular(path.parent, dir_fd, path.name, limit)[0]
    finally:
        os.close(dir_fd)


def peek_config(folder: Any) -> dict[str, Any] | None:
    """The parsed ``config.json`` of ``folder`` when it is a regular file holding a JSON object of
    bounded size, else None: to tell model folder kinds apart without loading (or hanging on) one."""
    try:
        data = json.loads(read_regular_file(Path(str(folder)) / CONFIG_FILE, limit=MAX_JSON_BYTES))
    except (ModelLoadError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _parse_json(data: bytes, source: Path) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ModelLoadError(f"{source} is not valid JSON: {err}") from None


def _parse_manifest(folder: Path, data: bytes) -> dict[str, Any]:
    path = folder / MANIFEST_FILE
    manifest = _parse_json(data, path)
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise ModelLoadError(f"{path} is not a valid manifest: no 'files' table")
    for name, entry in files.items():
        if name in ("", ".", "..") or name != os.path.basename(name) or name in (MANIFEST_FILE, SIGNATURE_FILE):
            raise ModelLoadError(f"{path} is not a valid manifest: bad file name {name!r}")
        if not (isinstance(entry, dict) and type(entry.get("size")) is int and isinstance(entry.get("sha256"), str)):
            raise ModelLoadError(f"{path} is not a valid manifest: bad entry for {name!r}")
    if not isinstance(manifest.get("external", {}), dict):
        raise ModelLoadError(f"{path} is not a valid manifest: 'external' is not a table")
    return manifest


def _check_signature(folder: Path, dir_fd: int, names: list[str], manifest: bytes) -> None:
    key = signing_key()
    if key is None:
        return
    if SIGNATURE_FILE not in names:
        raise ModelLoadError(f"refusing to load {folder}: {SIGNING_KEY_ENV} is set and the folder has no "
                             f"{SIGNATURE_FILE} (it was not signed)")
    data, _ = _read_regular(folder, dir_fd, SIGNATURE_FILE, 4096)
    if not hmac.compare_digest(data.decode("ascii", "replace").strip(), _signature(key, manifest)):
        raise ModelLoadError(f"refusing to load {folder}: {SIGNATURE_FILE} does not verify with the key in "
                             f"{SIGNING_KEY_ENV} (the manifest was changed, or signed with another key)")


def _check_checkpoints(folder: Path, dir_fd: int) -> None:
    sub = os.open(CHECKPOINT_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    try:
        for name in os.listdir(sub):
            where = f"{CHECKPOINT_DIR}/{name}"
            if not stat.S_ISREG(os.lstat(name, dir_fd=sub).st_mode) or not name.endswith(CHECKPOINT_SUFFIXES) \
                    or name.lower().endswith(PICKLE_SUFFIXES) or _pickle_head(folder / CHECKPOINT_DIR, sub, name):
                raise ModelLoadError(f"refusing to load {folder}: unexpected file {where!r}")
    finally:
        os.close(sub)


def _pickle_head(folder: Path, dir_fd: int, name: str) -> bool:
    """True when the file starts like a pickle (PROTO opcode 0x80, protocol <= 5). A safetensors
    file whose 8-byte header length starts with those bytes (a 128- or 384-byte header: a state of
    two scalars) is told apart by its JSON header at offset 8; it is read by safetensors, never
    unpickled."""
    fd = _open_regular(folder, dir_fd, name)
    with os.fdopen(fd, "rb") as handle:
        head = handle.read(9)
    if name.endswith(".safetensors") and head[8:9] == b"{":
        return False
    return len(head) >= 2 and head[0] == 0x80 and head[1] <= 5


@dataclass
class SavedFolder:
    """What :func:`read_folder` read from one model folder, all through one open folder handle.

    Attributes:
        path: The folder.
        config: The parsed ``config.json``.
        manifest: The parsed ``manifest.json`` (``files``, ``external``).
        weights: The verified bytes of ``model.safetensors`` (when asked for), else None.
    """

    path: Path
    config: dict[str, Any]
    manifest: dict[str, Any]
    weights: bytes | None = None


def read_folder(folder: str | Path, weights: bool = False) -> SavedFolder:
    """Check a model folder against its manifest (and signature, with a signing key set) and read it.

    Every file is read through one handle on the folder, so a folder replaced meanwhile gives the
    old model or an error, never a mix. Only regular files are opened; JSON files are bounded.

    Raises:
        ModelLoadError: missing folder/files, unlisted, pickle-like or non-regular files, size or
            digest mismatch, a bad signature, malformed JSON (the message names the file).
    """
    folder = Path(folder)
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        raise ModelLoadError(f"model folder {folder} does not exist") from None
    except NotADirectoryError:
        raise ModelLoadError(f"model folder {folder} does not exist (it is not a folder)") from None
    except OSError as err:
        raise ModelLoadError(f"cannot open model folder {folder}: {err.strerror}") from None
    try:
        return _read(folder, dir_fd, weights)
    finally:
        os.close(dir_fd)


def _read(folder: Path, dir_fd: int, want_weights: bool) -> SavedFolder:
    names = sorted(os.listdir(dir_fd))
    if MANIFEST_FILE not in names:
        raise ModelLoadError(f"{folder} has no {MANIFEST_FILE}; it is not a transmodal model folder")
    manifest_bytes, _ = _read_regular(folder, dir_fd, MANIFEST_FILE, MAX_JSON_BYTES)
    manifest = _parse_manifest(folder, manifest_bytes)
    _check_signature(folder, dir_fd, names, manifest_bytes)
    listed = manifest["files"]
    for name in names:
        if name in (MANIFEST_FILE, SIGNATURE_FILE):
            continue
        mode = os.lstat(name, dir_fd=dir_fd).st_mode
        if name == CHECKPOINT_DIR and stat.S_ISDIR(mode):
            _check_checkpoints(folder, dir_fd)  # training checkpoints: never read by load
            continue
        if stat.S_ISDIR(mode) or stat.S_ISLNK(mode):
            raise ModelLoadError(f"refusing to load {folder}: unexpected entry {name!r} (folders and links are not allowed)")
        if not stat.S_ISREG(mode):
            raise ModelLoadError(f"refusing to load {folder}: {name!r} is not a regular file (a FIFO, device or socket)")
        if name.lower().endswith(PICKLE_SUFFIXES) or _pickle_head(folder, dir_fd, name):
            raise ModelLoadError(f"refusing to load {folder}: {name!r} looks like a pickle, which could run code; "
                                 "transmodal model folders hold only safetensors and JSON")
        if name not in listed:
            raise ModelLoadError(f"refusing to load {folder}: {name!r} is not in the manifest")
        if not name.endswith(ALLOWED_SUFFIXES):
            raise ModelLoadError(f"refusing to load {folder}: file type of {name!r} is not allowed")
    kept: dict[str, bytes] = {}
    for name, entry in listed.items():
        if name not in names:
            raise ModelLoadError(f"{folder} is incomplete: {name!r} is listed in the manifest but missing")
        keep = name == CONFIG_FILE or (want_weights and name == WEIGHTS_FILE)
        limit = MAX_JSON_BYTES if name.endswith(".json") else None
        data, digest = _read_regular(folder, dir_fd, name, limit, entry["size"], keep)
        if digest != entry["sha256"]:
            raise ModelLoadError(f"refusing to load {folder}: {name!r} was changed after saving (size or SHA-256 differs)")
        if keep:
            kept[name] = data
    if CONFIG_FILE not in kept:
        raise ModelLoadError(f"{folder} is incomplete: {CONFIG_FILE!r} is not in the manifest")
    config = _parse_json(kept[CONFIG_FILE], folder / CONFIG_FILE)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelLoadError(f"{folder / CONFIG_FILE} is not a transmodal model config")
    if want_weights and WEIGHTS_FILE not in kept:
        raise ModelLoadError(f"{folder} is incomplete: {WEIGHTS_FILE!r} is not in the manifest")
    return SavedFolder(folder, config, manifest, kept.get(WEIGHTS_FILE))


def verify_folder(folder: str | Path) -> dict[str, Any]:
    """Check a model folder against its manifest and return the parsed config (see :func:`read_folder`).

    Raises:
        ModelLoadError: see :func:`read_folder`.
    """
    return read_folder(folder).config


def weights_from_bytes(data: bytes, source: str | Path) -> dict[str, Any]:
    """Tensors of safetensors bytes (safetensors never runs code).

    Raises:
        ModelLoadError: the bytes are not a valid safetensors file (truncated, bad header).
    """
    from safetensors.torch import load

    try:
        return load(data)
    except Exception as err:  # safetensors raises its own error type, or ValueError/OverflowError
        raise ModelLoadError(f"{source} is not a valid safetensors file: {err}") from None


def load_weights(folder: str | Path) -> dict[str, Any]:
    """Read ``model.safetensors`` of ``folder`` (a regular file only; tensors only)."""
    path = Path(folder) / WEIGHTS_FILE
    return weights_from_bytes(read_regular_file(path), path)
