"""The issuing request in the OpenAPI document: docgen's JSON Schema of each of the five types,
their shared definitions as components, and the example request of each type."""
from __future__ import annotations

from typing import Any

from docgen.examples import example_request
from docgen.model import DocumentType
from docgen.request import json_schema

__all__ = ["request_components", "issue_request_body"]

_REF = "#/components/schemas/"


def _retarget(node: Any) -> Any:
    """The same schema with its ``#/$defs/X`` references pointing at ``#/components/schemas/X``."""
    if isinstance(node, dict):
        return {k: (_REF + v.removeprefix("#/$defs/") if k == "$ref" and isinstance(v, str) else _retarget(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_retarget(v) for v in node]
    return node


def _name(doc_type: DocumentType) -> str:
    return "".join(part.capitalize() for part in doc_type.value.split("_")) + "Request"


def request_components() -> dict[str, dict]:
    """Component schemas: one request schema per type and every definition they use. Two types
    sharing a definition share its component; two different definitions under one name would be
    a docgen bug and fail here."""
    components: dict[str, dict] = {}
    for doc_type in DocumentType:
        schema = _retarget(json_schema(doc_type))
        for name, definition in schema.pop("$defs", {}).items():
            if components.setdefault(name, definition) != definition:
                raise RuntimeError(f"two different request definitions are named {name!r}")
        components[_name(doc_type)] = schema
    return components


def issue_request_body() -> dict:
    """``openapi_extra`` of `POST /documents`: one of the five request schemas, chosen by
    ``type``, with each type's example."""
    refs = {t.value: _REF + _name(t) for t in DocumentType}
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"oneOf": [{"$ref": ref} for ref in refs.values()],
                   "discriminator": {"propertyName": "type", "mapping": refs}},
        "examples": {t.value: {"summary": t.value.replace("_", " "), "value": example_request(t.value)}
                     for t in DocumentType},
    }}}}
