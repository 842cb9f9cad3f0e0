"""An official's signature from a revoked certificate is refused in the default configuration
(issue 11, item 2: a CMS "from an untrusted or revoked certificate … gets a clear 4xx and changes
nothing"), even when QUJAT_VERIFY_ONLINE is off: QUJAT_SIGNATURE_REVOCATION (``require`` by
default, ``try``, ``off``; `qujat.signflow` step 4).

The app runs with the default settings but QUJAT_FETCH_ALLOW_PRIVATE (the dev PKI serves OCSP and
CRL on loopback) and the real clock. A test serves the dev PKI (`signing.pki.PkiServer`, with a
revoked employee's certificate) when it wants the CA reachable, and does not when it wants it down.
Refusals are checked to change nothing: the record's JSON, the signing state, the audit trail and
the stored in-progress PDF's SHA-256; a signing-page ticket stays good. An accepted signature's
sign audit event keeps the OCSP answer that established the signer's status, and the final PDF
verifies offline, also after that answer's nextUpdate."""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import io
import uuid
from collections import Counter

import pytest
from asn1crypto import ocsp as asn1_ocsp
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader

from qujat import signflow
from qujat.api import create_app
from qujat.settings import Settings
from signing.model import Indication
from signing.netfetch import FetchPolicy
from signing.pki import PkiServer, init_dev_pki
from signing.verify import verify_pdf
from tests.api.helpers import pdfsig_valid
from tests.api.test_signing_flow import BASE_URL, Clock, Flow, _fields
from tests.conftest import example
from tests.signing.ltvhelpers import DevPkiFront, carrying

# every test here runs on an app with a LibreOffice worker (started per module)
pytestmark = pytest.mark.slow

CALLER = signflow.Caller("test", "test")


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    """The default revocation mode (``require``), QUJAT_VERIFY_ONLINE off, loopback allowed; the
    dev PKI made now, not served unless a test serves it."""
    data_dir = tmp_path_factory.mktemp("signrev") / "data"
    pki = init_dev_pki(data_dir / "pki")
    settings = Settings(signature_revocation="require", data_dir=data_dir, pool_size=1,
                        public_base_url=BASE_URL, fetch_allow_private=True)
    assert settings.verify_online is False
    app = create_app(settings)
    with TestClient(app) as client:
        _, key = app.state.runtime.store.create_api_key("upstream", ["documents:issue", "documents:read"],
                                                        actor="test")
        client.headers["Authorization"] = f"Bearer {key}"
        flow = Flow(client, app, Clock(), pki)
        flow.clock = app.state.runtime.clock
        yield flow


def _issue(flow: Flow, *signers) -> dict:
    raw = example("cadastral_value_act")
    raw["external_id"] = f"signrev-{uuid.uuid4().hex[:12]}"
    raw["signers"] = [{"role": f"Маман / Специалист {i + 1}", "iin": _fields(s).iin}
                      for i, s in enumerate(signers)]
    r = flow.client.post("/documents", json=raw)
    assert r.status_code == 201, r.text
    return r.json()


def _digest(flow: Flow, doc: dict) -> bytes:
    return base64.b64decode(flow.step(doc)["digest"])


def _with_mode(flow: Flow, mode: str):
    """The app's runtime (same store, clock, anchors) with another revocation mode."""
    rt = flow.runtime
    return dataclasses.replace(rt, settings=dataclasses.replace(rt.settings, signature_revocation=mode))


def _about(response: asn1_ocsp.OCSPResponse) -> list[tuple[int, str]]:
    tbs = response["response_bytes"]["response"].parsed["tbs_response_data"]
    return [(s["cert_id"]["serial_number"].native, s["cert_status"].name) for s in tbs["responses"]]


def test_a_revoked_certificate_is_refused_without_online_verification(flow):
    doc = _issue(flow, flow.employee)
    digest = _digest(flow, doc)
    before = flow.snapshot(doc)
    with PkiServer(flow.pki):
        r = flow.post(doc, flow.cms(flow.employee, digest))
    assert r.status_code == 422 and r.json()["code"] == "revoked", r.text
    message = r.json()["message"]
    assert "revoked" in message and "OCSP" in message and "ҰКО DEV" in message, message
    assert r.json()["problems"][0]["path"] == "cms"
    assert flow.snapshot(doc) == before


