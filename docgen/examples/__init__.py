"""Valid example requests, one per document type (the JSON files beside this module)."""
from __future__ import annotations

import json
from importlib import resources

from docgen.model import DocumentType

__all__ = ["example_request"]


def example_request(doc_type: str) -> dict:
    """A fresh copy of the example request of ``doc_type`` (a JSON-like dict)."""
    name = f"{DocumentType(doc_type).value}.json"
    return json.loads(resources.files(__name__).joinpath(name).read_text("utf-8"))
