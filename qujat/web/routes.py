"""The citizen's pages: ``/v/{token}`` and what hangs off it.

| route                          | what                                                       |
|--------------------------------|------------------------------------------------------------|
| GET  /v                        | a form to type the verification code (?code= looks it up)  |
| GET  /v/{token}                | the page: status, details, signatures, file, versions      |
| GET  /v/{token}.json           | the same for machines (same masked data)                   |
| GET  /v/{token}/pdf[?version=] | the issued PDF (the current version by default)            |
| POST /v/{token}/compare        | upload a file: is it one that was issued, which version?   |
| GET  /assets/web/{name}        | the stylesheet (immutable, its hash in the name)           |

Server-rendered (Jinja2, autoescaping), no JavaScript. The runtime is ``app.state.runtime`` (the
app's lifespan opens it); the counters of the rate limits and the verification cache live in the
app's state too. Handlers are plain functions (FastAPI runs them in its thread pool): the store
and the verifier block.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined

from docgen.tokens import TOKEN_LENGTH, TokenError, canonical_token, format_token
from qujat import signflow
from qujat.web.facts import describe, format_day, format_moment, show
from qujat.web.i18n import LANGUAGE_NAMES, LANGS, data_lang, negotiate, text
from qujat.web.mask import mask_free_text
from qujat.web.ratelimit import RateLimiter, RateLimits, client_key
from qujat.web.signers import VerificationCache, _title_case, check_stored, signer_views
from store import NotFound, Status

__all__ = ["PublicOptions", "make_public_router", "rate_limit"]

log = logging.getLogger(__name__)

_ENV = Environment(loader=PackageLoader("qujat.web", "templates"), autoescape=True,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_STATE_LOCK = threading.Lock()
_CSS = "qujat.css"

_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",          # the token in the URL is the key to the document
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class PublicOptions:
    """What the public pages allow: rate limits, the largest upload, how long a signature check
    is reused."""

    limits: RateLimits = field(default_factory=RateLimits)
    max_upload_bytes: int = 20 * 1024 * 1024
    verification_ttl_s: float = 600.0


class _State:
    """One app's counters and cache (in ``app.state``, never at module level)."""

    def __init__(self, options: PublicOptions):
        self.limiter = RateLimiter(options.limits)
        self.verifications = VerificationCache(ttl_s=options.verification_ttl_s)


def _state(request: Request, options: PublicOptions) -> _State:
    app_state = request.app.state
    with _STATE_LOCK:
        states = getattr(app_state, "qujat_web", None)
        if states is None:
            states = app_state.qujat_web = {}
        if options not in states:
            states[options] = _State(options)
        return states[options]


def rate_limit(kind: str = "compare", options: PublicOptions | None = None):
    """A FastAPI dependency that counts a call against the client's ``kind`` budget — the same
    counters as the public pages' (with equal ``options``: by default those of `make_public_router()`),
    so that an upload to ``/verify`` and one to ``/v/{token}/compare`` share one budget:

        @router.post("/verify", dependencies=[Depends(rate_limit("compare"))])

    Past the limit: `HTTPException` 429 with ``Retry-After``."""
    options = options or PublicOptions()
    if kind not in options.limits.items():
        raise ValueError(f"unknown rate limit {kind!r}")

    def dependency(request: Request) -> None:
        wait = _state(request, options).limiter.hit(kind, client_key(request.client.host if request.client else None))
        if wait is not None:
            raise HTTPException(429, f"too many requests; retry in {wait} s", headers={"Retry-After": str(wait)})

    return dependency


@lru_cache(maxsize=1)
def _stylesheet() -> tuple[bytes, str]:
    data = resources.files("qujat.web").joinpath("static", _CSS).read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:12]


class _Page:
    """What every page needs: the language, its URLs and a renderer."""

    def __init__(self, request: Request):
        self.request = request
        self.lang = negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))
        self.root = request.scope.get("root_path", "").rstrip("/")

    def url(self, path: str, lang: str | None = None, **query: Any) -> str:
        params = {"lang": lang or self.lang, **{k: v for k, v in query.items() if v is not None}}
        return f"{self.root}{path}?{urlencode(params)}"

    def html(self, template: str, status: int = 200, headers: dict[str, str] | None = None, /,
             **context: Any) -> HTMLResponse:
        lang = self.lang
        path = self.request.url.path[len(self.root):] if self.request.url.path.startswith(self.root) \
            else self.request.url.path
        own_path = path if self.request.method == "GET" else path.rsplit("/", 1)[0]
        keep = {k: v for k, v in self.request.query_params.items() if k != "lang"} \
            if self.request.method == "GET" else {}
        body = _ENV.get_template(template).render(
            lang=lang, _=lambda key, **kw: text(key, lang, **kw),
            languages=[{"code": code, "name": LANGUAGE_NAMES[code], "current": code == lang,
                        "href": self.url(own_path, code, **keep)} for code in LANGS],
            css_url=f"{self.root}/assets/web/qujat.{_stylesheet()[1]}.css",
            data_lang=data_lang(lang), lookup_url=self.url("/v").split("?")[0], **context)
        response = HTMLResponse(body, status_code=status, headers={
            **_SECURITY_HEADERS, "Cache-Control": "no-store", "Content-Language": lang,
            "Vary": "Accept-Language", **(headers or {})})
        return response