def test_good_certificates_are_accepted_and_their_ocsp_answers_kept_in_the_audit_trail(flow, tmp_path):
    doc = _issue(flow, flow.individual, flow.head)
    with PkiServer(flow.pki):
        first = flow.cms(flow.individual, _digest(flow, doc))
        r = flow.post(doc, first)
        assert r.status_code == 200 and r.json()["status"] == "awaiting_signature", r.text
        second = flow.cms(flow.head, _digest(flow, doc))
        r = flow.post(doc, second)
    assert r.status_code == 200 and r.json()["status"] == "valid", r.text
    pdf = flow.client.get(f"/documents/{doc['id']}/pdf").content
    assert hashlib.sha256(pdf).hexdigest() == r.json()["versions"][0]["pdf_sha256"]

    # each sign event keeps the OCSP answer that decided: whole, "good", about that official's
    # certificate, signed by the issuing CA's responder, with its hash and times
    audit = flow.client.get(f"/documents/{doc['id']}/audit").json()
    revocations = [e["details"]["revocation"] for e in audit if e["action"] == "sign"]
    assert [(x["status"], x["source"], len(x["ocsp"])) for x in revocations] == [("good", "ocsp", 1)] * 2
    for signer, kept in zip((flow.individual, flow.head), revocations):
        der = base64.b64decode(kept["ocsp"][0]["der"])
        assert hashlib.sha256(der).hexdigest() == kept["ocsp"][0]["sha256"]
        answer = asn1_ocsp.OCSPResponse.load(der)
        assert _about(answer) == [(signer.signing_cert.serial_number, "good")]
        assert kept["ocsp"][0]["this_update"] and kept["ocsp"][0]["produced_at"] and kept["ocsp"][0]["next_update"]

    # the document verifies offline now and long after the answers' nextUpdate: nothing stale
    # was written into it (no DSS)
    assert "/DSS" not in PdfFileReader(io.BytesIO(pdf)).root
    for later in (dt.timedelta(0), dt.timedelta(hours=2), dt.timedelta(days=30)):
        report = verify_pdf(pdf, trust=flow.runtime.trust_anchors, at=dt.datetime.now(dt.timezone.utc) + later)
        assert report.indication is Indication.TOTAL_PASSED, (later, report.to_json())
        assert all(s.trusted and not s.revoked for s in report.signatures)
    assert pdfsig_valid(pdf, tmp_path) == 2


def test_an_unknown_status_answers_503_and_changes_nothing_and_the_ticket_stays_good(flow):
    doc = _issue(flow, flow.individual)
    digest = _digest(flow, doc)
    der = flow.cms(flow.individual, digest)
    before = flow.snapshot(doc)
    # the API: the CA's responder and CRL are not served
    r = flow.post(doc, der)
    assert r.status_code == 503 and r.json()["code"] == "revocation_unavailable", r.text
    assert r.headers["Retry-After"] == str(signflow.RETRY_AFTER_REVOCATION)
    message = r.json()["message"]
    assert "ҰКО DEV" in message and "connection refused" in message and "again later" in message, message
    assert flow.snapshot(doc) == before
    # the signing page's path: refused the same way, with Retry-After; the ticket stays good
    ticket = signflow.issue_ticket(flow.runtime, doc["id"], caller=CALLER).ticket
    with pytest.raises(signflow.RevocationUnavailable) as refused:
        signflow.submit_with_ticket(flow.runtime, doc["id"], ticket, der)
    assert refused.value.status == 503
    assert refused.value.headers == {"Retry-After": str(signflow.RETRY_AFTER_REVOCATION)}
    signflow.check_ticket(flow.runtime, doc["id"], ticket)
    assert flow.snapshot(doc)[2] == before[2] and flow.snapshot(doc)[3] == before[3]
    # once the CA answers, the same CMS with the same ticket goes in
    with PkiServer(flow.pki):
        record = signflow.submit_with_ticket(flow.runtime, doc["id"], ticket, der)
    assert record.status.value == "valid"


def test_private_addresses_stay_refused_unless_allowed(flow):
    """The URLs come from the official's certificate: QUJAT_FETCH_ALLOW_PRIVATE still governs
    loopback, so a runtime without it cannot learn the dev PKI's answers (503, nothing sent)."""
    doc = _issue(flow, flow.employee)
    rt = flow.runtime
    closed = dataclasses.replace(rt, settings=dataclasses.replace(rt.settings, fetch_allow_private=False))
    assert closed.fetch_policy == dataclasses.replace(rt.fetch_policy, allow_private=False)
    with PkiServer(flow.pki):
        with pytest.raises(signflow.RevocationUnavailable) as refused:
            signflow.submit(closed, doc["id"], flow.cms(flow.employee, _digest(flow, doc)), caller=CALLER)
    assert "address not allowed" in refused.value.message
    assert signflow.signing_state(rt, doc["id"]).next_index == 0


def test_try_accepts_an_unknown_status_and_says_so_in_the_audit_trail(flow, caplog):
    doc = _issue(flow, flow.individual)
    rt = _with_mode(flow, "try")
    with caplog.at_level("WARNING", logger="qujat.signflow"):
        record = signflow.submit(rt, doc["id"], flow.cms(flow.individual, _digest(flow, doc)), caller=CALLER)
    assert record.status.value == "valid"
    event = [e for e in flow.client.get(f"/documents/{doc['id']}/audit").json() if e["action"] == "sign"][0]
    assert event["details"]["revocation"]["status"] == "unknown"
    assert "connection refused" in event["details"]["revocation"]["reason"]
    assert any("revocation status unknown" in m for m in caplog.messages), caplog.messages
    assert _fields(flow.individual).iin not in " ".join(caplog.messages)
    # a revoked certificate is refused under "try" as well (the CA answers)
    doc = _issue(flow, flow.employee)
    with PkiServer(flow.pki), pytest.raises(signflow.SignatureRefused) as refused:
        signflow.submit(rt, doc["id"], flow.cms(flow.employee, _digest(flow, doc)), caller=CALLER)
    assert (refused.value.status, refused.value.code) == (422, "revoked")


