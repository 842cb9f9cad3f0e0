"""The records store: what the application layer (issue, sign, annul, regenerate) calls.

Every operation that changes something is ONE database transaction, and a change is always
accompanied by its audit event in that same transaction. Files go to the content-addressed blob
store BEFORE the transaction: a crash in between leaves at most blobs nothing refers to, which
the retry (same content, same names) reuses, and never a record without its files.

There is no way to delete a record, a version or an audit event here; the database refuses it too
(triggers, see the first migration).

    with Store.open("sqlite:///data/qujat.sqlite3", "data/blobs") as store:
        record = store.create_record(client_id=…, doc_type=…, language=…, data=…, token=…,
                                     content=NewVersion(pdf=…, docx=…, templates=…), actor=…)
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import db
from store.batches import BatchSteps
from store.blobs import BlobStore, FileBlobStore
from store.errors import Conflict, IdempotencyMismatch, InFlight, NotFound
from store.model import (Action, ApiKey, AuditEvent, NewVersion, Record, SignatureInfo, Status,
                         TemplateRef, Version, check_sha256, token_key)
from store.orm import ApiKeyRow, AuditRow, IdempotencyRow, RecordRow, VersionRow
from store.signing import SigningSteps

__all__ = ["Store"]

Clock = Callable[[], dt.datetime]
KEY_PREFIX = "qujat"
_KEY = re.compile(rf"{KEY_PREFIX}_([0-9a-f]{{16}})_[A-Za-z0-9_-]{{43}}")
_NO_HASH = "0" * 64                     # compared against when the key id is unknown
STALE_IN_FLIGHT = dt.timedelta(minutes=10)
_API_KEY_BY_ID = select(ApiKeyRow.__table__).where(ApiKeyRow.__table__.c.id == bindparam("b_id"))
_RECORDS, _VERSIONS, _AUDIT = RecordRow.__table__, VersionRow.__table__, AuditRow.__table__
_RECORD_BY_ID = select(_RECORDS).where(_RECORDS.c.id == bindparam("b_id"))
_RECORD_BY_TOKEN = select(_RECORDS).where(_RECORDS.c.token == bindparam("b_token"))
_RECORD_BY_EXTERNAL_ID = select(_RECORDS).where(_RECORDS.c.client_id == bindparam("b_client_id"),
                                                _RECORDS.c.external_id == bindparam("b_external_id"))
_VERSIONS_OF = (select(_VERSIONS).where(_VERSIONS.c.record_id == bindparam("b_record_id"))
                .order_by(_VERSIONS.c.number))
_AUDIT_OF = select(_AUDIT).where(_AUDIT.c.record_id == bindparam("b_record_id")).order_by(_AUDIT.c.id)
_INSERT_RECORD, _INSERT_VERSION, _INSERT_AUDIT = insert(_RECORDS), insert(_VERSIONS), insert(_AUDIT)
_IDEMPOTENCY = IdempotencyRow.__table__
_IDEMPOTENCY_ROW = ((_IDEMPOTENCY.c.client_id == bindparam("b_client_id"))
                    & (_IDEMPOTENCY.c.key == bindparam("b_key")))
_SELECT_IDEMPOTENCY = select(_IDEMPOTENCY).where(_IDEMPOTENCY_ROW).with_for_update()
_INSERT_IDEMPOTENCY = insert(_IDEMPOTENCY)
_TAKE_OVER_IDEMPOTENCY = (update(_IDEMPOTENCY).where(_IDEMPOTENCY_ROW)
                          .values(created_at=bindparam("b_created_at")))
_FINISH_IDEMPOTENCY = (update(_IDEMPOTENCY).where(_IDEMPOTENCY_ROW & (_IDEMPOTENCY.c.state == "in_flight"))
                       .values(state="done", record_id=bindparam("b_record_id")))
_IDEMPOTENCY_BY_KEY = select(_IDEMPOTENCY).where(_IDEMPOTENCY_ROW)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Store(BatchSteps, SigningSteps):
    """Records, versions, audit events, API keys and idempotency keys in one SQL database
    (SQLite or PostgreSQL), files in a `BlobStore`. Thread-safe: each call uses its own session
    or connection. Rows written once and the reads every request makes go through SQLAlchemy
    Core statements built once (the same tables and column types as the ORM classes)."""

    def __init__(self, engine: Engine, blobs: BlobStore, clock: Clock = _utc_now):
        self.engine = engine
        self.blobs = blobs
        self._clock = clock
        # PostgreSQL: a reading transaction is one snapshot (REPEATABLE READ; READ COMMITTED gave
        # each statement its own, so a batch's row and its item counts could disagree); SQLite's
        # BEGIN is one snapshot already
        snapshot = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
        self._read_engine = engine.execution_options(**{db.READ_ONLY: True}, **snapshot)

    @classmethod
    def open(cls, url: str, blob_dir: Path | str, *, clock: Clock = _utc_now) -> "Store":
        """Connect to ``url`` (``sqlite:///file`` or ``postgresql[+psycopg]://…``), bring the
        schema to the newest migration (``alembic upgrade head``) and keep blobs in
        ``blob_dir``."""
        engine = db.create(url)
        try:
            db.upgrade(engine)
            return cls(engine, FileBlobStore(blob_dir), clock)
        except BaseException:
            engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- records ---------------------------------------------------------------------------

    def create_record(self, *, client_id: str, doc_type: str, language: str,
                      data: Mapping[str, Any], token: str, content: NewVersion, actor: str,
                      external_id: str | None = None, status: Status = Status.VALID,
                      idempotency_key: str | None = None) -> Record:
        """A new record with version 1 and its ``issue`` audit event, in one transaction.

        ``idempotency_key`` (begun with `idempotency_begin`) is marked done with this record in
        the same transaction. `Conflict` if the client's ``external_id`` or the token is taken
        (``record_id`` names the record holding the external_id)."""
        return self.create_record_with_version(
            client_id=client_id, doc_type=doc_type, language=language, data=data, token=token,
            content=content, actor=actor, external_id=external_id, status=status,
            idempotency_key=idempotency_key)[0]

    def create_record_with_version(self, *, client_id: str, doc_type: str, language: str,
                                   data: Mapping[str, Any], token: str, content: NewVersion,
                                   actor: str, external_id: str | None = None,
                                   status: Status = Status.VALID,
                                   idempotency_key: str | None = None) -> tuple[Record, Version]:
        """`create_record`, also answering the version 1 it wrote (what `versions` would read
        back), so that a caller showing the new record needs no second query."""
        _text("client_id", client_id, 64)
        _text("doc_type", doc_type, 64)
        _text("language", language, 16)
        _text("actor", actor, 128)
        if external_id is not None:
            _text("external_id", external_id, 255)
        key = token_key(token)
        data = _json_copy("data", data)
        status = Status(status)
        if status is Status.ANNULLED:
            raise ValueError("a record is not created annulled")
        pdf_sha256, docx_sha256 = self.blobs.put_many((content.pdf, content.docx))
        now = self._clock()
        record_id = _new_id(now)
        templates = _templates_json(content.templates)
        try:
            with self.engine.begin() as s:
                # Core INSERTs on a connection (the same columns and types as the ORM classes,
                # without an ORM session: rows that are written once and not touched again here)
                s.execute(_INSERT_RECORD, {
                    "id": record_id, "token": token, "token_key": key, "client_id": client_id,
                    "type": doc_type, "language": language, "external_id": external_id, "data": data,
                    "status": status.value, "annulled_reason": None, "annulled_at": None,
                    "created_at": now, "current_version": 1})
                s.execute(_INSERT_VERSION, {
                    "record_id": record_id, "number": 1, "templates": templates,
                    "pdf_sha256": pdf_sha256, "docx_sha256": docx_sha256,
                    "signatures": [sig.to_json() for sig in content.signatures], "created_at": now})
                if idempotency_key is not None:
                    self._idempotency_done(s, client_id, idempotency_key, record_id)
                self._audit(s, now, actor, Action.ISSUE, record_id, {
                    "version": 1, "pdf_sha256": pdf_sha256, "docx_sha256": docx_sha256,
                    "templates": templates, "status": status.value,
                    "external_id": external_id})
        except IntegrityError as e:
            raise self._why_taken(client_id, external_id, token) from e
        record = Record(id=record_id, token=token, client_id=client_id, type=doc_type,
                        language=language, external_id=external_id, data=data, status=status,
                        annulled_reason=None, annulled_at=None, created_at=now, current_version=1)
        version = Version(record_id=record_id, number=1, templates=dict(content.templates),
                          pdf_sha256=pdf_sha256, docx_sha256=docx_sha256,
                          signatures=tuple(content.signatures),
                          created_at=now.astimezone(dt.timezone.utc))
        return record, version

    def add_version(self, record_id: uuid.UUID, content: NewVersion, *, actor: str,
                    action: Action = Action.REGENERATE, status: Status | None = None) -> Version:
        """Version n+1 of a live record (regeneration, or a signature that changed the PDF),
        with its audit event; ``status`` (if given) becomes the record's status. `Conflict` on
        an annulled record and on one that has no version yet (awaiting its officials'
        signatures: store.signing writes its version 1)."""
        _text("actor", actor, 128)
        record_id, action = _uuid(record_id), Action(action)
        if status is not None and Status(status) is Status.ANNULLED:
            raise ValueError("annul() annuls a record")
        pdf_sha256, docx_sha256 = self.blobs.put_many((content.pdf, content.docx))
        now = self._clock()
        with self._write() as s:
            row = self._locked(s, record_id)
            if row.status == Status.ANNULLED.value:
                raise Conflict(f"record {record_id} is annulled", record_id=record_id)
            if s.get(VersionRow, (record_id, row.current_version)) is None:
                # awaiting its officials' signatures: store.signing writes its version 1
                raise Conflict(f"record {record_id} is awaiting its officials' signatures "
                               "(it has no version yet)", record_id=record_id)
            number = row.current_version + 1
            version = _version_row(record_id, number, content, pdf_sha256, docx_sha256, now)
            s.add(version)
            previous, row.current_version = row.status, number
            if status is not None:
                row.status = Status(status).value
            s.flush()
            self._audit(s, now, actor, action, record_id, {
                "version": number, "pdf_sha256": pdf_sha256, "docx_sha256": docx_sha256,
                "templates": _templates_json(content.templates), "status": row.status,
                "previous_status": previous})
            return _version(version)

    def annul(self, record_id: uuid.UUID, reason: str, actor: str) -> Record:
        """Mark a record annulled (reason, time) with its audit event; its versions stay.
        `Conflict` if it already is."""
        _text("reason", reason, 10_000)
        _text("actor", actor, 128)
        record_id = _uuid(record_id)
        now = self._clock()
        with self._write() as s:
            row = self._locked(s, record_id)
            if row.status == Status.ANNULLED.value:
                raise Conflict(f"record {record_id} is already annulled", record_id=record_id)
            current = s.get(VersionRow, (record_id, row.current_version))
            previous = row.status
            row.status, row.annulled_reason, row.annulled_at = Status.ANNULLED.value, reason, now
            s.flush()
            self._audit(s, now, actor, Action.ANNUL, record_id, {
                "reason": reason, "previous_status": previous, "version": row.current_version,
                "pdf_sha256": current.pdf_sha256 if current else None})
            return _record(row)

    def get(self, record_id: uuid.UUID) -> Record:
        row = self._read_row(_RECORD_BY_ID, {"b_id": _uuid(record_id)})
        if row is None:
            raise NotFound(f"no record {record_id}")
        return _record(row)

    def by_token(self, token: str) -> Record:
        """The record whose token is exactly ``token``."""
        row = self._read_row(_RECORD_BY_TOKEN, {"b_token": token})
        if row is None:
            raise NotFound("no record with this token")
        return _record(row)

    def by_external_id(self, client_id: str, external_id: str) -> Record:
        row = self._read_row(_RECORD_BY_EXTERNAL_ID, {"b_client_id": client_id, "b_external_id": external_id})
        if row is None:
            raise NotFound(f"client {client_id!r} has no record {external_id!r}")
        return _record(row)

    def versions(self, record_id: uuid.UUID) -> tuple[Version, ...]:
        """All versions of a record, 1 first."""
        return self._of_record(record_id, _VERSIONS_OF, _version)

    def audit(self, record_id: uuid.UUID) -> tuple[AuditEvent, ...]:
        """A record's audit events, oldest first."""
        return self._of_record(record_id, _AUDIT_OF, _event)

    # -- API keys --------------------------------------------------------------------------

    def create_api_key(self, name: str, scopes: Iterable[str], *, actor: str) -> tuple[ApiKey, str]:
        """A new API key: its facts and the key itself, ``qujat_<id>_<secret>`` (256 random
        bits), which is never stored or shown again; the store keeps its SHA-256."""
        _text("name", name, 200)
        _text("actor", actor, 128)
        scopes = tuple(dict.fromkeys(scopes))
        for scope in scopes:
            _text("scope", scope, 100)
        key_id = secrets.token_hex(8)
        key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        now = self._clock()
        with self._write() as s:
            row = ApiKeyRow(id=key_id, name=name, scopes=list(scopes), key_hash=_key_hash(key),
                            created_at=now)
            s.add(row)
            s.flush()
            self._audit(s, now, actor, Action.KEY_CREATE, None,
                        {"key_id": key_id, "name": name, "scopes": list(scopes)})
            return _api_key(row), key

    def verify_api_key(self, key: str) -> ApiKey | None:
        """The key's facts if ``key`` is a live (not revoked) key, else None. The hash is
        compared in constant time, also when the key id is unknown."""
        match = _KEY.fullmatch(key) if isinstance(key, str) else None
        row = self._read_row(_API_KEY_BY_ID, {"b_id": match.group(1)}) if match else None
        ok = hmac.compare_digest(_key_hash(key if match else ""),
                                 row.key_hash if row is not None else _NO_HASH)
        if ok and row is not None and row.revoked_at is None:
            return _api_key(row)
        return None

    def revoke_api_key(self, key_id: str, *, actor: str) -> ApiKey:
        """Revoke a key (from now on `verify_api_key` refuses it), with an audit event. Revoking
        a revoked key changes nothing."""
        _text("actor", actor, 128)
        now = self._clock()
        with self._write() as s:
            row = s.get(ApiKeyRow, key_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no API key {key_id}")
            if row.revoked_at is None:
                row.revoked_at = now
                s.flush()
                self._audit(s, now, actor, Action.KEY_REVOKE, None, {"key_id": key_id, "name": row.name})
            return _api_key(row)

    def api_keys(self) -> tuple[ApiKey, ...]:
        with self._read() as s:
            rows = s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id))
            return tuple(_api_key(r) for r in rows)

    # -- idempotency (IETF Idempotency-Key draft) --------------------------------------------

    def idempotency_begin(self, client_id: str, key: str, fingerprint: str, *,
                          stale_after: dt.timedelta = STALE_IN_FLIGHT) -> uuid.UUID | None:
        """Claim ``key`` for a request whose body has ``fingerprint`` (`request_fingerprint`).

        None: the caller owns the key and goes on (then `create_record(idempotency_key=key)` or
        `idempotency_finish`, or `idempotency_release` on failure). A record id: this request
        was done before; answer with that record. `IdempotencyMismatch`: the key was used with
        another body. `InFlight`: the first request is still running (a claim older than
        ``stale_after`` is taken over: its process is presumed dead)."""
        _text("client_id", client_id, 64)
        _text("idempotency key", key, 255)
        check_sha256(fingerprint)
        for _ in range(3):                  # lost an insert race: read what the winner wrote
            now = self._clock()
            try:
                with self._write() as s:           # Core statements: a trip per request
                    where = {"b_client_id": client_id, "b_key": key}
                    row = s.execute(_SELECT_IDEMPOTENCY, where).first()
                    if row is None:
                        s.execute(_INSERT_IDEMPOTENCY, {
                            "client_id": client_id, "key": key, "fingerprint": fingerprint,
                            "record_id": None, "state": "in_flight", "created_at": now})
                        return None
                    if row.fingerprint != fingerprint:
                        raise IdempotencyMismatch(
                            "this Idempotency-Key was used with a different request body")
                    if row.state == "done":
                        return row.record_id
                    if now - row.created_at < stale_after:
                        raise InFlight("a request with this Idempotency-Key is still in flight")
                    # taken over; the row lock (PostgreSQL) or BEGIN IMMEDIATE makes this one winner
                    s.execute(_TAKE_OVER_IDEMPOTENCY, {**where, "b_created_at": now})
                    return None
            except IntegrityError:
                continue
        raise InFlight("a request with this Idempotency-Key is still in flight")

    def idempotency_finish(self, client_id: str, key: str, record_id: uuid.UUID) -> None:
        """Mark a claimed key done with ``record_id`` (when `create_record` did not)."""
        with self._write() as s:
            if s.get(RecordRow, _uuid(record_id)) is None:
                raise NotFound(f"no record {record_id}")
            self._idempotency_done(s, client_id, key, _uuid(record_id))

    def idempotency_release(self, client_id: str, key: str) -> bool:
        """Forget an in-flight claim whose request failed, so that the client may retry with
        the same key. A done key is never forgotten (`Conflict`). False if there was none."""
        with self._write() as s:
            row = s.get(IdempotencyRow, (client_id, key), with_for_update=True)
            if row is None:
                return False
            if row.state == "done":
                raise Conflict("this Idempotency-Key is done", record_id=row.record_id)
            s.delete(row)
            return True

    # -- orphan blobs ------------------------------------------------------------------------

    def check_blob_pairing(self) -> None:
        """`store.gc.WrongDatabase` unless this database and this blob folder are one archive's
        (`store.gc.check_pairing`): ask before `collect_blobs`."""
        from store import gc

        with self._read_engine.connect() as conn:
            gc.check_pairing(conn, self.blobs)

    def collect_blobs(self, *, actor: str, older_than: dt.timedelta | None = None,
                      dry_run: bool = False):
        """Delete (unless ``dry_run``) the blobs nothing refers to whose last use is older than
        ``older_than`` (default 24 h, at least 10 min), and temporary files killed writes left
        (`store.gc`); a `store.gc.GcReport`. A run that deleted something writes a
        ``blobs_collected`` audit event (counts and bytes so far, the hashes deleted since the
        run's previous event) after every 1,000 deleted blobs and at its end, also when it
        stopped on an error part-way; the report's ``deleted_names`` are the last event's."""
        from store import gc

        _text("actor", actor, 128)
        report = gc.GcReport(dry_run=dry_run,
                             older_than=gc.DEFAULT_GRACE if older_than is None else older_than)
        audited = [0]                        # deletions named by the events written so far

        def audit(part: gc.GcReport) -> None:
            if part.deleted > audited[0]:
                with self._write() as s:
                    self._audit(s, self._clock(), actor, Action.BLOBS_COLLECTED, None, {
                        **part.to_json(), "deleted_sha256": list(part.deleted_names)})
                audited[0] = part.deleted

        try:
            with self._read_engine.connect() as conn:
                gc.collect(conn, self.blobs, report, audit=audit)   # an event per 1,000 deleted
        finally:
            audit(report)
        return report

    # -- internals ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        """One writing transaction: committed if the block ends normally, else rolled back."""
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            yield s

    @contextlib.contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self._read_engine) as s:
            yield s

    def _read_row(self, statement, params: dict[str, Any]):
        """The first row of a reading statement (Core: the reads every request makes need no ORM
        session), or None."""
        with self._read_engine.connect() as conn:
            return conn.execute(statement, params).first()

    def _of_record(self, record_id: uuid.UUID, statement, convert) -> tuple:
        """The rows ``statement`` selects for a record (in one reading transaction);
        `NotFound` if there is no record."""
        rid = _uuid(record_id)
        with self._read_engine.connect() as conn:
            rows = conn.execute(statement, {"b_record_id": rid}).all()
            if not rows and conn.execute(_RECORD_BY_ID, {"b_id": rid}).first() is None:
                raise NotFound(f"no record {record_id}")
            return tuple(convert(r) for r in rows)

    @staticmethod
    def _locked(s: Session, record_id: uuid.UUID) -> RecordRow:
        row = s.get(RecordRow, _uuid(record_id), with_for_update=True)
        if row is None:
            raise NotFound(f"no record {record_id}")
        return row

    def _audit(self, s: Session | Connection, at: dt.datetime, actor: str, action: Action,
               record_id: uuid.UUID | None, details: dict[str, Any]) -> None:
        """The audit event of the change being made in ``s`` (the last step of its transaction)."""
        if isinstance(s, Session):
            s.flush()                        # the ORM changes before it, if any
        s.execute(_INSERT_AUDIT, {"at": at, "actor": actor, "action": Action(action).value,
                                  "record_id": record_id, "details": details})

    @staticmethod
    def _idempotency_done(s: Session | Connection, client_id: str, key: str, record_id: uuid.UUID) -> None:
        where = {"b_client_id": client_id, "b_key": key}
        done = s.execute(_FINISH_IDEMPOTENCY, {**where, "b_record_id": record_id})
        if done.rowcount != 1:
            row = s.execute(_IDEMPOTENCY_BY_KEY, where).first()
            if row is None:
                raise Conflict("this Idempotency-Key was not begun (idempotency_begin)")
            raise Conflict("this Idempotency-Key is already done", record_id=row.record_id)

    def _why_taken(self, client_id: str, external_id: str | None, token: str) -> Conflict:
        with self._read() as s:
            if external_id is not None:
                other = s.scalar(select(RecordRow.id).where(RecordRow.client_id == client_id,
                                                            RecordRow.external_id == external_id))
                if other is not None:
                    return Conflict(f"client {client_id!r} already has a record {external_id!r}",
                                    record_id=other)
            other = s.scalar(select(RecordRow.id).where(
                (RecordRow.token == token) | (RecordRow.token_key == token_key(token))))
            if other is not None:
                return Conflict("this token is already used by another record", record_id=other)
            return Conflict("the database refused the record (a concurrent change?)")

    def count(self, table: str) -> int:
        """Rows in one of the store's tables (health checks, tests)."""
        rows = {"records": RecordRow, "versions": VersionRow, "audit_events": AuditRow,
                "api_keys": ApiKeyRow, "idempotency_keys": IdempotencyRow}[table]
        with self._read() as s:
            return s.scalar(select(func.count()).select_from(rows))


