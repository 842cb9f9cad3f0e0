"""Closed vocabularies of the signing side (ETSI EN 319 102-1 terms) and the report.

The report is a set of frozen dataclasses; its JSON (spec §4) is a rendering of them
with a fixed set of keys, so the HTTP API, the CLI and the tests all see one shape.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "Level",
    "Indication",
    "SubIndication",
    "SignerFields",
    "SignatureReport",
    "VerificationReport",
    "FetchOutcome",
    "FetchNote",
    "TimestampKind",
    "TimestampReport",
]


class _Parsable(enum.Enum):
    @classmethod
    def from_config(cls, value: "str | _Parsable"):
        """Accept the enum itself, its value (``"B-LT"``) or its name (``"B_LT"``), any case."""
        if isinstance(value, cls):
            return value
        text = str(value).strip()
        for member in cls:
            if text.upper() in (member.value.upper(), member.name.upper()):
                return member
        allowed = ", ".join(m.value for m in cls)
        raise ValueError(f"unknown {cls.__name__} {value!r}; expected one of {allowed}")


class Level(_Parsable):
    """PAdES baseline level (ETSI EN 319 142-1)."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"


class Indication(_Parsable):
    """Main status of a validation (ETSI EN 319 102-1 §5.1.3)."""

    TOTAL_PASSED = "TOTAL_PASSED"
    INDETERMINATE = "INDETERMINATE"
    TOTAL_FAILED = "TOTAL_FAILED"

    @property
    def rank(self) -> int:
        """Worse is higher; the document's indication is the worst of its signatures."""
        return {"TOTAL_PASSED": 0, "INDETERMINATE": 1, "TOTAL_FAILED": 2}[self.value]


class SubIndication(_Parsable):
    """Why a validation did not pass: the ETSI EN 319 102-1 names (the same set pyHanko's
    AdES engine uses), none invented."""

    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
    POLICY_PROCESSING_ERROR = "POLICY_PROCESSING_ERROR"
    SIGNATURE_POLICY_NOT_AVAILABLE = "SIGNATURE_POLICY_NOT_AVAILABLE"
    TIMESTAMP_ORDER_FAILURE = "TIMESTAMP_ORDER_FAILURE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    REVOCATION_OUT_OF_BOUNDS_NO_POE = "REVOCATION_OUT_OF_BOUNDS_NO_POE"
    OUT_OF_BOUNDS_NOT_REVOKED = "OUT_OF_BOUNDS_NOT_REVOKED"
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    NO_POE = "NO_POE"


@dataclass(frozen=True)
class SignerFields:
    """Who signed, parsed the NCA way from the certificate subject and EKU."""

    common_name: str = ""
    iin: str = ""
    bin: str = ""
    organization: str = ""
    roles: tuple[str, ...] = ()
    surname: str = ""
    given_name: str = ""
    iin_valid: bool | None = None
    bin_valid: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "common_name": self.common_name,
            "iin": self.iin,
            "bin": self.bin,
            "organization": self.organization,
            "roles": list(self.roles),
        }


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class SignatureReport:
    """Outcome for one signature field. ``notes`` are human explanations (not in JSON)."""

    field: str
    indication: Indication
    sub_indication: SubIndication | None
    intact: bool
    covers_whole_document: bool
    modified_after_signing: bool
    trusted: bool
    revoked: bool
    signing_time: datetime | None
    timestamp_time: datetime | None
    level: Level
    signer: SignerFields
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "indication": self.indication.value,
            "sub_indication": self.sub_indication.value if self.sub_indication else None,
            "intact": self.intact,
            "covers_whole_document": self.covers_whole_document,
            "modified_after_signing": self.modified_after_signing,
            "trusted": self.trusted,
            "revoked": self.revoked,
            "signing_time": _iso(self.signing_time),
            "timestamp_time": _iso(self.timestamp_time),
            "level": self.level.value,
            "signer": self.signer.as_dict(),
        }