def test_off_accepts_as_before(flow):
    doc = _issue(flow, flow.individual)
    record = signflow.submit(_with_mode(flow, "off"), doc["id"], flow.cms(flow.individual, _digest(flow, doc)),
                             caller=CALLER)
    assert record.status.value == "valid"
    event = [e for e in flow.client.get(f"/documents/{doc['id']}/audit").json() if e["action"] == "sign"][0]
    assert "revocation" not in event["details"]
    pdf = flow.client.get(f"/documents/{doc['id']}/pdf").content
    assert "/DSS" not in PdfFileReader(io.BytesIO(pdf)).root


def test_fresh_revocation_data_in_the_cms_decides_without_fetching(flow):
    from signing.certload import load_certs
    from signing.netfetch import Fetcher

    cert, issuer = flow.individual.signing_cert, load_certs([flow.pki.issuing_ca_cert])[0]
    with PkiServer(flow.pki):
        answer = Fetcher(FetchPolicy(enabled=True, allow_private=True)).ocsp(cert, issuer)
    assert answer is not None
    doc = _issue(flow, flow.individual)
    der = carrying(flow.cms(flow.individual, _digest(flow, doc)), answer)
    r = flow.post(doc, der)                                  # the CA is down: the CMS's answer decides
    assert r.status_code == 200 and r.json()["status"] == "valid", r.text
    event = [e for e in flow.client.get(f"/documents/{doc['id']}/audit").json() if e["action"] == "sign"][0]
    assert event["details"]["revocation"]["source"] == "cms"
    assert event["details"]["revocation"]["ocsp"][0]["der"] == base64.b64encode(answer.dump()).decode()
    # a stale answer does not: at a moment after its nextUpdate the CA is asked, and it is down
    later = _issue(flow, flow.individual)
    rt = dataclasses.replace(flow.runtime, clock=lambda: dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2))
    der = carrying(flow.cms(flow.individual, _digest(flow, later)), answer)
    with pytest.raises(signflow.RevocationUnavailable):
        signflow.submit(rt, later["id"], der, caller=CALLER)


def test_the_second_official_may_sign_hours_after_the_first(flow):
    """The second official signs two hours after the first (the runtime's clock moved; the CA
    down, so under ``try``): the first signature, taken with an OCSP answer valid for 10 minutes,
    still passes our verifier then, as nothing stale went into the document."""
    doc = _issue(flow, flow.individual, flow.head)
    with PkiServer(flow.pki):
        r = flow.post(doc, flow.cms(flow.individual, _digest(flow, doc)))
    assert r.status_code == 200, r.text
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    rt = dataclasses.replace(_with_mode(flow, "try"), clock=lambda: later)
    record = signflow.submit(rt, doc["id"], flow.cms(flow.head, _digest(flow, doc)), caller=CALLER)
    assert record.status.value == "valid"


def test_online_verification_asks_for_the_signers_status_once(flow):
    """With QUJAT_VERIFY_ONLINE on, the OCSP answer that step 4 fetched about the signer is given
    to the verifier of step 5: one OCSP request about the signer's certificate per accepted
    signature, not two. A revoked certificate is still refused, also with the revocation check
    off (the verifier then asks the responder itself), and the refusal changes nothing."""
    rt = flow.runtime
    rt = dataclasses.replace(rt, settings=dataclasses.replace(rt.settings, verify_online=True))
    assert rt.fetch_policy.enabled
    front = DevPkiFront(flow.pki)
    try:
        doc = _issue(flow, flow.individual, flow.head)
        for signer in (flow.individual, flow.head):
            der = flow.cms(signer, _digest(flow, doc))
            serials = Counter(front.ocsp_serials)
            signflow.submit(rt, doc["id"], der, caller=CALLER)
            asked = front.ocsp_serials - serials
            assert asked[signer.signing_cert.serial_number] == 1, asked
        for mode in ("require", "off"):
            revoked = _issue(flow, flow.employee)
            der = flow.cms(flow.employee, _digest(flow, revoked))
            before = flow.snapshot(revoked)
            with pytest.raises(signflow.CertificateRefused) as refused:
                signflow.submit(dataclasses.replace(rt, settings=dataclasses.replace(
                    rt.settings, signature_revocation=mode)), revoked["id"], der, caller=CALLER)
            assert refused.value.code == "revoked", (mode, str(refused.value))
            assert flow.snapshot(revoked) == before
    finally:
        front.stop()
