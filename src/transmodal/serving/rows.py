"""Request rows into a validated DataFrame for the predictor.

Each row must name every feature column of the model (null for an empty cell). Cells by modality:
numbers (numeric), strings/numbers/booleans (categorical), strings (text); image and audio cells hold
``{"base64": DATA}``, a ``data:...;base64,DATA`` URI, ``{"upload": PART}`` (a multipart file part), or
a path that must lie inside the server's allowed root (relative paths start there). URLs (``file://``,
``http://``, ...) are never fetched, and no file outside the allowed root is ever opened: a path is
checked (symlinks resolved) before anything reads it. Every cell is then decoded as the predictor
decodes it, so a bad image or number is reported here, naming its row and column, and never reaches a
batch of other requests.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Any

import pandas as pd

from transmodal.data.cells import CellError, resolve_path
from transmodal.data.readers import Table
from transmodal.data.validation import validate_features
from transmodal.serving.errors import Problem, RequestError, problems_message

FILE_MODALITIES = ("image", "audio")
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:")  # a scheme of two characters or more: file:, http:, ...
DATA_URI = re.compile(r"^data:[^,]*?;base64,", re.IGNORECASE)
SEND_BYTES = ('send the file itself: {"base64": DATA}, a data:...;base64,DATA URI, or a multipart '
              'upload {"upload": PART}')


def rows_to_frame(rows: Any, uploads: dict[str, bytes], column_types: dict[str, str],
                  root: Path | None, max_rows: int) -> pd.DataFrame:
    """The request's rows as a DataFrame of the model's feature columns, every cell decoded once.

    Args:
        rows: The parsed ``rows`` of the body (anything JSON; checked here).
        uploads: Multipart file parts by name.
        column_types: The model's feature columns and their modalities.
        root: The allowed root (resolved), or None: no server-side path is read.
        max_rows: More rows are refused with 413.

    Raises:
        RequestError: 422 naming each bad row and column (400 when ``rows`` is no list of objects).
    """
    if not isinstance(rows, list):
        raise RequestError(400, '"rows" must be a JSON list of objects {column: value, ...}')
    if not rows:
        raise RequestError(422, '"rows" is empty; send at least one row')
    if len(rows) > max_rows:
        raise RequestError(413, f"{len(rows)} rows in one request, over the server's limit of {max_rows}; "
                                "split the request")
    problems: list[Problem] = []
    records = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.append(Problem("must be a JSON object {column: value, ...}", row=i))
            continue
        record = {}
        for column, modality in column_types.items():
            if column not in row:
                problems.append(Problem("is missing; send every column listed by GET /metadata "
                                        "(null for an empty cell)", i, column))
                continue
            try:
                record[column] = read_cell(modality, row[column], uploads, root)
            except CellError as err:
                problems.append(Problem(str(err), i, column))
        records.append(record)
    if problems:
        raise RequestError(422, problems_message(problems), problems)
    frame = pd.DataFrame.from_records(records, columns=list(column_types))
    bad = validate_features(Table(frame, "<request>", root or Path.cwd()), column_types, root)
    if bad:
        hidden = (lambda text: text.replace(str(root), "<allowed-root>")) if root is not None else str
        problems = [Problem(hidden(b.reason), b.row if b.row >= 0 else None, b.column) for b in bad]
        raise RequestError(422, problems_message(problems), problems)
    return frame


def read_cell(modality: str, value: Any, uploads: dict[str, bytes], root: Path | None) -> Any:
    """One JSON cell as the predictor reads it: None, a number, a string, a checked path or bytes.

    Raises:
        CellError: the value has the wrong type, names a URL or a path outside the root, or its base64
            or upload reference is bad.
    """
    if value is None:
        return None
    if isinstance(value, str):
        _check_unicode(value)
    if modality == "numeric":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CellError(f"expected a number or null, got {_shown(value)}")
        return value
    if modality == "categorical":
        if not isinstance(value, (str, int, float, bool)):
            raise CellError(f"expected a string, number or boolean (a category) or null, got {_shown(value)}")
        return value
    if modality == "text":
        if not isinstance(value, str):
            raise CellError(f"expected a string or null, got {_shown(value)}")
        return value
    if modality in FILE_MODALITIES:
        return _file_cell(modality, value, uploads, root)
    raise CellError(f"the model has an unknown modality {modality!r}")


def _file_cell(modality: str, value: Any, uploads: dict[str, bytes], root: Path | None) -> bytes | str:
    """The bytes of an image/audio cell, or its path checked to lie inside ``root``."""
    if isinstance(value, dict):
        if set(value) == {"base64"} and isinstance(value["base64"], str):
            return _base64(value["base64"])
        if set(value) == {"upload"} and isinstance(value["upload"], str):
            if value["upload"] not in uploads:
                raise CellError(f"refers to the upload {value['upload']!r}, but the request has no file part "
                                f"of that name (file parts: {sorted(uploads)[:10]})")
            return uploads[value["upload"]]
        raise CellError(f'an {modality} object must be {{"base64": DATA}} or {{"upload": PART}}, got keys '
                        f"{sorted(map(str, value))[:5]}")
    if not isinstance(value, str):
        raise CellError(f"expected an {modality} (a path, a data: URI or an object) or null, got {_shown(value)}")
    if DATA_URI.match(value):
        return _base64(value.split(",", 1)[1])
    if URL.match(value):
        raise CellError(f"URLs are never fetched (got {value[:40]!r}); {SEND_BYTES}")
    return _server_path(value, root)


def _server_path(value: str, root: Path | None) -> str:
    """``value`` as an absolute path checked to lie inside ``root`` (relative paths start there)."""
    if root is None:
        raise CellError(f"this server reads no file by path (it was started without --allowed-root); {SEND_BYTES}")
    if "\x00" in value:
        raise CellError("the path holds a NUL character")
    try:
        return str(resolve_path(value, root, root))  # checked after resolving .. and symlinks; nothing opened
    except CellError:
        raise CellError(f"path {value[:200]!r} is outside the server's allowed root; name a file inside it "
                        f"(relative paths start there), or {SEND_BYTES}") from None
    except (OSError, ValueError, RuntimeError) as err:  # too long, a symlink loop, ...
        raise CellError(f"path {value[:200]!r} cannot be resolved ({type(err).__name__})") from None


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise CellError(f"the base64 data cannot be decoded ({err}); send standard base64 (A-Z a-z 0-9 + /, "
                        "padded with =)") from None


def _check_unicode(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise CellError("the string holds a lone surrogate (\\ud800-\\udfff), which is not valid Unicode; "
                        "send UTF-8 text") from None


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"
