"""Who signed a version and whether each signature verifies now.

The stored PDF is verified with `signing.verify.verify_pdf` against the runtime's trust anchors,
offline (a public page never makes the server fetch anything), at the runtime clock's "now". The
result is cached per PDF SHA-256 for a few minutes in the app's state (`VerificationCache`), so a
page view costs a verification only once in a while, and concurrent views of one document wait
for one verification instead of running several.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from signing.model import Indication, VerificationReport
from signing.verify import verify_pdf

__all__ = ["Checked", "SignerView", "VerificationCache", "check_stored", "signer_views"]

log = logging.getLogger(__name__)

#: The role names of `signing.ncacert.ROLE_OIDS`, most telling first; "organization" (a legal
#: entity's certificate) says nothing an organisation name does not.
_ROLE_ORDER = ("ceo", "can_sign", "can_sign_financial", "hr", "employee", "individual")


@dataclass(frozen=True)
class SignerView:
    name: str
    organization: str
    position: dict[str, str] | None     # from the document's data when the signer is named there
    role: str | None                    # else the certificate's role (a key of _ROLE_ORDER)
    signed_at: dt.datetime | None
    check: str                          # passed | indeterminate | failed | error
    indication: str | None
    sub_indication: str | None

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "organization": self.organization or None,
                "position": self.position, "role": self.role,
                "signed_at": self.signed_at.isoformat() if self.signed_at else None,
                "check": self.check, "indication": self.indication,
                "sub_indication": self.sub_indication}


@dataclass(frozen=True)
class Checked:
    """A stored PDF verified at ``checked_at``: the report (None if verifying it failed) and the
    file's size in bytes."""

    report: VerificationReport | None
    size: int
    checked_at: dt.datetime


class VerificationCache:
    """`Checked` results by PDF SHA-256, each kept ``ttl_s`` seconds, at most ``size`` of them."""

    def __init__(self, ttl_s: float = 600.0, size: int = 256):
        self.ttl_s, self.size = ttl_s, size
        self._entries: OrderedDict[str, tuple[float, Checked]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def get(self, sha256: str, check: Callable[[], Checked]) -> Checked:
        """The cached result for ``sha256``, or ``check()``'s (then cached)."""
        found = self._fresh(sha256)
        if found is not None:
            return found
        with self._lock:
            key_lock = self._key_locks.setdefault(sha256, threading.Lock())
        try:
            with key_lock:                      # one verification per document at a time
                found = self._fresh(sha256)
                if found is None:
                    found = check()
                    with self._lock:
                        self._entries[sha256] = (time.monotonic() + self.ttl_s, found)
                        self._entries.move_to_end(sha256)
                        while len(self._entries) > self.size:
                            self._entries.popitem(last=False)
                return found
        finally:
            with self._lock:
                self._key_locks.pop(sha256, None)

    def _fresh(self, sha256: str) -> Checked | None:
        with self._lock:
            entry = self._entries.get(sha256)
            return entry[1] if entry is not None and entry[0] > time.monotonic() else None


def check_stored(pdf: bytes, trust: tuple, at: dt.datetime) -> Checked:
    """A stored PDF verified at ``at``, offline (never fetching what a certificate names)."""
    try:
        report = verify_pdf(pdf, trust=trust, at=at, policy=None)
    except Exception:  # noqa: BLE001 - the page then says "could not be checked"
        log.exception("verifying a stored PDF failed")
        report = None
    return Checked(report, len(pdf), at)


def _title_case(name: str) -> str:
    """«ЖАНДОСОВ АЙДАР» → «Жандосов Айдар» (certificates write names in capitals)."""
    def word(w: str) -> str:
        return "-".join(p[:1].upper() + p[1:].lower() if p.isupper() else p for p in w.split("-"))
    return " ".join(word(w) for w in name.split())


def _key(name: str) -> tuple[str, ...]:
    return tuple(w.casefold() for w in name.split()[:2])


def _check(indication: Indication) -> str:
    return {Indication.TOTAL_PASSED: "passed", Indication.INDETERMINATE: "indeterminate",
            Indication.TOTAL_FAILED: "failed"}[indication]


def signer_views(report: VerificationReport | None, stored: tuple, officials: tuple[dict, ...]) -> list[SignerView]:
    """One view per signature: from the verification ``report`` (what the PDF holds; the time
    from a timestamp, else from ``stored``), else from the ``stored`` `store.SignatureInfo`s
    marked "error". A signer that the document's data name
    (``officials``: full_name, position) gets that spelling of the name and the position."""
    by_name = {_key(o["full_name"]): o for o in officials}
    views = []
    if report is not None:
        # when: a TSA's time, else when the service took the signature (what it stored: for an
        # official's two-step signature the moment the CMS was accepted, not the moment the PDF
        # was prepared, which the signature dictionary's /M holds), else what the PDF claims
        taken = [info.time for info in stored] if len(stored) == len(report.signatures) else []
        for i, sig in enumerate(report.signatures):
            f = sig.signer
            name = f.common_name or ""
            if f.given_name and f.given_name.casefold() not in name.casefold():
                name = f"{name} {f.given_name}"
            official = by_name.get(_key(name))
            roles = [r for r in _ROLE_ORDER if r in f.roles]
            views.append(SignerView(
                name=official["full_name"] if official else _title_case(name),
                organization=f.organization,
                position=official["position"] if official else None,
                role=None if official and official["position"] else (roles[0] if roles else None),
                signed_at=sig.timestamp_time or (taken[i] if taken else sig.signing_time),
                check=_check(sig.indication), indication=sig.indication.value,
                sub_indication=sig.sub_indication.value if sig.sub_indication else None))
        return views
    for info in stored:
        official = by_name.get(_key(info.signer))
        views.append(SignerView(
            name=official["full_name"] if official else _title_case(info.signer), organization="",
            position=official["position"] if official else None, role=None, signed_at=info.time,
            check="error", indication=None, sub_indication=None))
    return views
