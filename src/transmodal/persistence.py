"""Model folders: safetensors weights plus JSON, guarded by a manifest of SHA-256 digests.

A model folder holds ``config.json`` (everything needed to rebuild the network), ``model.safetensors``
(the weights that cannot be rebuilt from a pretrained reference), optional extra JSON/CSV/HTML files
(history, bad rows, report), and ``manifest.json`` listing every other file with its size and
SHA-256 (and the digests of weights loaded from outside the folder, such as a frozen pretrained
encoder given by path). Loading refuses a folder with a file not in the manifest, a file whose
digest differs, anything that looks like a pickle, or anything but a regular file; JSON files are
bounded in size; nothing in the folder is ever executed or unpickled. With ``TRANSMODAL_SIGNING_KEY``
set, saving writes ``manifest.sig`` (HMAC-SHA256) and loading refuses a folder whose signature is
missing or wrong.

Saving writes a complete folder beside the destination and renames it into place under an exclusive
lock (``.NAME.lock`` beside it), and writes only into a folder that is new, empty or transmodal's.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from transmodal.config import save_json
from transmodal.errors import ConfigError, ModelLoadError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
MANIFEST_FILE = "manifest.json"
FORMAT = "transmodal-model"
ALLOWED_SUFFIXES = (".json", ".safetensors", ".csv", ".html", ".png", ".yaml", ".txt", ".md")
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


# ---- output folders: only transmodal's own are written to ------------------------------------
def _is_checkpoint_file(path: Path) -> bool:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and path.name.endswith(CHECKPOINT_SUFFIXES) and not path.name.lower().endswith(PICKLE_SUFFIXES)


def is_checkpoint_folder(path: str | Path) -> bool:
    """True when ``path`` is a checkpoint folder transmodal created (it holds the marker file and
    checkpoint files only)."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return False
    names = os.listdir(path)
    return CHECKPOINT_MARKER in names and all(_is_checkpoint_file(path / n) for n in names)


def prepare_checkpoint_folder(folder: str | Path) -> Path:
    """Create (or reuse) a checkpoint folder and mark it as transmodal's.

    A folder that exists is reused only when it is empty, already marked, or holds nothing but
    checkpoint files transmodal names (``last.safetensors``, ``run.json``).

    Raises:
        ConfigError: the folder holds anything else (nothing in it is touched).
    """
    folder = Path(folder)
    if os.path.lexists(folder):
        if folder.is_symlink() or not folder.is_dir():
            raise ConfigError(f"cannot keep checkpoints in {folder}: it is not a folder")
        names = sorted(os.listdir(folder))
        if CHECKPOINT_MARKER not in names:
            odd = [n for n in names if n.removesuffix(".tmp") not in LEGACY_CHECKPOINT_FILES
                   or not _is_checkpoint_file(folder / n)]
        else:
            odd = [n for n in names if not _is_checkpoint_file(folder / n)]
        if odd:
            raise ConfigError(f"cannot keep checkpoints in {folder}: it holds {odd[0]!r}, which transmodal did not "
                              "write; give an empty or new checkpoint folder")
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / CHECKPOINT_MARKER
    if not marker.is_file():
        save_json({"format": "transmodal-checkpoints"}, marker)
    return folder


def _listed_files(folder: Path) -> set[str] | None:
    path = folder / MANIFEST_FILE
    if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_JSON_BYTES:
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        return None
    return set(manifest["files"])


def foreign_entries(folder: str | Path) -> list[str]:
    """Entries of an existing folder that transmodal did not write (sorted): anything but the files
    its manifest lists, the manifest and its signature, and a marked checkpoint folder."""
    folder = Path(folder)
    listed = _listed_files(folder)
    ours = set() if listed is None else listed | {MANIFEST_FILE, SIGNATURE_FILE}
    foreign = []
    for name in sorted(os.listdir(folder)):
        path = folder / name
        if name == CHECKPOINT_DIR and is_checkpoint_folder(path):
            continue
        if name in ours and not path.is_symlink() and path.is_file():
            continue
        foreign.append(name)
    return foreign


