"""Reading a request body within a size limit, as JSON or as multipart form data with file uploads.

A JSON body is ``{"rows": [{column: value, ...}, ...]}``. A multipart body has a field ``rows`` holding
the JSON list of rows and file parts; a cell ``{"upload": NAME}`` takes the bytes of the file part
named NAME.
"""

from __future__ import annotations

import json
from typing import Any

from transmodal.serving.errors import RequestError

JSON_TYPE, MULTIPART_TYPE = "application/json", "multipart/form-data"
MAX_PARTS = 1000  # file and field parts in one multipart body at most


async def read_body(request, limit: int) -> bytes:
    """The whole body of ``request`` (a Starlette request), refused with 413 beyond ``limit`` bytes,
    before reading it when its Content-Length says so."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> RequestError:
    return RequestError(413, f"the request body has {size} bytes or more, over the server's limit of {limit} "
                             "bytes (--max-body-mb); send fewer rows or smaller files per request")


async def parse_body(content_type: str, body: bytes, limit: int) -> tuple[Any, dict[str, bytes]]:
    """``(rows, uploads)`` of a body: the JSON value of its rows (checked later) and the uploaded files
    by part name.

    Raises:
        RequestError: 415 for another content type, 400 for a body that is not valid JSON or multipart.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if media == JSON_TYPE:
        document = parse_json(body, "the request body")
        if not isinstance(document, dict) or "rows" not in document:
            raise RequestError(400, 'the request body must be a JSON object {"rows": [{column: value, ...}, ...]}')
        return document["rows"], {}
    if media == MULTIPART_TYPE:
        return await _parse_multipart(content_type, body, limit)
    raise RequestError(415, f"content type {media or '(none)'!r} is not accepted; send {JSON_TYPE} "
                            f"or {MULTIPART_TYPE}")


def parse_json(data: bytes | str, what: str) -> Any:
    """``data`` parsed as strict JSON (no NaN or Infinity literals).

    Raises:
        RequestError: 400 naming ``what`` and the parser's complaint.
    """
    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON; send null for an empty cell")

    try:
        return json.loads(data, parse_constant=refuse)
    except (ValueError, RecursionError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise RequestError(400, f"{what} is not valid JSON: {err}") from None


async def _parse_multipart(content_type: str, body: bytes, limit: int) -> tuple[Any, dict[str, bytes]]:
    from starlette.datastructures import Headers, UploadFile
    from starlette.formparsers import MultiPartException, MultiPartParser

    async def stream():
        yield body

    parser = MultiPartParser(Headers({"content-type": content_type}), stream(), max_files=MAX_PARTS,
                             max_fields=MAX_PARTS, max_part_size=limit)
    try:
        form = await parser.parse()
    except MultiPartException as err:
        raise RequestError(400, f"the multipart body cannot be read: {err.message}") from None
    except (ValueError, KeyError, UnicodeDecodeError) as err:
        raise RequestError(400, f"the multipart body cannot be read: {err}") from None
    uploads: dict[str, bytes] = {}
    rows_text = None
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            uploads[name] = await value.read()
            await value.close()
        elif name == "rows":
            rows_text = value
    if rows_text is None:
        raise RequestError(400, "the multipart body has no field 'rows' (the JSON list of rows; a cell "
                                '{"upload": NAME} takes the file part named NAME)')
    return parse_json(rows_text, "the multipart field 'rows'"), uploads
