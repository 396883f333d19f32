"""OpenAPI schemas of the request bodies and responses, generated from the served model's columns and
tasks: every feature column is a required property of a row, typed by its modality; predictions are
typed by each task's classes."""

from __future__ import annotations

from typing import Any

from transmodal.serving.model import ServedModel

NULL = {"type": "null"}
ERROR = {
    "type": "object", "required": ["error", "details"],
    "properties": {
        "error": {"type": "string"},
        "details": {"type": "array", "items": {
            "type": "object", "required": ["row", "column", "message"],
            "properties": {"row": {"type": ["integer", "null"]}, "column": {"type": ["string", "null"]},
                           "message": {"type": "string"}}}},
    },
}
ERROR_CODES = {400: "Malformed body (not JSON, not a list of row objects)", 413: "Body or row count over the limit",
               415: "Neither application/json nor multipart/form-data",
               422: "A missing column, a cell of the wrong type, an undecodable image/audio, a refused path; "
                    "the details name each row and column"}


def cell_schema(modality: str) -> dict[str, Any]:
    """The JSON schema of one cell of ``modality`` (null is an empty cell, a missing modality)."""
    if modality == "numeric":
        return {"type": ["number", "null"]}
    if modality == "categorical":
        return {"type": ["string", "number", "boolean", "null"]}
    if modality == "text":
        return {"type": ["string", "null"]}
    return {"anyOf": [
        {"type": "string", "description": f"a data:...;base64,DATA URI, or a path of an {modality} file inside "
                                          "the server's --allowed-root (relative paths start there)"},
        {"type": "object", "properties": {"base64": {"type": "string", "contentEncoding": "base64"}},
         "required": ["base64"], "additionalProperties": False},
        {"type": "object", "properties": {"upload": {"type": "string"}}, "required": ["upload"],
         "additionalProperties": False, "description": "the file part of that name (multipart requests)"},
        NULL]}


def row_schema(model: ServedModel) -> dict[str, Any]:
    """One row: every feature column, required, typed by modality (other keys are ignored)."""
    columns = model.column_types
    return {"type": "object", "properties": {c: cell_schema(m) for c, m in columns.items()},
            "required": list(columns)}


def request_body(model: ServedModel, max_rows: int) -> dict[str, Any]:
    """The ``requestBody`` of ``/predict`` and ``/predict_proba``: JSON, or multipart with uploads."""
    rows = {"type": "array", "items": row_schema(model), "minItems": 1, "maxItems": max_rows}
    return {"required": True, "content": {
        "application/json": {"schema": {"type": "object", "properties": {"rows": rows}, "required": ["rows"]}},
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["rows"],
            "properties": {"rows": {"type": "string", "description": 'the JSON list of rows; a cell {"upload": '
                                                                     'PART} takes the file part PART'}},
            "additionalProperties": {"type": "string", "format": "binary"}}},
    }}


def _task_value(task) -> dict[str, Any]:
    if task.problem_type == "regression":
        return {"type": ["number", "null"]}
    if task.problem_type == "multilabel":
        return {"type": "string", "description": "the predicted labels joined by ';'"}
    return {"enum": list(task.classes)}


def _task_proba(task) -> dict[str, Any]:
    names = [str(c) for c in task.classes]
    return {"type": "object", "properties": {n: {"type": "number"} for n in names}, "required": names}


def responses(model: ServedModel, kind: str) -> dict[int, dict[str, Any]]:
    """The documented responses of ``/predict`` (``kind`` predict) or ``/predict_proba``."""
    tasks = [t for t in model.tasks if kind == "predict" or t.problem_type != "regression"]
    one = _task_value if kind == "predict" else _task_proba
    if model.single:
        item = one(tasks[0])
    else:
        item = {"type": "object", "properties": {t.name: one(t) for t in tasks}, "required": [t.name for t in tasks]}
    key = "predictions" if kind == "predict" else "probabilities"
    ok = {"type": "object", "properties": {key: {"type": "array", "items": item}}, "required": [key]}
    documented = {200: {"description": f"One {key[:-1]} per row, in the rows' order",
                        "content": {"application/json": {"schema": ok}}}}
    documented.update({code: {"description": text, "content": {"application/json": {"schema": ERROR}}}
                       for code, text in ERROR_CODES.items()})
    return documented