def runtime_of(request: Request):
    """The app's runtime (built by its lifespan); the web pages read records through it."""
    rt = getattr(request.app.state, "runtime", None)
    if rt is None or rt.store is None:
        raise RuntimeError("the app has no runtime with a records store (app.state.runtime)")
    return rt


def make_public_router(options: PublicOptions | None = None) -> APIRouter:
    """The public pages as a router (``app.include_router(make_public_router())``)."""
    options = options or PublicOptions()
    router = APIRouter(tags=["public page"])
    limit_mb = max(1, options.max_upload_bytes // (1024 * 1024))

    def limited(request: Request, kind: str, page: _Page | None) -> Response | None:
        wait = _state(request, options).limiter.hit(kind, client_key(request.client.host if request.client else None))
        if wait is None:
            return None
        headers = {"Retry-After": str(wait)}
        if page is None:
            return JSONResponse({"code": "rate_limited", "message": f"too many requests; retry in {wait} s"},
                                status_code=429, headers=headers)
        return page.html("message.html", 429, headers, heading=text("too_many", page.lang),
                         message=text("too_many.note", page.lang, s=wait), lookup=False)

    def not_found(page: _Page, reason: str) -> HTMLResponse:
        message = (text("not_found.length", page.lang, n=TOKEN_LENGTH) if reason == "length"
                   else text(f"not_found.{reason}", page.lang))
        return page.html("message.html", 404, None, heading=text("not_found", page.lang), message=message,
                         lookup=True, code="")

    def opened(request: Request, token: str, kind: str):
        """(page, record, None) for a known document within the client's limit, else
        (page, None, the answer: 429 or 404)."""
        page = _Page(request)
        if (refused := limited(request, kind, page)) is not None:
            return page, None, refused
        record, why = record_of(request, token)
        return page, record, (not_found(page, why) if record is None else None)

    def record_of(request: Request, token: str):
        """(record, None), or (None, why not: length | character | check | unknown)."""
        try:
            canonical = canonical_token(token)
        except TokenError as e:
            return None, e.reason
        try:
            return runtime_of(request).store.by_token(canonical), None
        except NotFound:
            return None, "unknown"

    # -- the code lookup ---------------------------------------------------------------------------

    @router.get("/v", response_class=HTMLResponse, summary="Type a verification code")
    def lookup(request: Request, code: str | None = None):
        page = _Page(request)
        if (r := limited(request, "page", page)) is not None:
            return r
        if code is None or not code.strip():
            return page.html("message.html", heading=text("lookup_heading", page.lang),
                             message=text("lookup_intro", page.lang), lookup=True, code="")
        try:
            canonical = canonical_token(code)
        except TokenError as e:
            message = (text("not_found.length", page.lang, n=TOKEN_LENGTH) if e.reason == "length"
                       else text(f"not_found.{e.reason}", page.lang))
            return page.html("message.html", 400, None, heading=text("lookup_heading", page.lang),
                             message=message, lookup=True, code=code[:100], error=True)
        return RedirectResponse(page.url(f"/v/{canonical}"), status_code=303)

    # -- the stylesheet ----------------------------------------------------------------------------

    @router.get("/assets/web/{name}", include_in_schema=False)
    def stylesheet(name: str):
        data, digest = _stylesheet()
        if name != f"qujat.{digest}.css":
            return Response(status_code=404)
        return Response(data, media_type="text/css; charset=utf-8", headers={
            "Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"})

    # -- machines ------------------------------------------------------------------------------

    @router.get("/v/{token}.json", summary="A document's public facts (JSON)",
                responses={404: {"description": "no document with this code"},
                           429: {"description": "too many requests"}})
    def page_json(request: Request, token: str):
        if (r := limited(request, "page", None)) is not None:
            return r
        record, why = record_of(request, token)
        if record is None:
            return JSONResponse({"code": "not_found", "message": "no document with this verification code",
                                 "reason": why}, status_code=404)
        if _unsigned(runtime_of(request), record):
            body = _awaiting_json(request, record)
        else:
            body = _as_json(request, _summary(request, record, _state(request, options)))
        return JSONResponse(body, headers={
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
            "Access-Control-Allow-Origin": "*"})

    # -- the page ------------------------------------------------------------------------------

    @router.get("/v/{token}", response_class=HTMLResponse, summary="The document's verification page",
                responses={404: {"description": "no document with this code"},
                           429: {"description": "too many requests"}})
    def document_page(request: Request, token: str):
        page, record, answer = opened(request, token, "page")
        if answer is not None:
            return answer
        if token != record.token:             # typed: lower case, grouped, O for 0 … → one URL
            return RedirectResponse(page.url(f"/v/{record.token}"), status_code=308)
        if _unsigned(runtime_of(request), record):
            return page.html("awaiting.html", **_awaiting_context(page, runtime_of(request), record))
        summary = _summary(request, record, _state(request, options))
        return page.html("page.html", **_page_context(page, summary, limit_mb))

    @router.get("/v/{token}/pdf", summary="The issued PDF", response_class=Response,
                responses={200: {"content": {"application/pdf": {}}},
                           404: {"description": "no such document or version"}})
    def pdf(request: Request, token: str, version: int | None = None):
        page, record, answer = opened(request, token, "download")
        if answer is not None:
            return answer
        store = runtime_of(request).store
        number = record.current_version if version is None else version
        found = [v for v in store.versions(record.id) if v.number == number]
        if not found and _unsigned(runtime_of(request), record):
            awaiting = record.status is Status.AWAITING_SIGNATURE
            return page.html("message.html", 409, None, heading=_status(record, page.lang)["text"],
                             message=text("awaiting.no_file" if awaiting else "status.annulled.note", page.lang),
                             lookup=False, back=page.url(f"/v/{record.token}"))
        if not found:
            return not_found(page, "unknown")
        data = store.blobs.get(found[0].pdf_sha256)
        name = f"{record.type}_{record.token}_v{number}.pdf"
        return Response(data, media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "ETag": f'"{found[0].pdf_sha256}"', "Cache-Control": "private, no-cache",
            "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox",
            "Referrer-Policy": "no-referrer"})

    @router.post("/v/{token}/compare", response_class=HTMLResponse,
                 summary="Is this file one that was issued as the document, and which version?",
                 openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {
                     "schema": {"type": "object", "required": ["file"],
                                "properties": {"file": {"type": "string", "format": "binary"}}}}}}},
                 responses={400: {"description": "no file"}, 404: {"description": "no document with this code"},
                            413: {"description": "the file is too large"}, 429: {"description": "too many requests"}})
    async def compare(request: Request, token: str):
        page, record, answer = await run_in_threadpool(opened, request, token, "compare")
        if answer is not None:
            return answer
        back = page.url(f"/v/{record.token}")

        def refuse(status: int, key: str) -> HTMLResponse:
            return page.html("message.html", status, None, heading=text("result_heading", page.lang),
                             message=text(key, page.lang, mb=limit_mb), lookup=False, back=back,
                             error=True)

        try:
            length = int(request.headers.get("content-length", ""))
        except ValueError:
            length = None
        if length is None or length < 0:
            return refuse(411 if length is None else 400, "upload.bad_form")
        if length > options.max_upload_bytes + 64 * 1024:    # the file plus the form's own bytes
            return refuse(413, "upload.too_large")
        try:
            form = await request.form(max_files=1, max_fields=4)
        except Exception:  # noqa: BLE001 - malformed multipart of any kind is the sender's error
            return refuse(400, "upload.bad_form")
        try:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                return refuse(400, "upload.empty")
            digest, size = await run_in_threadpool(_sha256_of, upload.file, options.max_upload_bytes)
            filename = (upload.filename or "")[:200]
        finally:
            await form.close()
        if size == 0:
            return refuse(400, "upload.empty")
        if size > options.max_upload_bytes:
            return refuse(413, "upload.too_large")
        versions = await run_in_threadpool(runtime_of(request).store.versions, record.id)
        matched = next((v for v in versions if hmac.compare_digest(v.pdf_sha256, digest)), None)
        return page.html("compare.html", 200, None, **_compare_context(page, record, matched, digest, filename, size))

    return router


