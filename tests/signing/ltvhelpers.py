"""Test helpers shared by the long-term-signature and revocation tests (tests/signing,
tests/attacks, tests/api): one copy each instead of one per test module.

``b_b`` is a pytest fixture; a module that imports it must also have test_ltv's ``original``
and ``short_lived`` fixtures in its namespace (imported from test_ltv)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from asn1crypto import cms, core, ocsp

from signing.model import TimestampKind
from signing.sign import sign_pdf


class Clock:
    """The real UTC time moved by ``offset`` (a test moves it forward or back)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


def document_stamps(report):
    """The document timestamps of a verification report, in its order."""
    return [t for t in report.timestamps if t.kind is TimestampKind.DOCUMENT]


@pytest.fixture(scope="module")
def b_b(original, short_lived):
    """test_ltv's original PDF signed at B-B (no timestamp) by its short-lived signer."""
    return sign_pdf(original, short_lived, level="B-B")


def carrying(der: bytes, *answers: ocsp.OCSPResponse, junk: int = 0) -> bytes:
    """The CMS ``der`` with ``answers`` in its SignedData's revocation info (id-ri-ocsp-response)
    and ``junk`` entries of an unknown format after them: outside the signed attributes, so the
    signature still verifies."""
    sd = cms.ContentInfo.load(der)["content"]
    choices = [cms.RevocationInfoChoice(name="other", value={"other_rev_info_format": "ocsp_response",
                                                             "other_rev_info": a}) for a in answers]
    choices += [cms.RevocationInfoChoice(name="other", value={"other_rev_info_format": "1.2.3.4",
                                                              "other_rev_info": core.OctetString(b"x")})] * junk
    sd["crls"] = cms.RevocationInfoChoices(choices)
    return cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump(force=True)
