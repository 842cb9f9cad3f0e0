"""What the API answers (response models, in the OpenAPI document) and the small bodies it takes.

The issuing request itself is not a model here: `POST /documents` reads the body as it came
(its fingerprint is the idempotency check) and validates it with docgen, so that the problems
carry the request's own field paths; its schema in the OpenAPI document is docgen's, per type
(`qujat.api.openapi`).
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from docgen.qr import verification_url
from store import AuditEvent, Record, Version

__all__ = ["Problem", "ErrorOut", "TemplateOut", "SignatureOut", "VersionOut", "DocumentOut",
           "AuditEventOut", "AnnulIn", "ExpectedSignerOut", "SigningStepOut", "SignatureIn",
           "TicketOut", "document_out", "version_out", "event_out", "MAX_CMS_BASE64"]


class Problem(BaseModel):
    path: str = Field(description="dotted JSON path of the field (list indices as numbers); "
                                  "'' for the request as a whole; header.<name> for a header")
    message: str


class ErrorOut(BaseModel):
    code: str = Field(description="machine-readable: invalid_request, unauthorized, forbidden, "
                                  "not_found, in_flight, idempotency_key_reused, busy, …")
    message: str
    problems: list[Problem] = []


class TemplateOut(BaseModel):
    version: str
    sha256: str


class SignatureOut(BaseModel):
    signer: str = Field(description="the signer's common name")
    time: dt.datetime


class VersionOut(BaseModel):
    number: int
    created_at: dt.datetime
    pdf_sha256: str
    docx_sha256: str
    templates: dict[str, TemplateOut] = Field(description="language → template version and SHA-256")
    signatures: list[SignatureOut]
    batch_id: uuid.UUID | None = Field(None, description="the batch that made this version "
                                       "(regeneration or LTV extension); null when issued or signed")


class DocumentOut(BaseModel):
    id: uuid.UUID
    token: str = Field(description="the public token printed under the QR code")
    type: str
    language: str
    external_id: str | None
    status: Literal["awaiting_signature", "valid", "annulled", "superseded"]
    annulled_reason: str | None
    annulled_at: dt.datetime | None
    created_at: dt.datetime
    current_version: int
    verification_url: str = Field(description="<PUBLIC_BASE_URL>/v/<token>, what the QR encodes")
    data: dict[str, Any] = Field(description="the validated request data as stored")
    versions: list[VersionOut]
    links: dict[str, str] = Field(description="self, pdf, docx, versions, audit, annul, public; "
                                              "signing and signatures while awaiting signatures")


class AuditEventOut(BaseModel):
    id: int
    at: dt.datetime
    actor: str = Field(description="who: api-key:<key id>, cli:<user>; never a key")
    action: str
    details: dict[str, Any]


class AnnulIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="why the document is annulled",
                        examples=["Шешім күшін жойды / Решение отменено"])

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the reason must not be blank")
        return v.strip()


class ExpectedSignerOut(BaseModel):
    role: str = Field(description="the label shown on the page, as the request gave it")
    iin: str | None = Field(description="the IIN the signer's certificate must carry")
    bin: str | None = Field(description="the BIN the signer's certificate must carry (then also an "
                                        "NCA role of the organisation's head or of a person with the "
                                        "right to sign)")


class SigningStepOut(BaseModel):
    signer_index: int = Field(description="who signs now, 0 first (the request's signers order)")
    total: int = Field(description="how many officials sign this document")
    expected: ExpectedSignerOut
    digest_algorithm: Literal["sha256"]
    digest: str = Field(description="base64 SHA-256 of the prepared PDF's signed byte ranges: what "
                                    "the CMS's message-digest must be (NCALayer basics: a detached "
                                    "CMS over this hash)")


# 64 KiB of DER in base64, with room for line breaks
MAX_CMS_BASE64 = 96 * 1024


class SignatureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cms: str = Field(min_length=1, max_length=MAX_CMS_BASE64,
                     description="base64 of a DER detached CMS (CAdES) whose signed attributes hold "
                                 "content-type id-data and message-digest = the served digest")


class TicketOut(BaseModel):
    ticket: str = Field(description="single use; only its hash is stored; never shown again")
    url: str = Field(description="<PUBLIC_BASE_URL>/sign/<id>?ticket=…: the official's signing page")
    expires_at: dt.datetime


def version_out(v: Version) -> VersionOut:
    return VersionOut(number=v.number, created_at=v.created_at, pdf_sha256=v.pdf_sha256,
                      docx_sha256=v.docx_sha256,
                      templates={lang: TemplateOut(version=t.version, sha256=t.sha256)
                                 for lang, t in v.templates.items()},
                      signatures=[SignatureOut(signer=s.signer, time=s.time) for s in v.signatures],
                      batch_id=v.batch_id)


def document_out(record: Record, versions: tuple[Version, ...], base_url: str) -> DocumentOut:
    here = f"/documents/{record.id}"
    public = verification_url(base_url, record.token)
    links = {"self": here, "pdf": f"{here}/pdf", "docx": f"{here}/docx", "versions": f"{here}/versions",
             "audit": f"{here}/audit", "annul": f"{here}/annul", "public": public}
    if record.status.value == "awaiting_signature":
        del links["pdf"], links["docx"]              # no file until the last signature is in
        links.update(signing=f"{here}/signing", signatures=f"{here}/signatures",
                     tickets=f"{here}/signing/tickets")
    return DocumentOut(
        id=record.id, token=record.token, type=record.type, language=record.language,
        external_id=record.external_id, status=record.status.value,
        annulled_reason=record.annulled_reason, annulled_at=record.annulled_at,
        created_at=record.created_at, current_version=record.current_version,
        verification_url=public, data=record.data, versions=[version_out(v) for v in versions],
        links=links)


def event_out(e: AuditEvent) -> AuditEventOut:
    return AuditEventOut(id=e.id, at=e.at, actor=e.actor, action=e.action.value, details=e.details)