def _sha256_of(file, limit: int) -> tuple[str, int]:
    """SHA-256 and size of an uploaded file, reading at most ``limit`` + 1 bytes."""
    h, size = hashlib.sha256(), 0
    file.seek(0)
    while size <= limit:
        chunk = file.read(1 << 16)
        if not chunk:
            break
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


# -- what the page shows ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Summary:
    record: Any
    versions: tuple
    current: Any
    description: Any
    checked: Any
    signers: list
    tz: ZoneInfo


def _summary(request: Request, record, state: _State) -> _Summary:
    rt = runtime_of(request)
    store = rt.store
    versions = store.versions(record.id)
    current = next(v for v in versions if v.number == record.current_version)
    checked = state.verifications.get(
        current.pdf_sha256, lambda: check_stored(store.blobs.get(current.pdf_sha256), rt.trust_anchors, rt.clock()))
    description = describe(record.type, record.data, issued_on=rt.settings.today(record.created_at))
    signers = signer_views(checked.report, current.signatures, description.officials)
    return _Summary(record, versions, current, description, checked, signers, ZoneInfo(rt.settings.timezone))


def _as_json(request: Request, s: _Summary) -> dict[str, Any]:
    r, rt = s.record, runtime_of(request)
    base = rt.settings.public_base_url.rstrip("/")
    return {
        "token": r.token,
        "code": format_token(r.token),
        "verification_url": f"{base}/v/{r.token}",
        "status": r.status.value,
        "valid": r.status.value == "valid",
        "annulled": {"at": r.annulled_at.isoformat(), "reason": mask_free_text(r.annulled_reason or "")}
        if r.annulled_at else None,
        "language": r.language,
        "document": s.description.as_json(),
        "current_version": r.current_version,
        "pdf_sha256": s.current.pdf_sha256,
        "pdf_url": f"{base}/v/{r.token}/pdf",
        "versions": [{"number": v.number, "created_at": v.created_at.isoformat(), "pdf_sha256": v.pdf_sha256,
                      "current": v.number == r.current_version,
                      "pdf_url": f"{base}/v/{r.token}/pdf?version={v.number}"} for v in s.versions],
        "signatures": [v.as_json() for v in s.signers],
        "signatures_checked_at": s.checked.checked_at.isoformat(),
    }


