"""`/documents`: issue, read, download, annul. Each endpoint is a thin call into `qujat.service`;
the slow ones (rendering, signing, the database) run in the thread pool, never on the event loop."""
from __future__ import annotations

import base64
import binascii
import re

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from qujat import service, signflow
from qujat.api.auth import ANNUL, ISSUE, READ, require, runtime
from qujat.api.errors import ApiError
from qujat.api.openapi import issue_request_body
from qujat.api.schemas import (AnnulIn, AuditEventOut, DocumentOut, ErrorOut, SignatureIn, SigningStepOut,
                               TicketOut, VersionOut, document_out, event_out, version_out)
from store import ApiKey

__all__ = ["router", "MAX_REQUEST_BYTES"]

MAX_REQUEST_BYTES = 2 * 1024 * 1024      # an issuing request (a plan of a few thousand points fits)
_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces

_errors = {status: {"model": ErrorOut} for status in (401, 403, 404, 422)}
router = APIRouter(prefix="/documents", tags=["documents"], responses=_errors)


def _document(request: Request, record) -> DocumentOut:
    rt = runtime(request)
    return document_out(record, service.versions(rt, record.id), rt.settings.public_base_url)


def _issue(rt, body: bytes, caller: service.Caller, idempotency_key: str | None,
           ) -> tuple[service.Issued, DocumentOut]:
    """Issue and describe the record, in one trip to the thread pool: a new record's version is
    the one `service.issue` just wrote (no second query); an earlier record's are read."""
    issued = service.issue(rt, body, caller=caller, idempotency_key=idempotency_key)
    versions = issued.versions or service.versions(rt, issued.record.id)
    return issued, document_out(issued.record, versions, rt.settings.public_base_url)


def _idempotency_key(raw: str | None) -> str | None:
    """The Idempotency-Key header: an RFC 8941 string ("…", as the IETF draft writes it) or the
    bare token many clients send."""
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not _KEY.fullmatch(key):
        raise ApiError(422, "invalid_request", "the Idempotency-Key header is not valid",
                       problems=[("header.idempotency-key", "1 to 255 printable ASCII characters, no spaces")])
    return key


@router.post(
    "", status_code=201, response_model=DocumentOut,
    summary="Issue a document: render, sign, store",
    description="Renders the request (its QR code carries the new record's token), signs it (a "
                "cadastral value act twice: enterprise head, then authority head) and stores it. "
                "201 with the record; 200 with the earlier record when the same Idempotency-Key and "
                "body, or the same external_id and content, were issued before. The same "
                "Idempotency-Key with another body: 422; while the first is still running: 409.",
    responses={200: {"model": DocumentOut, "description": "issued before: the earlier record"},
               409: {"model": ErrorOut}, 413: {"model": ErrorOut}, 415: {"model": ErrorOut},
               503: {"model": ErrorOut}},
    openapi_extra=issue_request_body())
async def issue_document(request: Request, response: Response,
                         key: ApiKey = Depends(require(ISSUE)),
                         idempotency_key: str | None = Header(None, alias="Idempotency-Key",
                                                              description="IETF Idempotency-Key")) -> DocumentOut:
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", "send the request as application/json")
    body = await request.body()
    issued, document = await run_in_threadpool(_issue, runtime(request), body,
                                               service.Caller.from_api_key(key),
                                               _idempotency_key(idempotency_key))
    response.status_code = 201 if issued.created else 200
    if issued.created:
        response.headers["Location"] = f"/documents/{issued.record.id}"
    return document


@router.get("/{document_id}", response_model=DocumentOut, summary="A document's record")
def get_document(document_id: str, request: Request,
                 key: ApiKey = Depends(require(READ, ISSUE, ANNUL))) -> DocumentOut:
    return _document(request, service.get(runtime(request), document_id))


def _file(request: Request, document_id: str, kind: str, media_type: str, number: int | None) -> Response:
    try:
        record, version, data = service.version_file(runtime(request), document_id, kind, number)
    except service.AwaitingSignature as e:
        raise ApiError(409, "awaiting_signature", "the document is awaiting its officials' signatures: "
                       "its file exists once the last one has signed") from e
    name = f"{record.type}_{record.language.replace('+', '-')}_v{version.number}.{kind}"
    return Response(data, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "private, no-store"})


_VERSION = Query(None, ge=1, le=1_000_000, description="a version number (default: the current one)")


@router.get("/{document_id}/pdf", response_class=Response, summary="A version's signed PDF (the current one by default)",
            responses={200: {"content": {"application/pdf": {}}}})
def get_pdf(document_id: str, request: Request, version: int | None = _VERSION,
            key: ApiKey = Depends(require(READ, ISSUE, ANNUL))) -> Response:
    return _file(request, document_id, "pdf", "application/pdf", version)


@router.get("/{document_id}/docx", response_class=Response, summary="A version's DOCX (the current one by default)",
            responses={200: {"content": {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {}}}})
