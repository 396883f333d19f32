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

Three modules: :mod:`.manifest` (names, digests, the manifest and its signature, weights),
:mod:`.output` (where and how a folder is written) and :mod:`.reading` (how it is read and checked).
"""

from transmodal.persistence.manifest import (
    CONFIG_FILE, WEIGHTS_FILE, MANIFEST_FILE, FORMAT, ALLOWED_SUFFIXES, CHECKPOINT_DIR, PICKLE_SUFFIXES,
    CHECKPOINT_SUFFIXES, CHECKPOINT_MARKER, LEGACY_CHECKPOINT_FILES, SIGNATURE_FILE, SIGNING_KEY_ENV,
    LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT, MAX_JSON_BYTES, WEIGHT_SUFFIXES, sha256, signing_key,
    write_manifest, save_weights, reference_digests, refuses_remote_code,
)
from transmodal.persistence.output import (
    is_checkpoint_folder, prepare_checkpoint_folder, foreign_entries, check_output_folder, folder_lock,
    save_folder,
)
from transmodal.persistence.reading import (
    peek_config,
    read_regular_file, SavedFolder, read_folder, verify_folder, weights_from_bytes, load_weights,
)

__all__ = [
    "peek_config",
    "CONFIG_FILE", "WEIGHTS_FILE", "MANIFEST_FILE", "FORMAT", "ALLOWED_SUFFIXES", "CHECKPOINT_DIR",
    "PICKLE_SUFFIXES", "CHECKPOINT_SUFFIXES", "CHECKPOINT_MARKER", "LEGACY_CHECKPOINT_FILES",
    "SIGNATURE_FILE", "SIGNING_KEY_ENV", "LOCK_TIMEOUT_ENV", "DEFAULT_LOCK_TIMEOUT", "MAX_JSON_BYTES",
    "WEIGHT_SUFFIXES", "sha256", "signing_key", "write_manifest", "save_weights", "reference_digests",
    "refuses_remote_code", "is_checkpoint_folder", "prepare_checkpoint_folder", "foreign_entries",
    "check_output_folder", "folder_lock", "save_folder", "read_regular_file", "SavedFolder",
    "read_folder", "verify_folder", "weights_from_bytes", "load_weights",
]
