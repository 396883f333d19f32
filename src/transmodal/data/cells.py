"""Reading one table cell into the decoded item an encoder expects.

Empty cells (None, NaN, an empty or blank string) are a missing modality for that row, never an
error. Non-empty cells that cannot be read raise :class:`CellError` with the reason.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from transmodal.data.audio_files import AudioDecodeError, load_audio, load_audio_bytes
from transmodal.data.image_files import ImageDecodeError, load_image, load_image_bytes
from transmodal.errors import spelled


class CellError(ValueError):
    """A non-empty cell cannot be used; the message is the reason shown to the user."""


def is_missing(value: Any) -> bool:
    """True for None, NaN and empty/blank strings."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, (list, tuple, dict)) else False
    except (TypeError, ValueError):
        return False


def resolve_path(value: Any, base_dir: Path, allowed_root: Path | None = None) -> Path:
    """Resolve a (possibly relative) file path against ``base_dir``.

    Raises:
        CellError: the path leaves ``allowed_root`` (after resolving symlinks).
    """
    path = Path(str(value).strip()).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if allowed_root is not None:
        real = path.resolve()
        root = allowed_root.resolve()
        if real != root and root not in real.parents:
            raise CellError(f"path {path} is outside the allowed root {root}; move the file or "
                            f"widen {spelled('allowed_root', '--allowed-root')}")
    return path


def decode_text(value: Any) -> str:
    """A text cell as a string; bytes must be UTF-8."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as err:
            raise CellError(f"text is not valid UTF-8 ({err}); re-encode the file as UTF-8") from err
    text = str(value)
    if "\ufffd" in text:  # undecodable bytes of a table file are read as U+FFFD
        raise CellError(f"text holds bytes that are not valid UTF-8 (at character {text.index(chr(0xFFFD))}); "
                        "re-encode the table as UTF-8")
    return text


FLOAT32_MAX = 3.4028234663852886e38  # numbers are float32 inside the network
# strings pandas reads as missing by default; transmodal reads them as text unless named in na_values
COMMON_NA_STRINGS = frozenset({"#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
                               "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"})


def number_problem(number: float) -> str | None:
    """Why ``number`` cannot be a feature or a regression target (None when it can): not finite, or
    too large for float32 (it would overflow to infinity and zero its whole standardised column)."""
    if math.isnan(number):
        return "is not a number (NaN); leave the cell empty, or pass na_values to name the text meaning missing"
    if math.isinf(number):
        return "is infinite; use a finite number or leave the cell empty"
    if abs(number) > FLOAT32_MAX:
        return f"is too large for float32 (at most {FLOAT32_MAX:.3g} in magnitude); rescale the column"
    return None


def decode_number(value: Any) -> float:
    """A numeric cell as a finite float that fits float32."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.strip() in COMMON_NA_STRINGS:
        hint = spelled(f"na_values=[{value.strip()!r}]", f"--na-value {value.strip()}")
        raise CellError(f"{value!r} is not a number; if it means missing, pass {hint} or leave the cell empty")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        how = spelled("with column_types={COLUMN: 'text'}", "with --column-type COLUMN=text")
        raise CellError(f"{value!r} is not a number; fix the cell or set the column's type to "
                        f"text or categorical {how}") from None
    problem = number_problem(number)
    if problem:
        raise CellError(f"{value!r} {problem}")
    return number


def decode_cell(modality: str, value: Any, base_dir: Path, allowed_root: Path | None = None) -> Any:
    """Decode one non-missing cell of ``modality`` (image, audio, text, numeric, categorical).

    An image or audio cell holds a file path, or the file's bytes (``bytes``: an upload received by the
    server), which are decoded in memory and never touch a path.

    Returns:
        A PIL image, an ``(waveform, sample_rate)`` tuple, a string, a float, or a category string.

    Raises:
        CellError: the cell cannot be used (missing or corrupt file, non-numeric text, ...).
    """
    try:
        if modality == "image":
            if isinstance(value, bytes):
                return load_image_bytes(value)
            return load_image(resolve_path(value, base_dir, allowed_root))
        if modality == "audio":
            if isinstance(value, bytes):
                return load_audio_bytes(value)
            return load_audio(resolve_path(value, base_dir, allowed_root))
    except (ImageDecodeError, AudioDecodeError) as err:
        raise CellError(str(err)) from err
    if modality == "text":
        return decode_text(value)
    if modality == "numeric":
        return decode_number(value)
    if modality == "categorical":
        return str(value)
    raise CellError(f"unknown modality {modality!r}")
