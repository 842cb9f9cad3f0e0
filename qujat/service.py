"""The application layer: issue and annul a document, each one store transaction.

It sits between the shells (the HTTP API, the `qujat issue` command) and the layers below: docgen
renders, signing signs, the store keeps. A shell hands it a runtime (`qujat.runtime`), what the
caller sent and who the caller is; it gets a `store.Record` back or one of these errors, which it
maps to its own words (HTTP status, exit code):

* `docgen.errors.RequestInvalid` — the request breaks the contract (every problem with its path);
  nothing was rendered or stored;
* `store.IdempotencyMismatch` — the Idempotency-Key was used with another body;
* `store.InFlight` — a request with the same Idempotency-Key is still running;
* `ExternalIdTaken` — the caller's external_id names a record with other content;
* `store.NotFound`, `store.Conflict` (annul an annulled record);
* `docgen.convert.PoolBusyError` — no LibreOffice worker became free in time (try later).

Nothing is half-written on a failure: the files go to the content-addressed blob store first (a
retry reuses them), then the record, its version, its audit event and the idempotency key are one
transaction (`Store.create_record`). An Idempotency-Key claimed for a request that then fails is
released, so that the caller may retry with it.
"""
from __future__ import annotations

import getpass
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from docgen import qr
from docgen.errors import FieldProblem, RequestInvalid
from docgen.model import DocumentType
from qujat.runtime import AUTHORITY_HEAD, ENTERPRISE_HEAD, Runtime
from signing.model import Level
from signing.ncacert import signer_fields
from signing.sign import sign_pdf
from store import (ApiKey, AuditEvent, Conflict, NewVersion, NotFound, Record, SignatureInfo,
                   TemplateRef, Version, request_fingerprint)

__all__ = ["Caller", "Issued", "ExternalIdTaken", "AwaitingSignature", "issue", "annul", "get", "versions", "audit", "decode", "version_file",
           "current_file", "signing_roles", "sign_server_side", "template_refs"]

log = logging.getLogger(__name__)

# Who signs what, in order. The cadastral value act carries the cadastre enterprise head's
# signature, then the authority head's (spec §1: two signature blocks); the others, the first.
_ROLES: Mapping[str, tuple[str, ...]] = {DocumentType.CADASTRAL_VALUE_ACT.value: (ENTERPRISE_HEAD, AUTHORITY_HEAD)}
_REASONS = {ENTERPRISE_HEAD: "Құжат берілді / Документ выдан",
            AUTHORITY_HEAD: "Бекітілді / Утверждено"}


class AwaitingSignature(Conflict):
    """The record awaits its officials' signatures: no version (no file) exists yet."""


class ExternalIdTaken(Conflict):
    """The caller already has a record with this external_id, and its content differs."""


@dataclass(frozen=True)
class Caller:
    """Who asks. ``client_id`` scopes external_ids and idempotency keys; ``actor`` is what the
    audit trail records (an API key's id, never the key)."""

    client_id: str
    actor: str

    @classmethod
    def from_api_key(cls, key: ApiKey) -> "Caller":
        return cls(client_id=key.id, actor=f"api-key:{key.id}")

    @classmethod
    def command_line(cls) -> "Caller":
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (a container)
            user = "unknown"
        return cls(client_id="cli", actor=f"cli:{user}"[:128])


@dataclass(frozen=True)
class Issued:
    """What `issue` did: ``created`` is False when an earlier identical request's record is
    answered (same Idempotency-Key and body, or same external_id and content). ``versions``:
    the record's versions when `issue` knows them without asking the store (a new record: its
    version 1, as `versions` would read it back), else empty."""

    record: Record
    created: bool
    versions: tuple[Version, ...] = ()


def signing_roles(doc_type: str) -> tuple[str, ...]:
    """The runtime signer roles that sign a document of ``doc_type``, in signing order."""
    return _ROLES.get(doc_type, (ENTERPRISE_HEAD,))