def check_output_folder(folder: str | Path) -> str:
    """Whether ``folder`` may receive a model: ``"new"`` (does not exist), ``"empty"``,
    ``"checkpoints"`` (only transmodal's checkpoints) or ``"model"`` (a transmodal model folder).

    Raises:
        ConfigError: the folder is a file or a link, or holds an entry transmodal did not write
            (named in the message); nothing is changed.
    """
    folder = Path(folder)
    if not os.path.lexists(folder):
        return "new"
    if folder.is_symlink() or not folder.is_dir():
        raise ConfigError(f"cannot save a model to {folder}: it is {'a link' if folder.is_symlink() else 'not a folder'}")
    foreign = foreign_entries(folder)
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise ConfigError(f"refusing to save a model to {folder}: it holds {foreign[0]!r}{more}, which transmodal did "
                          "not write; an output folder must be new, empty or a transmodal model folder")
    if (folder / MANIFEST_FILE).is_file():
        return "model"
    return "checkpoints" if os.listdir(folder) else "empty"


@contextlib.contextmanager
def folder_lock(folder: str | Path, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (``flock`` on the sibling file ``.NAME.lock``).

    A second writer waits up to ``timeout`` seconds (``TRANSMODAL_LOCK_TIMEOUT``, default 300).

    Raises:
        ConfigError: the lock was still held when the time ran out.
    """
    folder = Path(os.path.abspath(folder))
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock_path = folder.parent / f".{folder.name}.lock"
    if timeout is None:
        timeout = float(os.environ.get(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT))
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConfigError(f"cannot write {folder}: another process is writing it (lock {lock_path} held "
                                      f"for more than {timeout:g} s); try again when it has finished") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False when unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange) == 0


def _swap_into_place(staging: Path, folder: Path) -> None:
    """Put the complete ``staging`` folder at ``folder``; an old ``folder`` is renamed away and removed."""
    if not os.path.lexists(folder):
        os.rename(staging, folder)
        return
    if _exchange(staging, folder):
        shutil.rmtree(staging)  # it now holds the old folder
        return
    old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
    os.rename(folder, old)  # onto an empty folder: allowed
    os.rename(staging, folder)
    shutil.rmtree(old)


def save_folder(folder: str | Path, config: dict[str, Any], state: dict[str, Any],
                extra: Callable[[Path], None] | None = None, external: dict[str, Any] | None = None) -> Path:
    """Write a complete model folder (config, weights, ``extra(folder)``'s files, manifest).

    The folder is written beside the destination and renamed into place under an exclusive lock,
    so a reader sees the old model or the new one, never a mix. Only a new, empty or transmodal
    folder is written to; a marked checkpoint folder inside it is kept.

    Raises:
        ConfigError: the destination holds files transmodal did not write, or another writer holds
            the lock for too long.
    """
    folder = Path(folder)
    with folder_lock(folder):
        check_output_folder(folder)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.new-", dir=Path(os.path.abspath(folder)).parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)
        moved = None
        try:
            save_weights(state, staging / WEIGHTS_FILE)
            save_json({"format": FORMAT, **config}, staging / CONFIG_FILE)
            if extra is not None:
                extra(staging)
            write_manifest(staging, external=dict(external or {}))
            if is_checkpoint_folder(folder / CHECKPOINT_DIR):
                moved = staging / CHECKPOINT_DIR
                os.rename(folder / CHECKPOINT_DIR, moved)
            _swap_into_place(staging, folder)
        except BaseException:
            if moved is not None and moved.exists() and not os.path.lexists(folder / CHECKPOINT_DIR):
                os.rename(moved, folder / CHECKPOINT_DIR)
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return folder


# ---- reading ---------------------------------------------------------------------------------
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
    fd = _open_regular(folder, dir_fd, name)
    with os.fdopen(fd, "rb") as handle:
        head = handle.read(2)
    return len(head) == 2 and head[0] == 0x80 and head[1] <= 5


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
