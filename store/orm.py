"""The tables, as typed SQLAlchemy 2 ORM classes. The schema itself is made by the Alembic
migrations in `store/migrations`; a test checks that these classes and the migrated database
agree (alembic's autogenerate comparison finds nothing to do).

Portable types: UUIDs are native on PostgreSQL and 32 hex characters on SQLite; JSON is JSONB on
PostgreSQL; datetimes are `timestamptz` on PostgreSQL and UTC text on SQLite, always handed out
aware in UTC; enumerations are strings with a CHECK constraint.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (JSON, BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer,
                        MetaData, String, Text, UniqueConstraint, Uuid, text)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = ["Base", "RecordRow", "VersionRow", "AuditRow", "ApiKeyRow", "IdempotencyRow",
           "BatchRow", "BatchItemRow", "STATUSES", "IDEMPOTENCY_STATES", "BATCH_KINDS",
           "BATCH_STATUSES", "ITEM_STATES"]

STATUSES = ("awaiting_signature", "valid", "annulled", "superseded")
IDEMPOTENCY_STATES = ("in_flight", "done")
BATCH_KINDS = ("regenerate", "extend_ltv")
BATCH_STATUSES = ("running", "finished", "cancelled")
ITEM_STATES = ("pending", "done", "failed", "skipped")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend (a naive one is refused)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store keeps aware UTC times only")
        value = value.astimezone(dt.timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: JsonType,
        list[Any]: JsonType,
    }


class RecordRow(Base):
    """One issued document. ``token`` is stored as given; ``token_key`` (lower case, no '-') is
    what a case-insensitive lookup searches. ``external_id`` is unique per client."""

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("client_id", "external_id"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint("current_version >= 1", name="current_version"),
        CheckConstraint("status <> 'annulled' OR (annulled_at IS NOT NULL AND annulled_reason IS NOT NULL)",
                        name="annulled"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(128), unique=True)
    token_key: Mapped[str] = mapped_column(String(128), unique=True)
    client_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(32))
    annulled_reason: Mapped[str | None] = mapped_column(Text)
    annulled_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    current_version: Mapped[int]


class VersionRow(Base):
    """Version ``number`` (1..n) of a record. Never deleted: no code path does, and a trigger
    refuses DELETE (and the record cannot go while it has versions). ``batch_id``: the batch
    that made it; unique per record, so that no batch gives a record two versions."""

    __tablename__ = "versions"
    __table_args__ = (CheckConstraint("number >= 1", name="number"),
                      Index("ix_versions_record_id_batch_id", "record_id", "batch_id", unique=True))

    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("records.id"), primary_key=True)
    number: Mapped[int] = mapped_column(primary_key=True)
    templates: Mapped[dict[str, Any]]        # {"kk": {"version": …, "sha256": …}, …}
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    docx_sha256: Mapped[str] = mapped_column(String(64))
    signatures: Mapped[list[Any]]            # [{"signer": …, "time": ISO 8601}, …]
    created_at: Mapped[dt.datetime]
    batch_id: Mapped[uuid.UUID | None] = mapped_column(default=None)


class AuditRow(Base):
    """Append-only: a trigger refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                    autoincrement=True)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("records.id"), index=True)
    details: Mapped[dict[str, Any]]


class ApiKeyRow(Base):
    """An API key: its SHA-256 only, never the key."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[Any]]
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class IdempotencyRow(Base):
    """An Idempotency-Key of a client: the request's fingerprint and, once done, its record."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (CheckConstraint(_in("state", IDEMPOTENCY_STATES), name="state"),)

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("records.id"))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime]


class BatchRow(Base):
    """A regeneration (or LTV extension) job over many records. ``spec``: the normalised filters
    and options; ``spec_hash`` finds the unfinished batch that the same command resumes."""

    __tablename__ = "batches"
    __table_args__ = (CheckConstraint(_in("kind", BATCH_KINDS), name="kind"),
                      CheckConstraint(_in("status", BATCH_STATUSES), name="status"),
                      Index("ix_batches_spec_hash_status", "spec_hash", "status"),
                      # at most one running batch per spec (migration 0004): of two coordinators
                      # starting the same spec at once, one inserts it, the other resumes it
                      Index("ux_batches_running_spec_hash", "spec_hash", unique=True,
                            sqlite_where=text("status = 'running'"),
                            postgresql_where=text("status = 'running'")))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict[str, Any]]
    spec_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    retry_of: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("batches.id"))
    total: Mapped[int]
    created_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]


class BatchItemRow(Base):
    """One record of a batch: pending until its new version is written (``done``, in the same
    transaction as the version) or it fails (``failed``, with the reason) or is left alone
    (``skipped``, e.g. annulled meanwhile)."""

    __tablename__ = "batch_items"
    __table_args__ = (CheckConstraint(_in("state", ITEM_STATES), name="state"),
                      Index("ix_batch_items_batch_id_state", "batch_id", "state"))

    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("records.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int]
    updated_at: Mapped[dt.datetime]


# -- officials' two-step signing (migration 0003) ------------------------------------------------

__all__ += ["SigningStateRow", "SigningTicketRow"]


class SigningStateRow(Base):
    """The signing state of a record whose officials sign it themselves (one row per such record,
    kept after the last signature as its history).

    ``signers``: who must sign, in order ([{"role", "iin", "bin"}, …]); ``next_index``: the step
    the prepared PDF waits for (``len(signers)`` once done); ``done``: the accepted signatures
    ([{"index", "common_name", "iin", "bin", "time", "cms_sha256", "digest"}, …]).
    The prepared PDF (the signed-so-far PDF plus an empty signature field) is the blob
    ``pdf_sha256``; ``digest`` (hex), ``field_name`` and the placeholder's offsets complete
    `signing.deferred.Prepared`. The DOCX and the templates are those version 1 will name."""

    __tablename__ = "signing_states"
    __table_args__ = (CheckConstraint("next_index >= 0", name="next_index"),)

    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("records.id"), primary_key=True)
    signers: Mapped[list[Any]]
    next_index: Mapped[int]
    done: Mapped[list[Any]]
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    docx_sha256: Mapped[str] = mapped_column(String(64))
    templates: Mapped[dict[str, Any]]
    field_name: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(64))
    contents_start: Mapped[int] = mapped_column(BigInteger())
    contents_end: Mapped[int] = mapped_column(BigInteger())
    updated_at: Mapped[dt.datetime]


class SigningTicketRow(Base):
    """A signing-page ticket: its SHA-256 only, never the ticket. Good for one record's one step
    (``signer_index``) until ``expires_at``, once (``used_at``)."""

    __tablename__ = "signing_tickets"

    ticket_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("records.id"), index=True)
    signer_index: Mapped[int]
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
