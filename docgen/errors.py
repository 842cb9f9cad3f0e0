"""Errors of the document layer. Each says what to fix, with the JSON path of the field."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DocgenError", "FieldProblem", "RequestInvalid", "TemplateMissing", "RenderFailed"]


class DocgenError(Exception):
    """Base of every error raised by docgen."""


@dataclass(frozen=True)
class FieldProblem:
    path: str      # dotted JSON path, list indices as numbers: "data.plan.points.3.x"
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(request)'}: {self.message}"


class RequestInvalid(DocgenError):
    """The request breaks the contract; nothing was rendered or written."""

    def __init__(self, problems: list[FieldProblem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))

    def as_dict(self) -> dict:
        return {
            "code": "invalid_request",
            "message": f"the request has {len(self.problems)} problem(s)",
            "errors": [{"path": p.path, "message": p.message} for p in self.problems],
        }


class TemplateMissing(DocgenError):
    """No template for this type and language: a deployment error, not a request error."""


class RenderFailed(DocgenError):
    """The template could not be filled (a template defect; the request was valid)."""
