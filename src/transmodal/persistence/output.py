"""Writing a model folder: only into a folder that is new, empty or transmodal's, under an exclusive
lock, complete beside the destination and then renamed into place; checkpoint folders marked as
transmodal's."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from transmodal.config import save_json
from transmodal.errors import ConfigError
from transmodal.persistence.manifest import (
    CHECKPOINT_DIR, CHECKPOINT_MARKER, CHECKPOINT_SUFFIXES, CONFIG_FILE, DEFAULT_LOCK_TIMEOUT, FORMAT,
    LEGACY_CHECKPOINT_FILES, LOCK_TIMEOUT_ENV, MANIFEST_FILE, MAX_JSON_BYTES, PICKLE_SUFFIXES,
    SIGNATURE_FILE, WEIGHTS_FILE, save_weights, write_manifest,
)


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


def _same_mode(folder: Path, mode: int) -> None:
    """Give every file under ``folder`` the same ``mode`` (the umask's default for new files): the
    weights are not left readable by their owner only while the JSON beside them is readable by all."""
    for entry in folder.rglob("*"):
        if entry.is_file() and not entry.is_symlink():
            os.chmod(entry, mode)


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
            _same_mode(staging, 0o666 & ~umask)
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
