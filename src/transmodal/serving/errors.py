"""``RequestError``: a bad request, answered with a 4xx and a JSON message naming rows and columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: where (row, column; None when not about one) and what."""

    message: str
    row: int | None = None
    column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class RequestError(Exception):
    """A request the server refuses; ``status`` is the HTTP code (4xx).

    The response body is ``{"error": message, "details": [{"row", "column", "message"}, ...]}``.
    """

    status: int
    message: str
    details: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.message, "details": [p.to_dict() for p in self.details]}


def problems_message(problems: list[Problem], shown: int = 5) -> str:
    """One line summing up ``problems`` (the first ``shown`` named)."""
    parts = [(f"row {p.row}, column {p.column!r}: " if p.row is not None and p.column is not None else
              f"column {p.column!r}: " if p.column is not None else f"row {p.row}: " if p.row is not None else "")
             + p.message for p in problems[:shown]]
    more = f" (and {len(problems) - shown} more)" if len(problems) > shown else ""
    return "; ".join(parts) + more
