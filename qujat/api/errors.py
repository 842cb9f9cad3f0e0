"""Every error the API answers is JSON ``{code, message, problems: [{path, message}]}``.

FastAPI's and Starlette's own errors (validation, 404, 405, 413 …) are rewritten into that shape
too; what the layers below raise is mapped here, in one table, so that a router never builds an
error response itself. Bad input never becomes a 500: a 500 means a bug, its body says nothing
but ``internal_error`` and the traceback goes to the log (which never holds secrets: no request
body, header or key is logged).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from docgen.convert import PoolBusyError
from qujat.api.bodylimit import TOO_LARGE_MESSAGE, BodyTooLarge
from docgen.errors import DocgenError, RequestInvalid
from qujat.service import ExternalIdTaken
from signing.errors import SigningPackageError
from store import Conflict, IdempotencyMismatch, InFlight, NotFound

__all__ = ["ApiError", "error_response", "install"]

log = logging.getLogger(__name__)

RETRY_AFTER_BUSY = "5"      # seconds: LibreOffice workers or verification slots all taken
RETRY_AFTER_IN_FLIGHT = "1"

_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 406: "not_acceptable", 409: "conflict",
                 413: "content_too_large", 415: "unsupported_media_type", 422: "invalid_request",
                 429: "too_many_requests", 503: "unavailable"}


class ApiError(Exception):
    """An error a router raises on purpose: status, code, message, problems, headers."""

    def __init__(self, status: int, code: str, message: str, *,
                 problems: Iterable[tuple[str, str]] = (), headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.problems = [{"path": p, "message": m} for p, m in problems]
        self.headers = dict(headers or {})


def error_response(status: int, code: str, message: str, problems: list[dict] | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "problems": problems or []},
                        status_code=status, headers=dict(headers or {}))


def _loc_path(loc: Iterable) -> str:
    """FastAPI's error location as a dotted path: ``body`` dropped, ``query``/``header``/
    ``path`` kept as the first part (``header.idempotency-key``)."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.problems, exc.headers)


async def _request_invalid(request: Request, exc: RequestInvalid) -> JSONResponse:
    return error_response(422, "invalid_request",
                          f"the request has {len(exc.problems)} problem(s); nothing was issued",
                          [{"path": p.path, "message": p.message} for p in exc.problems])


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [{"path": _loc_path(e.get("loc", ())),
                 "message": str(e.get("msg", "invalid")).removeprefix("Value error, ")}
                for e in exc.errors()]
    return error_response(422, "invalid_request", f"the request has {len(problems)} problem(s)", problems)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if isinstance(exc.__cause__, BodyTooLarge):   # FastAPI wraps what broke reading a form
        return await _too_large(request, exc.__cause__)
    status = exc.status_code
    code = _STATUS_CODES.get(status, "error")
    detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if status == 404 and detail == "Not Found":
        detail = f"nothing at {request.url.path}"
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    elif status == 400 and isinstance(exc.__cause__, Exception):
        detail = "the request body could not be read (malformed form data?)"
    return error_response(status, code, detail, headers=getattr(exc, "headers", None))


async def _too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
    return error_response(413, "content_too_large", TOO_LARGE_MESSAGE,
                          [{"path": "", "message": f"at most {exc.limit} bytes"}], {"Connection": "close"})


async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
    return error_response(404, "not_found", str(exc))


async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
    if isinstance(exc, InFlight):
        return error_response(409, "in_flight", str(exc), headers={"Retry-After": RETRY_AFTER_IN_FLIGHT})
    problems = [{"path": "external_id", "message": str(exc)}] if isinstance(exc, ExternalIdTaken) else []
    code = "external_id_taken" if isinstance(exc, ExternalIdTaken) else "conflict"
    return error_response(409, code, str(exc), problems)


async def _mismatch(request: Request, exc: IdempotencyMismatch) -> JSONResponse:
    return error_response(422, "idempotency_key_reused", str(exc),
                          [{"path": "header.idempotency-key", "message": str(exc)}])


async def _busy(request: Request, exc: PoolBusyError) -> JSONResponse:
    return error_response(503, "busy", "every document converter is busy; retry shortly",
                          headers={"Retry-After": RETRY_AFTER_BUSY})


async def _docgen(request: Request, exc: DocgenError) -> JSONResponse:
    # A valid request that could not be rendered: a template or LibreOffice fault, not the caller's.
    log.error("rendering failed: %s: %s", type(exc).__name__, exc)
    return error_response(500, "render_failed", "the document could not be rendered")


async def _signing(request: Request, exc: SigningPackageError) -> JSONResponse:
    # Issuing only: a key or TSA problem on our side (verification maps its errors itself).
    log.error("signing failed: %s: %s", type(exc).__name__, exc)
    return error_response(503, "signing_unavailable", "the document could not be signed; retry later",
                          headers={"Retry-After": RETRY_AFTER_BUSY})


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises the exception after this response, so the server logs its traceback.
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return error_response(500, "internal_error", "internal error")


def install(app: FastAPI) -> None:
    """Register every handler on ``app`` (the most specific class wins)."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestInvalid, _request_invalid)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(BodyTooLarge, _too_large)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(IdempotencyMismatch, _mismatch)
    app.add_exception_handler(PoolBusyError, _busy)
    app.add_exception_handler(DocgenError, _docgen)
    app.add_exception_handler(SigningPackageError, _signing)
    app.add_exception_handler(Exception, _internal)