def get_docx(document_id: str, request: Request, version: int | None = _VERSION,
             key: ApiKey = Depends(require(READ, ISSUE, ANNUL))) -> Response:
    return _file(request, document_id, "docx",
                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document", version)


@router.get("/{document_id}/versions", response_model=list[VersionOut], summary="Every version, 1 first")
def get_versions(document_id: str, request: Request,
                 key: ApiKey = Depends(require(READ, ISSUE, ANNUL))) -> list[VersionOut]:
    return [version_out(v) for v in service.versions(runtime(request), document_id)]


@router.get("/{document_id}/audit", response_model=list[AuditEventOut], summary="The audit trail, oldest first")
def get_audit(document_id: str, request: Request,
              key: ApiKey = Depends(require(READ, ISSUE, ANNUL))) -> list[AuditEventOut]:
    return [event_out(e) for e in service.audit(runtime(request), document_id)]


@router.post("/{document_id}/annul", response_model=DocumentOut, responses={409: {"model": ErrorOut}},
             summary="Annul a document (its versions stay; the public page shows the reason)")
def annul_document(document_id: str, body: AnnulIn, request: Request,
                   key: ApiKey = Depends(require(ANNUL))) -> DocumentOut:
    record = service.annul(runtime(request), document_id, body.reason, service.Caller.from_api_key(key))
    return _document(request, record)


# -- officials' own signatures (two-step) --------------------------------------------------------

_SIGNING_ERRORS = {400: {"model": ErrorOut}, 409: {"model": ErrorOut}, 413: {"model": ErrorOut},
                   422: {"model": ErrorOut}, 503: {"model": ErrorOut}}


@router.get("/{document_id}/signing", response_model=SigningStepOut, responses={409: {"model": ErrorOut}},
            summary="Who signs next, and the digest to sign",
            description="For a document issued with `signers`: the next official (role, and the IIN "
                        "and/or BIN the certificate must carry) and the base64 SHA-256 digest of the "
                        "prepared PDF's byte ranges, which the official's CMS must sign (NCALayer "
                        "basics module, or `qujat sign-digest`). 409 when the document does not "
                        "await a signature.")
def get_signing(document_id: str, request: Request,
                key: ApiKey = Depends(require(ISSUE, READ))) -> SigningStepOut:
    return SigningStepOut(**signflow.next_step(runtime(request), document_id).to_json())


def _cms(text: str) -> bytes:
    compact = "".join(text.split())                     # line breaks as some encoders write them
    try:
        der = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_cms", "the CMS is not valid base64",
                       problems=[("cms", "give the DER CMS in standard base64")]) from None
    if not der:
        raise ApiError(400, "bad_cms", "the CMS is empty", problems=[("cms", "empty")])
    return der


def _submit(rt, document_id: str, der: bytes, caller: service.Caller) -> DocumentOut:
    try:
        record = signflow.submit(rt, document_id, der, caller=caller)
    except signflow.SignatureRefused as e:
        raise ApiError(e.status, e.code, e.message, problems=[(e.path, e.message)], headers=e.headers) from None
    return document_out(record, service.versions(rt, record.id), rt.settings.public_base_url)


@router.post("/{document_id}/signatures", response_model=DocumentOut, responses=_SIGNING_ERRORS,
             summary="Submit the next official's signature (a detached CMS over the served digest)",
             description="Checks the CMS — it signs the served digest, its signature verifies, its "
                         "certificate allows signing (key usage), chains to a trusted CA now and is "
                         "not known to be revoked, carries the expected IIN and/or BIN (and, for a "
                         "BIN, an NCA role of the organisation's head or of a person with the right "
                         "to sign) — then embeds it. 200 with the record: still "
                         "`awaiting_signature` with the next signer's step prepared, or `valid` "
                         "with version 1 after the last signer. A refused CMS changes nothing: 400 "
                         "bad base64 or CMS, 422 another digest / invalid signature / key usage / "
                         "untrusted or revoked certificate / wrong signer, 409 signed already / out "
                         "of order / not awaiting a signature, 413 too large, 503 "
                         "`revocation_unavailable` (with Retry-After) when the certificate's "
                         "revocation status cannot be established now (QUJAT_SIGNATURE_REVOCATION).")
async def post_signature(document_id: str, body: SignatureIn, request: Request,
                         key: ApiKey = Depends(require(ISSUE))) -> DocumentOut:
    der = _cms(body.cms)
    return await run_in_threadpool(_submit, runtime(request), document_id, der,
                                   service.Caller.from_api_key(key))


@router.post("/{document_id}/signing/tickets", status_code=201, response_model=TicketOut,
             responses={409: {"model": ErrorOut}},
             summary="A single-use ticket for the official's signing page",
             description="The upstream system hands the URL to the official who signs next: "
                         "`<PUBLIC_BASE_URL>/sign/<id>?ticket=…`, good for this signing step only, "
                         "once, for 15 minutes. Only the ticket's hash is stored.")
def post_ticket(document_id: str, request: Request, key: ApiKey = Depends(require(ISSUE))) -> TicketOut:
    rt = runtime(request)
    record = service.get(rt, document_id)
    ticket = signflow.issue_ticket(rt, record.id, caller=service.Caller.from_api_key(key))
    url = f"{rt.settings.public_base_url}/sign/{record.id}?ticket={ticket.ticket}"
    return TicketOut(ticket=ticket.ticket, url=url, expires_at=ticket.expires_at)