def issue(rt: Runtime, raw: Any, *, caller: Caller, idempotency_key: str | None = None) -> Issued:
    """Validate, render (the QR carries the new record's token), sign, store: one record with
    version 1 and its ``issue`` audit event. ``raw`` is the request as JSON text/bytes or a dict.

    Idempotent (IETF Idempotency-Key draft): the same ``idempotency_key`` with the same body
    answers the first request's record; with another body `store.IdempotencyMismatch`; while the
    first is still running `store.InFlight`. The request's ``external_id`` is a second key: a
    record of this caller with it and the same content is answered again, with other content
    `ExternalIdTaken`."""
    store = _store(rt)
    body = decode(raw)
    request = rt.parse(body)                                  # RequestInvalid: nothing happens
    content = _content(request)
    claimed = False
    if idempotency_key is not None:
        done = store.idempotency_begin(caller.client_id, idempotency_key, request_fingerprint(body))
        if done is not None:
            return Issued(store.get(done), created=False)
        claimed = True
    try:
        if request.external_id is not None:
            earlier = _by_external_id(rt, caller, request.external_id)
            if earlier is not None:
                _same_content(earlier, content, rt)
                if claimed:
                    store.idempotency_finish(caller.client_id, idempotency_key, earlier.id)
                    claimed = False
                return Issued(earlier, created=False)
        token = qr.new_token()
        rendered = rt.renderer.render(request, token=token)
        try:
            record, first = _create(rt, request, content, rendered, token=token, caller=caller,
                                    idempotency_key=idempotency_key if claimed else None)
        except Conflict as e:                    # the same external_id won a race meanwhile
            earlier = store.get(e.record_id) if e.record_id is not None else None
            if earlier is None or request.external_id is None or earlier.external_id != request.external_id:
                raise
            _same_content(earlier, content, rt)
            if claimed:
                store.idempotency_finish(caller.client_id, idempotency_key, earlier.id)
                claimed = False
            return Issued(earlier, created=False)
        claimed = False                          # marked done in create_record's transaction
        log.info("issued %s %s record %s, %s (%s)", request.type, content["language"], record.id,
                 record.status.value, caller.actor)
        return Issued(record, created=True, versions=(first,) if first is not None else ())
    finally:
        if claimed:
            _release(rt, caller, idempotency_key)


def _create(rt: Runtime, request, content: Mapping[str, Any], rendered, *, token: str, caller: Caller,
            idempotency_key: str | None) -> tuple[Record, Version | None]:
    """Store the rendered document: signed with the server's keys as version 1, or — when the
    request names ``signers`` — prepared for the first official's own signature, awaiting it
    (`qujat.signflow`; no version until the last signature is in)."""
    if getattr(request, "signers", None):
        from qujat import signflow

        return signflow.create_awaiting(rt, request, content, rendered, token=token, caller=caller,
                                        idempotency_key=idempotency_key), None
    pdf, signatures = sign_server_side(rt, request.type, rendered.pdf)
    version = NewVersion(pdf=pdf, docx=rendered.docx, signatures=signatures,
                         templates=template_refs(rendered))
    return _store(rt).create_record_with_version(
        client_id=caller.client_id, doc_type=request.type, language=content["language"],
        data=content["data"], token=token, content=version, actor=caller.actor,
        external_id=request.external_id, idempotency_key=idempotency_key)


def annul(rt: Runtime, record_id: uuid.UUID | str, reason: str, caller: Caller) -> Record:
    """Mark a record annulled with ``reason`` (its versions stay) and its ``annul`` audit event,
    in one transaction. `store.NotFound`; `store.Conflict` if it is annulled already."""
    record = _store(rt).annul(_record_id(record_id), reason, caller.actor)
    log.info("annulled record %s (%s)", record.id, caller.actor)
    return record


def get(rt: Runtime, record_id: uuid.UUID | str) -> Record:
    return _store(rt).get(_record_id(record_id))


def versions(rt: Runtime, record_id: uuid.UUID | str) -> tuple[Version, ...]:
    return _store(rt).versions(_record_id(record_id))


def audit(rt: Runtime, record_id: uuid.UUID | str) -> tuple[AuditEvent, ...]:
    return _store(rt).audit(_record_id(record_id))


def current_file(rt: Runtime, record_id: uuid.UUID | str, kind: str) -> tuple[Record, bytes]:
    """The record and the bytes of its current version's ``kind`` file ("pdf" or "docx")."""
    record, _, data = version_file(rt, record_id, kind)
    return record, data