class FetchOutcome(_Parsable):
    """What became of one revocation download during verification."""

    FETCHED = "FETCHED"
    REFUSED = "REFUSED"  # the fetch policy forbids the URL or its address; nothing was sent
    FAILED = "FAILED"  # tried, but no usable answer (network error, HTTP status, size, parse)
    SKIPPED = "SKIPPED"  # not tried: time budget or request count exhausted


@dataclass(frozen=True)
class FetchNote:
    """One CRL or OCSP download attempt made (or refused) while verifying.

    ``url`` is the URL as found in the certificate, made printable and shortened; it
    never carries a resolved address, and ``reason`` comes from a fixed vocabulary
    (no exception text), so a note reveals nothing about the verifier's network.
    """

    kind: str  # "crl", "ocsp", or "dss" (revocation data stored in the document itself)
    url: str
    outcome: FetchOutcome
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url, "outcome": self.outcome.value, "reason": self.reason}


class TimestampKind(_Parsable):
    """A signature timestamp (an unsigned attribute of one signature's CMS) or a
    document timestamp (a /DocTimeStamp revision covering the file up to it)."""

    SIGNATURE = "signature"
    DOCUMENT = "document"


@dataclass(frozen=True)
class TimestampReport:
    """One RFC 3161 timestamp found in the document, validated on its own.

    ``field``: the signature it belongs to (kind signature) or its own field (kind
    document). ``time``: its genTime, None when unreadable. ``tsa``: the subject of the
    TSA certificate, "" when there is none. ``used``: this timestamp is relied on — the
    validation moment of its signature (the earliest valid one) or, for a document
    timestamp, the proof that makes the earlier signatures B-LTA. ``reason`` says why
    it did not pass ("" when it passed); it is the verifier's wording, never the text
    of an exception. ``validated_at``: the moment its TSA chain was validated at — the
    verification moment, or the proof of existence a later document timestamp gives
    (``timestamps``); not in the JSON, whose keys are fixed.
    """

    kind: TimestampKind
    field: str
    time: datetime | None
    tsa: str
    indication: Indication
    sub_indication: SubIndication | None = None
    reason: str = ""
    used: bool = False
    validated_at: datetime | None = None

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "field": self.field,
            "time": _iso(self.time),
            "tsa": self.tsa,
            "indication": self.indication.value,
            "sub_indication": self.sub_indication.value if self.sub_indication else None,
            "reason": self.reason,
            "used": self.used,
        }


@dataclass(frozen=True)
class VerificationReport:
    """Outcome for a whole PDF: TOTAL_PASSED only if every signature passed and one exists.

    ``fetches`` lists the revocation downloads of an online verification (empty offline).
    ``timestamps`` lists every signature and document timestamp with its own result. A
    timestamp that fails proves nothing: it is ignored when another timestamp of the
    same signature validates; a signature whose timestamps all fail is INDETERMINATE /
    NO_POE; a document timestamp that fails only withholds the B-LTA level.
    """

    signatures: tuple[SignatureReport, ...] = field(default_factory=tuple)
    fetches: tuple[FetchNote, ...] = field(default_factory=tuple)
    timestamps: tuple[TimestampReport, ...] = field(default_factory=tuple)

    @property
    def indication(self) -> Indication:
        if not self.signatures:
            return Indication.INDETERMINATE
        return max((s.indication for s in self.signatures), key=lambda i: i.rank)

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED

    def as_dict(self) -> dict[str, Any]:
        return {
            "indication": self.indication.value,
            "signatures": [s.as_dict() for s in self.signatures],
            "fetches": [f.as_dict() for f in self.fetches],
            "timestamps": [t.as_dict() for t in self.timestamps],
        }

    def to_json(self, **kwargs: Any) -> str:
        kwargs.setdefault("ensure_ascii", False)
        kwargs.setdefault("indent", 2)
        return json.dumps(self.as_dict(), **kwargs)
