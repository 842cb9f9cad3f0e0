"""What the store hands out and takes in: enums and frozen dataclasses, no SQLAlchemy.

Datetimes are aware and in UTC. JSON values (`Record.data`, audit details) are plain dicts as
decoded from the database: a copy per call, changing one changes nothing stored.
"""
from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Status", "Action", "TemplateRef", "SignatureInfo", "NewVersion", "Record", "Version",
           "AuditEvent", "ApiKey", "token_key", "request_fingerprint"]

_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,128}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Status(str, enum.Enum):
    AWAITING_SIGNATURE = "awaiting_signature"
    VALID = "valid"
    ANNULLED = "annulled"
    SUPERSEDED = "superseded"


class Action(str, enum.Enum):
    """What an audit event records."""

    ISSUE = "issue"
    SIGN = "sign"
    ANNUL = "annul"
    REGENERATE = "regenerate"
    KEY_CREATE = "key_create"
    KEY_REVOKE = "key_revoke"
    EXTEND_LTV = "extend_ltv"              # a version extended to B-LTA (no re-rendering)
    BATCH_START = "batch_start"            # a batch created (record_id None; details: the spec)
    BATCH_RESUME = "batch_resume"          # the same command ran again on an unfinished batch
    BATCH_FINISH = "batch_finish"          # counts of done / failed / skipped
    SIGNING_TICKET = "signing_ticket"      # a signing-page ticket handed out (never the ticket)
    SIGNATURE_REFUSED = "signature_refused"  # a submitted CMS refused (why; nothing changed)
    BLOBS_COLLECTED = "blobs_collected"    # `qujat gc-blobs` deleted unreferenced blob files


@dataclass(frozen=True)
class TemplateRef:
    """The template one language of a version was filled from."""

    version: str
    sha256: str

    def __post_init__(self) -> None:
        if not self.version:
            raise ValueError("template version must not be empty")
        check_sha256(self.sha256)


@dataclass(frozen=True)
class SignatureInfo:
    """Who signed a version and when (aware UTC)."""

    signer: str
    time: dt.datetime

    def __post_init__(self) -> None:
        if not self.signer:
            raise ValueError("signer must not be empty")
        if self.time.tzinfo is None:
            raise ValueError("signature time must be timezone-aware")
        object.__setattr__(self, "time", self.time.astimezone(dt.timezone.utc))

    def to_json(self) -> dict[str, str]:
        return {"signer": self.signer, "time": self.time.isoformat()}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> "SignatureInfo":
        return cls(signer=raw["signer"], time=dt.datetime.fromisoformat(raw["time"]))


@dataclass(frozen=True)
class NewVersion:
    """The content of a version to store: the files and how they were made. The store writes
    the files to the blob store and keeps their SHA-256."""

    pdf: bytes
    docx: bytes
    templates: Mapping[str, TemplateRef]          # language → template
    signatures: tuple[SignatureInfo, ...] = ()

    def __post_init__(self) -> None:
        if not self.pdf or not self.docx:
            raise ValueError("a version needs both the PDF and the DOCX")
        if not self.templates or not all(isinstance(k, str) and isinstance(v, TemplateRef)
                                         for k, v in self.templates.items()):
            raise ValueError("templates: a mapping language → TemplateRef, not empty")
        object.__setattr__(self, "signatures", tuple(self.signatures))


@dataclass(frozen=True)
class Record:
    id: uuid.UUID
    token: str
    client_id: str
    type: str
    language: str
    external_id: str | None
    data: dict[str, Any]
    status: Status
    annulled_reason: str | None
    annulled_at: dt.datetime | None
    created_at: dt.datetime
    current_version: int


@dataclass(frozen=True)
class Version:
    record_id: uuid.UUID
    number: int
    templates: Mapping[str, TemplateRef]
    pdf_sha256: str
    docx_sha256: str
    signatures: tuple[SignatureInfo, ...]
    created_at: dt.datetime
    batch_id: uuid.UUID | None = None       # the batch that made it (None: issued or signed)


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: dt.datetime
    actor: str
    action: Action
    record_id: uuid.UUID | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiKey:
    """An API key's public facts. The key itself is shown once, at creation; the store keeps
    only its hash."""

    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def check_sha256(value: str) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise ValueError(f"not a lowercase hex SHA-256: {value!r}")
    return value


def token_key(token: str) -> str:
    """The column a case-insensitive token lookup uses: lower case, '-' separators removed.
    A token is 22 to 128 URL-safe characters (≥ 128 random bits is the caller's duty)."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise ValueError("a token is 22 to 128 characters of A-Z a-z 0-9 _ -")
    return token.lower().replace("-", "")


def request_fingerprint(body: Any) -> str:
    """SHA-256 of a request body for idempotency: bytes as they are, anything else as canonical
    JSON (sorted keys, no spaces, UTF-8), so that key order and spacing do not matter."""
    if not isinstance(body, (bytes, bytearray)):
        body = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(body).hexdigest()
