"""Checks a fit runs before it imports anything heavy (torch, Lightning, transformers).

A wrong label name, a column missing from the tuning table, a missing image file or a misspelt
setting is reported in about a second, not after the heavy libraries have loaded: the ``read``
stage runs once here with files checked for existence only (not decoded) and without the tuning
split, then the fit runs every stage as usual (decoding every file in its own ``read`` stage). Bad
cells found here are reported at once, saying that the files' contents were not checked yet: a
corrupt image is reported by the fit's own ``read`` stage, after the heavy imports.
"""

from __future__ import annotations

from transmodal.data.readers import Table
from transmodal.data.validation import FILE_MODALITIES
from transmodal.errors import ConfigError, DataError, did_you_mean, spelled
from transmodal.fitting.log import log_schema
from transmodal.fitting.state import FitRequest, FitState
from transmodal.fitting.tables import read_tables

MODALITY_KEYS = ("text", "image", "audio", "tabular")  # an encoders key for every column of a modality


def check_before_fit(request: FitRequest, train: Table, tune: Table | None) -> None:
    """Check the request and the tables the way the ``read`` stage does, quickly.

    Skipped for cross-modal distillation, whose labels a teacher writes in ``prepare_tables``.

    Raises:
        ConfigError: a misspelt ``transfer`` setting, an unknown column in ``column_types``, ...
        DataError: a missing label or feature column, bad cells (unless ``on_bad_rows="skip"``).
    """
    from transmodal.transfer.settings import TransferSettings

    TransferSettings.from_dict(request.config.transfer)
    check_multitask_keys(request.config.multitask)
    if request.options.get("student_column") is not None:
        return
    state = FitState(request, train, tune)
    try:
        read_tables(state, decode_files=False, split=False)
    except DataError as err:
        if not err.bad_rows or not any(m in FILE_MODALITIES for m in state.column_types.values()):
            raise
        raise DataError(f"{err.headline}; image/audio files were checked to exist, their contents are checked "
                        "when these rows are fixed", err.bad_rows) from None
    check_encoder_keys(request.config.encoders, [*state.column_types, *(s.name for s in state.inputs)])
    log_schema(state)


def check_multitask_keys(section: dict) -> None:
    """The ``multitask`` section's keys (its registry names are checked when the fit reads it)."""
    from dataclasses import fields

    from transmodal.config import unknown_keys_message
    from transmodal.multitask.settings import MultitaskSettings

    known = {f.name for f in fields(MultitaskSettings)}
    unknown = sorted(set(section) - known, key=str)
    if unknown:
        raise ConfigError(unknown_keys_message(unknown, known, "multitask"))


def check_encoder_keys(encoders: dict, inputs: list[str]) -> None:
    """Every key of ``hyperparameters["encoders"]`` is a modality, a feature column or an input name.

    Raises:
        ConfigError: naming the key and the closest valid one (a misspelt key would be ignored).
    """
    valid = [*MODALITY_KEYS, *inputs]
    unknown = [key for key in encoders if key not in valid]
    if unknown:
        named = ", ".join(f"{key!r}{did_you_mean(key, valid)}" for key in unknown)
        raise ConfigError(f"{spelled('encoders', '--set encoders')} names {named}, which is neither a "
                          f"modality nor a feature column; valid: {', '.join(dict.fromkeys(valid))}")