def version_file(rt: Runtime, record_id: uuid.UUID | str, kind: str,
                 number: int | None = None) -> tuple[Record, Version, bytes]:
    """The record, its version ``number`` (the current one by default) and that version's
    ``kind`` file ("pdf" or "docx"). `AwaitingSignature` if the record has no version yet;
    `store.NotFound` for a version it does not have."""
    store = _store(rt)
    record = store.get(_record_id(record_id))
    versions = store.versions(record.id)
    if not versions:
        raise AwaitingSignature(f"document {record.id} has no signed file: it is {record.status.value} "
                                "(its officials had not all signed)", record_id=record.id)
    wanted = record.current_version if number is None else number
    found = [v for v in versions if v.number == wanted]
    if not found:
        raise NotFound(f"document {record.id} has no version {wanted} (it has 1 to {versions[-1].number})")
    (version,) = found
    return record, version, store.blobs.get(version.pdf_sha256 if kind == "pdf" else version.docx_sha256)


# -- internals -----------------------------------------------------------------------------------


def _store(rt: Runtime):
    if rt.store is None:
        raise RuntimeError("this runtime has no records store (open_runtime(store=True))")
    return rt.store


def _record_id(value: uuid.UUID | str) -> uuid.UUID:
    """A record id from a path segment; anything that is not a UUID names no record."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("no record with this id") from None


def decode(raw: Any) -> Any:
    """The request as JSON values (its text decoded); RequestInvalid for what is not JSON,
    nesting too deep for the decoder included."""
    if not isinstance(raw, (bytes, bytearray, str)):
        return raw
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise RequestInvalid([FieldProblem("", f"not valid JSON: {e}")]) from None
    except RecursionError:
        raise RequestInvalid([FieldProblem("", "not valid JSON: nested too deeply")]) from None


def _content(request) -> dict[str, Any]:
    """What a record keeps of a request: type, language and the validated data as JSON (the
    cadastral number normalised, decimals and dates as text)."""
    dumped = request.model_dump(mode="json", by_alias=True)
    return {"type": dumped["type"], "language": dumped["language"], "data": dumped["data"],
            "signers": dumped.get("signers")}


def _same_content(record: Record, content: Mapping[str, Any], rt: Runtime | None = None) -> None:
    """`ExternalIdTaken` unless ``record`` holds ``content`` (with ``rt``: the same officials
    expected to sign, or none for both)."""
    same = (record.type, record.language, record.data) == (content["type"], content["language"], content["data"])
    if same and rt is not None:
        from qujat.signflow import signing_state

        state = signing_state(rt, record.id)
        same = (list(state.signers) if state is not None else None) == content.get("signers")
    if not same:
        raise ExternalIdTaken(f"external_id {record.external_id!r} is already used by record {record.id} "
                              "with other content", record_id=record.id)


def _by_external_id(rt: Runtime, caller: Caller, external_id: str) -> Record | None:
    try:
        return _store(rt).by_external_id(caller.client_id, external_id)
    except NotFound:
        return None


def sign_server_side(rt: Runtime, doc_type: str, pdf: bytes) -> tuple[bytes, tuple[SignatureInfo, ...]]:
    """Sign with each role's key in order (the server-side keys of the runtime); the first
    signature certifies the document (DocMDP: later signatures allowed, nothing else). Used by
    `issue` and by batch regeneration. B-T/B-LT use the runtime's TSA client and revocation
    cache: one TSA request per signature once they are warm."""
    settings = rt.settings
    level = Level.from_config(settings.sign_level)
    done = []
    for i, role in enumerate(signing_roles(doc_type)):
        signer = rt.signers.get(role)
        if signer is None:
            raise RuntimeError(f"this runtime has no {role} signing key (open_runtime(sign=True))")
        at = rt.clock()
        name = signer_fields(signer.signing_cert).common_name     # read once: the PDF's /Name too
        pdf = sign_pdf(pdf, signer, level=level, tsa_url=settings.tsa_url, certify=i == 0,
                       reason=_REASONS[role], name=name or None,
                       timestamper=rt.timestamper, revocation=rt.revocation)
        done.append(SignatureInfo(signer=name or role, time=at))
    return pdf, tuple(done)


def template_refs(rendered) -> dict[str, TemplateRef]:
    """The templates a `docgen.render.Rendered` was filled from, as the store keeps them."""
    return {t["lang"]: TemplateRef(version=str(t["version"]), sha256=t["sha256"]) for t in rendered.templates}


def _release(rt: Runtime, caller: Caller, key: str) -> None:
    """Forget the claim on a key whose request failed (the failure itself propagates)."""
    try:
        _store(rt).idempotency_release(caller.client_id, key)
    except Exception:  # noqa: BLE001 - the original error matters more
        log.warning("could not release an idempotency key of %s", caller.actor, exc_info=True)