def _status(record, lang: str) -> dict[str, Any]:
    status = record.status.value
    return {"kind": status, "text": text(f"status.{status}", lang),
            "note": text(f"status.{status}.note", lang, n=record.current_version)}


def _details(lang: str, r, d) -> list[dict[str, Any]]:
    """The document's details for a page (the title is the page's heading)."""
    details = []
    if d.number is not None:
        details.append({"label": text(f"field.{d.number.key}", lang), "lines": show(d.number, lang)})
    if d.issued_on:
        details.append({"label": text("field.date", lang), "lines": [(format_day(d.issued_on, lang), None)]})
    if d.issuer:
        dl = data_lang(lang)
        details.append({"label": text("field.issuer", lang),
                        "lines": [(d.issuer["name"][dl], dl if dl != lang else None)]})
    details += [{"label": text(f"fact.{f.key}", lang), "lines": show(f, lang)} for f in d.facts]
    details.append({"label": text("field.language", lang), "lines": [(text(f"doc_language.{r.language}", lang), None)]})
    return details


def _page_context(page: _Page, s: _Summary, limit_mb: int) -> dict[str, Any]:
    lang, r, d = page.lang, s.record, s.description
    token = r.token
    details = _details(lang, r, d)
    signers = []
    for v in s.signers:
        rows = []
        if v.position:
            dl = data_lang(lang)
            rows.append((text("signer.position", lang), v.position[dl], dl if dl != lang else None))
        elif v.role:
            rows.append((text("signer.role", lang), text(f"role.{v.role}", lang), None))
        if v.organization:
            rows.append((text("signer.organization", lang), v.organization, None))
        if v.signed_at:
            rows.append((text("signer.time", lang), format_moment(v.signed_at, lang, s.tz), None))
        signers.append({"name": v.name, "rows": rows, "check": v.check,
                        "check_text": text(f"check.{v.check}", lang)})
    in_force = r.status.value == "valid"
    versions = [{"number": v.number, "anchor": f"version-{v.number}",
                 "badge": ("current" if in_force else "latest") if v.number == r.current_version else "superseded",
                 "created": format_moment(v.created_at, lang, s.tz), "sha256": v.pdf_sha256,
                 "href": page.url(f"/v/{token}/pdf", version=v.number)}
                for v in sorted(s.versions, key=lambda v: -v.number)]
    return {
        "title": d.title[lang],
        "status": _status(r, lang),
        "annulled_on": format_moment(r.annulled_at, lang, s.tz) if r.annulled_at else None,
        "annulled_reason": mask_free_text(r.annulled_reason) if r.annulled_reason else None,
        "details": details,
        "signers": signers,
        "checked_at": format_moment(s.checked.checked_at, lang, s.tz),
        "sha256": s.current.pdf_sha256,
        "size_kb": max(1, round(s.checked.size / 1024)),
        "download_href": page.url(f"/v/{token}/pdf"),
        "versions": versions,
        "compare_action": page.url(f"/v/{token}/compare"),
        "limit_mb": limit_mb,
        "code": format_token(token),
    }


