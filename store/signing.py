"""Officials' two-step signing in the store: who must sign a record next, the prepared PDF
between the two HTTP calls, signing-page tickets.

`SigningSteps` is mixed into `store.Store`; its methods use the Store's sessions, clock and blob
store. Schema: migration 0003 (`signing_states`, `signing_tickets`).

A record awaiting signatures has status ``awaiting_signature``, no version yet and a signing
state: the signers in order, the step its prepared PDF waits for, the prepared PDF (a blob) with
what completes it (field, digest, placeholder offsets), the DOCX and templates its version 1 will
name, and the signatures accepted so far. Each accepted signature is ONE transaction: the state
advanced — or, after the last signer, version 1 written and the status `valid` — the ticket used
(if one was given) and the ``sign`` audit event. The store knows nothing of CMS or PDF: the
application layer checks a signature before it calls `accept_signature`.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from store.errors import Conflict, NotFound, StoreError
from store.model import Action, NewVersion, Record, Status, TemplateRef, Version, check_sha256, token_key
from store.orm import RecordRow, SigningStateRow, SigningTicketRow, VersionRow

__all__ = ["SigningSteps", "SigningState", "PreparedStep", "TicketRecord", "TicketRejected"]

_STATES, _TICKETS = SigningStateRow.__table__, SigningTicketRow.__table__


class TicketRejected(StoreError):
    """The signing ticket is unknown, expired, used, or for another record or step. ``gone``:
    it was good for this record once (expired, used, or its step is signed now), as opposed to
    one that never opened it (unknown, another record's)."""

    def __init__(self, message: str, *, gone: bool):
        super().__init__(message)
        self.gone = gone


@dataclass(frozen=True)
class PreparedStep:
    """A PDF prepared for the next signature (plain values of `signing.deferred.Prepared`)."""

    pdf: bytes
    field_name: str
    digest: bytes
    contents_start: int
    contents_end: int

    def __post_init__(self) -> None:
        if not self.pdf or len(self.digest) != 32 or not self.field_name:
            raise ValueError("a prepared step needs the PDF, its field name and a SHA-256 digest")
        if not 0 < self.contents_start < self.contents_end <= len(self.pdf):
            raise ValueError("the placeholder offsets do not fit the prepared PDF")


@dataclass(frozen=True)
class SigningState:
    """A record's signing state as stored (see the module docstring)."""

    record_id: uuid.UUID
    signers: tuple[dict[str, Any], ...]
    next_index: int
    done: tuple[dict[str, Any], ...]
    pdf_sha256: str
    docx_sha256: str
    templates: Mapping[str, TemplateRef]
    field_name: str
    digest: bytes
    contents_start: int
    contents_end: int
    updated_at: dt.datetime

    @property
    def total(self) -> int:
        return len(self.signers)

    @property
    def finished(self) -> bool:
        return self.next_index >= len(self.signers)


@dataclass(frozen=True)
class TicketRecord:
    """What the store keeps of a signing ticket (never the ticket itself)."""

    ticket_hash: str
    record_id: uuid.UUID
    signer_index: int
    created_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None


class SigningSteps:
    """The signing-workflow operations of `store.Store` (each one transaction)."""

    def create_awaiting_record(self, *, client_id: str, doc_type: str, language: str,
                               data: Mapping[str, Any], token: str, docx: bytes,
                               templates: Mapping[str, TemplateRef],
                               signers: Sequence[Mapping[str, Any]], prepared: PreparedStep,
                               actor: str, external_id: str | None = None,
                               idempotency_key: str | None = None) -> Record:
        """A new record in status ``awaiting_signature`` (no version yet; ``current_version`` 1
        names the version being made), its signing state and its ``issue`` audit event, in one
        transaction. The prepared PDF and the DOCX go to the blob store first."""
        from store.store import _json_copy, _new_id, _templates_json, _text

        for name, value, limit in (("client_id", client_id, 64), ("doc_type", doc_type, 64),
                                   ("language", language, 16), ("actor", actor, 128)):
            _text(name, value, limit)
        if external_id is not None:
            _text("external_id", external_id, 255)
        if not signers:
            raise ValueError("signers: at least one")
        key = token_key(token)
        data = _json_copy("data", data)
        signer_list = [_json_copy("signer", s) for s in signers]
        pdf_sha256, docx_sha256 = self.blobs.put_many((prepared.pdf, docx))
        now = self._clock()
        record_id = _new_id(now)
        templates_json = _templates_json(templates)
        try:
            with self._write() as s:
                s.add(RecordRow(id=record_id, token=token, token_key=key, client_id=client_id,
                                type=doc_type, language=language, external_id=external_id, data=data,
                                status=Status.AWAITING_SIGNATURE.value, annulled_reason=None,
                                annulled_at=None, created_at=now, current_version=1))
                s.flush()
                s.add(SigningStateRow(record_id=record_id, signers=signer_list, next_index=0, done=[],
                                      pdf_sha256=pdf_sha256, docx_sha256=docx_sha256,
                                      templates=templates_json, field_name=prepared.field_name,
                                      digest=prepared.digest.hex(),
                                      contents_start=prepared.contents_start,
                                      contents_end=prepared.contents_end, updated_at=now))
                if idempotency_key is not None:
                    self._idempotency_done(s, client_id, idempotency_key, record_id)
                self._audit(s, now, actor, Action.ISSUE, record_id, {
                    "version": None, "status": Status.AWAITING_SIGNATURE.value,
                    "prepared_pdf_sha256": pdf_sha256, "docx_sha256": docx_sha256,
                    "templates": templates_json, "external_id": external_id,
                    "signers": len(signer_list), "digest": prepared.digest.hex()})
        except IntegrityError as e:
            raise self._why_taken(client_id, external_id, token) from e
        return Record(id=record_id, token=token, client_id=client_id, type=doc_type,
                      language=language, external_id=external_id, data=data,
                      status=Status.AWAITING_SIGNATURE, annulled_reason=None, annulled_at=None,
                      created_at=now, current_version=1)

    def signing_state(self, record_id: uuid.UUID) -> SigningState:
        """The record's signing state; `NotFound` if it has none (signed server-side, or no
        such record)."""
        from store.store import _uuid

        row = self._read_row(select(_STATES).where(_STATES.c.record_id == _uuid(record_id)), {})
        if row is None:
            raise NotFound(f"record {record_id} has no signing state")
        return _state(row)

    def accept_signature(self, record_id: uuid.UUID, *, index: int, signed: Mapping[str, Any],
                         actor: str, details: Mapping[str, Any], next_step: PreparedStep | None = None,
                         final: NewVersion | None = None,
                         ticket_hash: str | None = None) -> tuple[Record, Version | None]:
        """Record the signature of step ``index`` (already checked by the caller): ``signed`` is
        appended to the state's ``done`` list; then either ``next_step`` becomes the prepared
        PDF, or (the last signer) ``final`` is written as version 1 and the record becomes
        `valid`. With ``ticket_hash`` the ticket is checked and used in the same transaction
        (`TicketRejected`). `Conflict` when the record is not awaiting a signature or its state
        has moved past ``index`` meanwhile; nothing is written then."""
        from store.store import _json_copy, _record, _text, _uuid, _version

        _text("actor", actor, 128)
        if (next_step is None) == (final is None):
            raise ValueError("give either the next prepared step or the final version")
        record_id = _uuid(record_id)
        signed = _json_copy("signed", signed)
        details = _json_copy("details", details)
        blobs = (next_step.pdf,) if next_step is not None else (final.pdf, final.docx)
        shas = self.blobs.put_many(blobs)
        now = self._clock()
        with self._write() as s:
            row = self._locked(s, record_id)
            if row.status != Status.AWAITING_SIGNATURE.value:
                raise Conflict(f"record {record_id} is {row.status}, not awaiting a signature",
                               record_id=record_id)
            state = s.get(SigningStateRow, record_id, with_for_update=True)
            if state is None:
                raise Conflict(f"record {record_id} has no signing state", record_id=record_id)
            if state.next_index != index:
                raise Conflict(f"record {record_id} waits for signer {state.next_index + 1}, not "
                               f"{index + 1}", record_id=record_id)
            if ticket_hash is not None:
                ticket = s.get(SigningTicketRow, ticket_hash, with_for_update=True)
                problem = _ticket_problem(ticket, record_id, index, now)
                if problem is not None:
                    raise TicketRejected(*problem[:1], gone=problem[1])
                ticket.used_at = now
            state.done = [*state.done, signed]
            state.next_index = index + 1
            state.updated_at = now
            version = None
            audit = {**details, "signer_index": index, "total": len(state.signers),
                     "status": row.status}
            if next_step is not None:
                (state.pdf_sha256,) = shas
                state.field_name, state.digest = next_step.field_name, next_step.digest.hex()
                state.contents_start, state.contents_end = next_step.contents_start, next_step.contents_end
                audit["prepared_pdf_sha256"] = state.pdf_sha256
                audit["next_digest"] = state.digest
            else:
                pdf_sha256, docx_sha256 = shas
                version = VersionRow(record_id=record_id, number=row.current_version,
                                     templates=_templates(final.templates), pdf_sha256=pdf_sha256,
                                     docx_sha256=docx_sha256,
                                     signatures=[sig.to_json() for sig in final.signatures],
                                     created_at=now)
                s.add(version)
                row.status = Status.VALID.value
                audit.update(version=row.current_version, pdf_sha256=pdf_sha256,
                             docx_sha256=docx_sha256, status=row.status)
            s.flush()
            self._audit(s, now, actor, Action.SIGN, record_id, audit)
            return _record(row), (_version(version) if version is not None else None)

    def add_signing_ticket(self, record_id: uuid.UUID, ticket_hash: str, *, expires_at: dt.datetime,
                           actor: str) -> TicketRecord:
        """Keep a new signing ticket's hash for the step the record waits for now, with a
        ``signing_ticket`` audit event (the hash's first 12 characters, never the ticket).
        `Conflict` when the record is not awaiting a signature."""
        from store.store import _text, _uuid

        _text("actor", actor, 128)
        check_sha256(ticket_hash)
        record_id = _uuid(record_id)
        now = self._clock()
        if expires_at <= now:
            raise ValueError("a ticket must expire after it is made")
        with self._write() as s:
            row = self._locked(s, record_id)
            state = s.get(SigningStateRow, record_id)
            if row.status != Status.AWAITING_SIGNATURE.value or state is None:
                raise Conflict(f"record {record_id} is {row.status}, not awaiting a signature",
                               record_id=record_id)
            ticket = SigningTicketRow(ticket_hash=ticket_hash, record_id=record_id,
                                      signer_index=state.next_index, actor=actor, created_at=now,
                                      expires_at=expires_at, used_at=None)
            s.add(ticket)
            s.flush()
            self._audit(s, now, actor, Action.SIGNING_TICKET, record_id, {
                "signer_index": state.next_index, "ticket": ticket_hash[:12],
                "expires_at": expires_at.astimezone(dt.timezone.utc).isoformat()})
            return _ticket(ticket)

    def signing_ticket(self, ticket_hash: str) -> TicketRecord:
        """The ticket with this hash; `NotFound` if there is none."""
        row = self._read_row(select(_TICKETS).where(_TICKETS.c.ticket_hash == ticket_hash), {})
        if row is None:
            raise NotFound("no such signing ticket")
        return _ticket(row)

    def check_signing_ticket(self, record_id: uuid.UUID, ticket_hash: str) -> TicketRecord:
        """The ticket if it is good now for the step ``record_id`` waits for, else
        `TicketRejected` (one message for every reason, as a page may show it)."""
        from store.store import _uuid

        record_id = _uuid(record_id)
        row = self._read_row(select(_TICKETS).where(_TICKETS.c.ticket_hash == ticket_hash), {})
        state = self._read_row(select(_STATES.c.next_index).where(_STATES.c.record_id == record_id), {})
        problem = _ticket_problem(row, record_id, state.next_index if state else -1, self._clock())
        if problem is not None:
            raise TicketRejected(*problem[:1], gone=problem[1])
        return _ticket(row)


def _ticket_problem(ticket, record_id: uuid.UUID, index: int, now: dt.datetime) -> tuple[str, bool] | None:
    """Why a ticket cannot be used for step ``index`` of ``record_id`` now, and whether it is
    gone (was good for this record once); None if it can."""
    if ticket is None:
        return "unknown ticket", False
    if ticket.record_id != record_id:
        return "the ticket is for another record", False
    if ticket.used_at is not None:
        return "the ticket was used already", True
    if ticket.expires_at <= now:
        return "the ticket has expired", True
    if ticket.signer_index != index:
        return "the ticket is for another signing step", True
    return None


def _templates(templates: Mapping[str, TemplateRef]) -> dict[str, dict[str, str]]:
    from store.store import _templates_json

    return _templates_json(templates)


def _state(row) -> SigningState:
    return SigningState(
        record_id=row.record_id, signers=tuple(row.signers), next_index=row.next_index,
        done=tuple(row.done), pdf_sha256=row.pdf_sha256, docx_sha256=row.docx_sha256,
        templates={lang: TemplateRef(**t) for lang, t in row.templates.items()},
        field_name=row.field_name, digest=bytes.fromhex(row.digest),
        contents_start=row.contents_start, contents_end=row.contents_end, updated_at=row.updated_at)


def _ticket(row) -> TicketRecord:
    return TicketRecord(ticket_hash=row.ticket_hash, record_id=row.record_id,
                        signer_index=row.signer_index, created_at=row.created_at,
                        expires_at=row.expires_at, used_at=row.used_at)
