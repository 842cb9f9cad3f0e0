"""Parse a request (a JSON-like dict or JSON text) into a validated model, or raise RequestInvalid."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import ValidationError

from docgen.errors import FieldProblem, RequestInvalid
from docgen.model import (ALLOW_NCA_TEST_IDENTITIES, REQUEST_ADAPTER, REQUEST_MODELS, DocumentType,
                          LocatedError)

__all__ = ["parse_request", "problems_from"]

_TAGS = {t.value for t in DocumentType}


def _path(loc: tuple, located: LocatedError | None) -> str:
    # The discriminated union adds the type tag as the first location element: drop it.
    parts = [str(p) for p in loc if not (isinstance(p, str) and p in _TAGS and p == loc[0])]
    # Sub-models built with Tag() add their tag ("person", "single", …) into the path: drop those too.
    parts = [p for p in parts if p not in ("person", "organization", "single", "shared")]
    if located is not None and located.path:
        parts.append(located.path)
    return ".".join(parts)


def problems_from(err: ValidationError) -> list[FieldProblem]:
    out: list[FieldProblem] = []
    for e in err.errors(include_url=False):
        located = (e.get("ctx") or {}).get("error")
        located = located if isinstance(located, LocatedError) else None
        msg = located.message if located else e["msg"].removeprefix("Value error, ")
        out.append(FieldProblem(_path(tuple(e["loc"]), located), msg))
    return out


def parse_request(raw: Any, *, today: dt.date | None = None, allow_nca_test_identities: bool = False):
    """`raw` is a dict, or JSON text/bytes. Returns one of the REQUEST_MODELS instances.

    ``today`` is the reference date of the rules that refuse future dates (a decision, an
    application, a birth date in an IIN); pass Kazakhstan's date from the process's clock. Without
    it the date in Asia/Almaty is used, never the server's local date.
    ``allow_nca_test_identities``: expected signers may be the NCA's test identities
    (`docgen.model.NCA_TEST_IINS`; Settings.allow_nca_test_identities); refused otherwise."""
    if isinstance(raw, (bytes, str)):
        try:
            raw = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise RequestInvalid([FieldProblem("", f"not valid JSON: {e}")]) from None
    if not isinstance(raw, dict):
        raise RequestInvalid([FieldProblem("", "the request must be a JSON object")])
    try:
        return REQUEST_ADAPTER.validate_python(raw, context={
            "today": today, ALLOW_NCA_TEST_IDENTITIES: allow_nca_test_identities})
    except ValidationError as e:
        raise RequestInvalid(problems_from(e)) from None


def json_schema(doc_type: DocumentType) -> dict:
    return REQUEST_MODELS[DocumentType(doc_type)].model_json_schema(by_alias=True)