def _text(name: str, value: str, max_len: int) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise ValueError(f"{name}: a non-empty string of at most {max_len} characters")


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _json_copy(name: str, value: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{name}: a JSON object")
    try:
        return json.loads(json.dumps(dict(value), ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: not JSON ({e})") from None


def _new_id(now: dt.datetime) -> uuid.UUID:
    """A UUIDv7: 48 bits of Unix milliseconds, then 74 random bits — sorts by creation time."""
    ms = int(now.timestamp() * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) & 0xFFF) << 64 | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return uuid.UUID(int=value)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _templates_json(templates: Mapping[str, TemplateRef]) -> dict[str, dict[str, str]]:
    return {lang: {"version": t.version, "sha256": t.sha256} for lang, t in templates.items()}


def _version_row(record_id: uuid.UUID, number: int, content: NewVersion, pdf_sha256: str,
                 docx_sha256: str, now: dt.datetime) -> VersionRow:
    return VersionRow(record_id=record_id, number=number, templates=_templates_json(content.templates),
                      pdf_sha256=pdf_sha256, docx_sha256=docx_sha256,
                      signatures=[sig.to_json() for sig in content.signatures], created_at=now)


def _record(row: RecordRow | Row) -> Record:
    return Record(id=row.id, token=row.token, client_id=row.client_id, type=row.type,
                  language=row.language, external_id=row.external_id, data=row.data,
                  status=Status(row.status), annulled_reason=row.annulled_reason,
                  annulled_at=row.annulled_at, created_at=row.created_at,
                  current_version=row.current_version)


def _version(row: VersionRow | Row) -> Version:
    return Version(record_id=row.record_id, number=row.number,
                   templates={lang: TemplateRef(**t) for lang, t in row.templates.items()},
                   pdf_sha256=row.pdf_sha256, docx_sha256=row.docx_sha256,
                   signatures=tuple(SignatureInfo.from_json(s) for s in row.signatures),
                   created_at=row.created_at, batch_id=getattr(row, "batch_id", None))


def _event(row: AuditRow | Row) -> AuditEvent:
    return AuditEvent(id=row.id, at=row.at, actor=row.actor, action=Action(row.action),
                      record_id=row.record_id, details=row.details)


def _api_key(row: ApiKeyRow | Row) -> ApiKey:
    return ApiKey(id=row.id, name=row.name, scopes=tuple(row.scopes), created_at=row.created_at,
                  revoked_at=row.revoked_at)