def _compare_context(page: _Page, record, matched, digest: str, filename: str, size: int) -> dict[str, Any]:
    lang = page.lang
    if matched is None:
        result, details = text("no_match.title", lang), [text("no_match", lang), text("no_match.note", lang)]
    elif matched.number == record.current_version:
        result, details = text("match.title", lang), [text("match.current", lang, n=matched.number)]
    else:
        result, details = text("match.title", lang), [
            text("match.older", lang, n=matched.number, current=record.current_version)]
    if matched is None or record.status.value == "annulled":
        kind = "annulled"                      # red: not ours, or no longer valid
    elif matched.number != record.current_version or record.status.value != "valid":
        kind = "superseded"                    # amber: ours, but not the document in force
    else:
        kind = "valid"
    return {
        "title": text("result_heading", lang),
        "kind": kind,
        "matched": matched is not None,
        "result": result,
        "details": details,
        "annulled": record.status.value == "annulled",
        "superseded": matched is not None and matched.number != record.current_version,
        "current_href": page.url(f"/v/{record.token}/pdf"),
        "filename": filename,
        "size_kb": max(1, round(size / 1024)),
        "digest": digest,
        "back": page.url(f"/v/{record.token}"),
        "code": format_token(record.token),
    }


# -- a document awaiting its officials' signatures -----------------------------------------------

def _unsigned(rt, record) -> bool:
    """True for a record that has no signed version: awaiting its officials' signatures, or
    annulled before the last one signed."""
    if record.status is Status.AWAITING_SIGNATURE:
        return True
    return record.status is Status.ANNULLED and not rt.store.versions(record.id)


def _progress(rt, record):
    """The record's signing progress, or an empty one (a record without a signing state)."""
    return signflow.progress(rt, record.id) or signflow.Progress(total=0, next_index=0)


def _awaiting_context(page: _Page, rt, record) -> dict[str, Any]:
    """The page of a record awaiting signatures: its details, who signed (names as certificates
    give them, times), who is still expected (the role label, IIN masked, BIN) — and no file."""
    lang, tz = page.lang, ZoneInfo(rt.settings.timezone)
    description = describe(record.type, record.data, issued_on=rt.settings.today(record.created_at))
    progress = _progress(rt, record)
    return {
        "title": description.title[lang],
        "status": _status(record, lang),
        "annulled_on": format_moment(record.annulled_at, lang, tz) if record.annulled_at else None,
        "annulled_reason": mask_free_text(record.annulled_reason) if record.annulled_reason else None,
        "details": _details(lang, record, description),
        "done": len(progress.signed),
        "total": progress.total,
        "signed": [{"name": _title_case(s["common_name"] or ""), "role": mask_free_text(s["role"]),
                    "time": format_moment(s["time"], lang, tz)} for s in progress.signed],
        "expected": [{"role": mask_free_text(s["role"]), "iin": s["iin"], "bin": s["bin"]}
                     for s in progress.expected],
        "code": format_token(record.token),
    }


def _awaiting_json(request: Request, record) -> dict[str, Any]:
    rt = runtime_of(request)
    base = rt.settings.public_base_url.rstrip("/")
    description = describe(record.type, record.data, issued_on=rt.settings.today(record.created_at))
    progress = _progress(rt, record)
    return {
        "token": record.token,
        "code": format_token(record.token),
        "verification_url": f"{base}/v/{record.token}",
        "status": record.status.value,
        "valid": False,
        "annulled": {"at": record.annulled_at.isoformat(), "reason": mask_free_text(record.annulled_reason or "")}
        if record.annulled_at else None,
        "language": record.language,
        "document": description.as_json(),
        "current_version": None,
        "pdf_sha256": None,
        "pdf_url": None,
        "versions": [],
        "signatures": [{"name": _title_case(s["common_name"] or ""), "role": mask_free_text(s["role"]),
                        "signed_at": s["time"].isoformat()} for s in progress.signed],
        "awaiting": [{"role": mask_free_text(s["role"]), "iin": s["iin"], "bin": s["bin"]}
                     for s in progress.expected],
        "signatures_required": progress.total,
    }
