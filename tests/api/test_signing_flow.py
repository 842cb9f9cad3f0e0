"""Officials sign with their own EDS (issue 11, item 2), through the HTTP API: a cadastral value
act with two required signers — the NCA test key's person (IIN 123456789011), then the dev PKI's
authority head (IIN and BIN, NCA roles ORGANIZATION + CEO + CAN_SIGN). Every CMS is made like
NCALayer's basics module makes it (`signing.deferred.make_detached_cms` over the served digest).

The NCA test certificate expired in 2022: the app runs with an injected clock at 2021-06-01, the
dev PKI is made "as of" that day, and both CAs are the runtime's trust anchors. A refused CMS is
checked to change nothing: the record's JSON, the signing state, the audit trail and the stored
in-progress PDF (its SHA-256)."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import logging
import re
import threading
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm

from qujat import signflow
from qujat.api import create_app
from qujat.settings import Settings
from signing.deferred import make_detached_cms
from signing.keys import load_pkcs12, read_secret
from signing.model import Indication
from signing.pki import init_dev_pki
from signing.verify import verify_pdf
from tests.api.helpers import pdfsig_valid, qr_texts
from tests.conftest import ROOT, example

# every test here runs on an app with a LibreOffice worker (started per module)
pytestmark = pytest.mark.slow

NCA = ROOT / "tests" / "data" / "nca"
NCA_IIN = "123456789011"                              # ТЕСТОВ ТЕСТ, the NCA's dummy person
NOW = dt.datetime(2021, 6, 1, 6, 0, tzinfo=dt.timezone.utc)   # inside every test key's validity
BASE_URL = "https://qujat.test"


class Clock:
    """The app's clock: 2021-06-01 unless a test moves it."""

    def __init__(self) -> None:
        self.now, self._lock = NOW, threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self.now

    def set(self, value: dt.datetime) -> None:
        with self._lock:
            self.now = value


class Flow:
    def __init__(self, client: TestClient, app, clock: Clock, pki):
        self.client, self.app, self.clock, self.pki = client, app, clock, pki
        password = read_secret(file=pki.password_file)
        self.nca = load_pkcs12(NCA / "individual_rsa_sign_valid_2021.p12", b"Qwerty12")
        self.head = load_pkcs12(pki.p12("authority-head"), password)
        self.individual = load_pkcs12(pki.p12("individual"), password)
        self.employee = load_pkcs12(pki.p12("revoked-employee"), password)

    @property
    def runtime(self):
        return self.app.state.runtime

    def cms(self, signer, digest: bytes) -> bytes:
        return make_detached_cms(digest, signer, signing_time=self.clock())

    def issue(self, signers: list[dict]) -> dict:
        raw = example("cadastral_value_act")
        raw["external_id"] = f"signflow-{uuid.uuid4().hex[:12]}"
        raw["data"]["issued_on"] = "2021-05-28"
        raw["signers"] = signers
        r = self.client.post("/documents", json=raw)
        assert r.status_code == 201, r.text
        return r.json()

    def step(self, doc: dict) -> dict:
        r = self.client.get(f"/documents/{doc['id']}/signing")
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, doc: dict, der: bytes | str):
        text = der if isinstance(der, str) else base64.b64encode(der).decode()
        return self.client.post(f"/documents/{doc['id']}/signatures", json={"cms": text})

    def snapshot(self, doc: dict) -> tuple:
        """Everything a refused CMS must leave as it was."""
        record = self.client.get(f"/documents/{doc['id']}").json()
        audit = self.client.get(f"/documents/{doc['id']}/audit").json()
        state = signflow.signing_state(self.runtime, doc["id"])
        prepared = self.runtime.store.blobs.get(state.pdf_sha256)
        return record, audit, state, hashlib.sha256(prepared).hexdigest()


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("signflow") / "data"
    pki = init_dev_pki(data_dir / "pki", now=NOW - dt.timedelta(days=1))   # the runtime's dev PKI
    # the NCA test key signs first; its OCSP/CRL (test.pki.gov.kz) are out of reach: revocation
    # is not checked when a CMS is taken (tests/api/test_signing_revocation.py checks it)
    settings = Settings(signature_revocation="off", data_dir=data_dir, pool_size=1,
                        public_base_url=BASE_URL,
                        trust_anchors=(NCA / "nca_rsa_test_ca.pem", Path(pki.root_cert)),
                        allow_nca_test_identities=True)
    clock = Clock()
    app = create_app(settings, clock=clock)
    with TestClient(app) as client:
        _, key = app.state.runtime.store.create_api_key("upstream", ["documents:issue", "documents:read"],
                                                        actor="test")
        client.headers["Authorization"] = f"Bearer {key}"
        yield Flow(client, app, clock, pki)


def _two_signers(flow: Flow) -> list[dict]:
    head = _fields(flow.head)
    return [{"role": "Кәсіпорын басшысы / Руководитель предприятия", "iin": NCA_IIN},
            {"role": "Уәкілетті органның басшысы / Руководитель уполномоченного органа",
             "iin": head.iin, "bin": head.bin}]


def _fields(signer):
    from signing.ncacert import signer_fields

    return signer_fields(signer.signing_cert)


def _no_signing_usage_cms(digest: bytes, at: dt.datetime) -> bytes:
    """A CMS by a certificate that carries the expected IIN but whose key usage is key
    encipherment only (no digitalSignature, no nonRepudiation): built here with cryptography."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ТЕСТОВ ТЕСТ"),
                      x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{NCA_IIN}"),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(at - dt.timedelta(days=1)).not_valid_after(at + dt.timedelta(days=30))
            .add_extension(x509.KeyUsage(False, False, True, False, False, False, False, False, False),
                           critical=True)
            .sign(key, hashes.SHA256()))
    return make_detached_cms(digest, (key, cert), signing_time=at)


def _xmp(pdf: bytes) -> bytes:
    return PdfFileReader(io.BytesIO(pdf)).root["/Metadata"].data


def test_two_officials_sign_a_cadastral_value_act_and_refusals_change_nothing(flow, tmp_path, caplog):
    doc = flow.issue(_two_signers(flow))
    assert doc["status"] == "awaiting_signature" and doc["versions"] == []
    assert doc["links"]["signing"] == f"/documents/{doc['id']}/signing" and "pdf" not in doc["links"]
    r = flow.client.get(f"/documents/{doc['id']}/pdf")
    assert r.status_code == 409 and r.json()["code"] == "awaiting_signature", r.text

    step = flow.step(doc)
    assert (step["signer_index"], step["total"], step["digest_algorithm"]) == (0, 2, "sha256")
    assert step["expected"] == {"role": "Кәсіпорын басшысы / Руководитель предприятия",
                                "iin": NCA_IIN, "bin": None}
    digest = base64.b64decode(step["digest"])
    before = flow.snapshot(doc)
    right = flow.cms(flow.nca, digest)

    # another person's key over the right digest: 422, who is expected named, masked; the
    # refusal logged with its reason and without anyone's IIN
    with caplog.at_level(logging.INFO, logger="qujat.signflow"):
        r = flow.post(doc, flow.cms(flow.individual, digest))
    assert r.status_code == 422 and r.json()["code"] == "wrong_signer", r.text
    assert "123456******" in r.json()["message"] and NCA_IIN not in r.text
    assert r.json()["problems"][0]["path"] == "cms"
    logged = [rec.getMessage() for rec in caplog.records if rec.name == "qujat.signflow"]
    assert any("refused" in m and "wrong_signer" in m and doc["id"] in m for m in logged), logged
    assert not any(NCA_IIN in m or _fields(flow.individual).iin in m for m in logged)
    # the right key over another digest; the right CMS truncated; not base64; no signing key usage;
    # the second signer before the first
    refusals = [
        (flow.cms(flow.nca, hashlib.sha256(b"another document").digest()), 422, "digest_mismatch"),
        (right[: len(right) // 2], 400, "bad_cms"),
        ("not base64 at all!", 400, "bad_cms"),
        (_no_signing_usage_cms(digest, flow.clock()), 422, "key_usage"),
        (flow.cms(flow.head, digest), 409, "out_of_order"),
    ]
    for der, status, code in refusals:
        r = flow.post(doc, der)
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
        assert flow.snapshot(doc) == before, code

    # the right person: accepted, the next step prepared
    r = flow.post(doc, right)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "awaiting_signature" and r.json()["versions"] == []
    second = flow.step(doc)
    assert second["signer_index"] == 1 and second["digest"] != step["digest"]
    after_first = flow.snapshot(doc)
    assert after_first[3] != before[3]
    # the same CMS again: 409, signed already; nothing changes
    r = flow.post(doc, right)
    assert r.status_code == 409 and r.json()["code"] == "already_signed", r.text
    assert "signed already" in r.json()["message"]
    # the first signer again, over the new digest, or another CMS over the signed step's digest:
    # 409 as well
    r = flow.post(doc, flow.cms(flow.nca, base64.b64decode(second["digest"])))
    assert r.status_code == 409 and r.json()["code"] == "already_signed", r.text
    r = flow.post(doc, flow.cms(flow.individual, digest))
    assert r.status_code == 409 and r.json()["code"] == "already_signed", r.text
    # the signing page's preview is the PDF whose byte ranges the served digest covers
    pending = signflow.pending_pdf(flow.runtime, doc["id"])
    state = signflow.signing_state(flow.runtime, doc["id"])
    assert hashlib.sha256(pending).hexdigest() == after_first[3]
    assert hashlib.sha256(pending[:state.contents_start] + pending[state.contents_end:]).digest() == \
        base64.b64decode(second["digest"])
    assert flow.snapshot(doc) == after_first

    # the authority head: accepted, the record valid with version 1
    r = flow.post(doc, flow.cms(flow.head, base64.b64decode(second["digest"])))
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "valid" and [v["number"] for v in done["versions"]] == [1]
    assert [s["signer"] for s in done["versions"][0]["signatures"]] == ["ТЕСТОВ ТЕСТ", "ОМАРОВА ДИНАРА"]
    assert flow.client.get(f"/documents/{doc['id']}/signing").status_code == 409
    r = flow.post(doc, right)
    assert r.status_code == 409 and r.json()["code"] == "already_signed"
    audit = flow.client.get(f"/documents/{doc['id']}/audit").json()
    assert [e["action"] for e in audit] == ["issue", "sign", "sign"]
    assert [e["details"]["signer"]["iin"] for e in audit[1:]] == [NCA_IIN, _fields(flow.head).iin]
    assert audit[-1]["details"]["status"] == "valid"
    assert audit[-1]["details"]["pdf_sha256"] == done["versions"][0]["pdf_sha256"]

    pdf = flow.client.get(f"/documents/{doc['id']}/pdf")
    assert pdf.status_code == 200
    pdf = pdf.content
    assert hashlib.sha256(pdf).hexdigest() == done["versions"][0]["pdf_sha256"]
    report = verify_pdf(pdf, trust=flow.runtime.trust_anchors, at=NOW + dt.timedelta(hours=1))
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    assert [(s.signer.common_name, s.signer.iin) for s in report.signatures] == [
        ("ТЕСТОВ ТЕСТ", NCA_IIN), ("ОМАРОВА ДИНАРА", _fields(flow.head).iin)]
    assert report.signatures[-1].covers_whole_document
    # poppler checks the certificates at today's date (the NCA one expired in 2022): what it must
    # say is that both signatures are intact
    assert pdfsig_valid(pdf, tmp_path) == 2
    # the first official's signature certifies the document (DocMDP: signatures still allowed)
    signatures = PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures
    assert [s.docmdp_level for s in signatures] == [MDPPerm.FILL_FORMS, None]
    xmp = _xmp(pdf)
    assert re.search(rb"pdfaid:part(>|=\")2", xmp) and re.search(rb"pdfaid:conformance(>|=\")B", xmp), xmp[:400]
    codes = qr_texts(pdf, tmp_path)
    assert codes and set(codes) == {done["verification_url"]}


def test_signing_page_tickets_single_use_for_one_record_and_step(flow):
    doc = flow.issue([{"role": "Кәсіпорын басшысы / Руководитель предприятия", "iin": NCA_IIN}])
    other = flow.issue([{"role": "Басшы / Руководитель", "iin": NCA_IIN}])
    r = flow.client.post(f"/documents/{doc['id']}/signing/tickets")
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert ticket["url"] == f"{BASE_URL}/sign/{doc['id']}?ticket={ticket['ticket']}"
    assert dt.datetime.fromisoformat(ticket["expires_at"]) == NOW + dt.timedelta(minutes=15)
    audit = flow.client.get(f"/documents/{doc['id']}/audit").text
    assert ticket["ticket"] not in audit and hashlib.sha256(ticket["ticket"].encode()).hexdigest() not in audit
    rt = flow.runtime
    signflow.check_ticket(rt, doc["id"], ticket["ticket"])
    for record_id, text in ((other["id"], ticket["ticket"]),             # another record's ticket
                            (doc["id"], ticket["ticket"][:-2] + "xx")):  # no such ticket
        with pytest.raises(signflow.TicketInvalid) as refused:
            signflow.check_ticket(rt, record_id, text)
        assert refused.value.gone is False
    expiring = signflow.issue_ticket(rt, other["id"], caller=signflow.Caller("t", "test"),
                                     ttl=dt.timedelta(minutes=1))
    digest = base64.b64decode(flow.step(doc)["digest"])
    try:
        flow.clock.set(NOW + dt.timedelta(minutes=2))
        with pytest.raises(signflow.TicketInvalid, match="expired"):
            signflow.submit_with_ticket(rt, other["id"], expiring.ticket,
                                        flow.cms(flow.nca, base64.b64decode(flow.step(other)["digest"])))
    finally:
        flow.clock.set(NOW)
    assert signflow.signing_state(rt, other["id"]).next_index == 0
    # a refused CMS leaves the ticket good; the right one uses it
    with pytest.raises(signflow.SignatureRefused):
        signflow.submit_with_ticket(rt, doc["id"], ticket["ticket"], flow.cms(flow.individual, digest))
    record = signflow.submit_with_ticket(rt, doc["id"], ticket["ticket"], flow.cms(flow.nca, digest))
    assert record.status.value == "valid"
    with pytest.raises(signflow.TicketInvalid, match="used") as refused:
        signflow.check_ticket(rt, doc["id"], ticket["ticket"])
    assert refused.value.gone is True
    r = flow.client.post(f"/documents/{doc['id']}/signing/tickets")
    assert r.status_code == 409, r.text


def test_a_bin_needs_an_organisation_head_or_signing_right(flow):
    employee = _fields(flow.employee)             # ORGANIZATION + EMPLOYEE
    doc = flow.issue([{"role": "Қызметкер / Сотрудник", "bin": employee.bin}])
    digest = base64.b64decode(flow.step(doc)["digest"])
    before = flow.snapshot(doc)
    r = flow.post(doc, flow.cms(flow.employee, digest))
    assert r.status_code == 422 and r.json()["code"] == "role_refused", r.text
    assert flow.snapshot(doc) == before


def test_bad_signers_are_refused_with_field_paths_and_nothing_stored(flow):
    raw = example("cadastral_value_act")
    raw["data"]["issued_on"] = "2021-05-28"
    cases = [
        ([{"role": "Басшы", "iin": NCA_IIN}, {"role": "Маман", "iin": "800102300121"}],
         "signers.1.iin", "control digit"),
        ([{"role": "Басшы"}], "signers.0.iin", "IIN and/or the BIN"),
        ([{"role": "Басшы", "bin": "990340001231"}], "signers.0.bin", "control digit"),
        ([{"role": "Басшы", "iin": NCA_IIN}, {"role": "Басшы", "iin": NCA_IIN}], "signers.1",
         "listed twice"),
        ([{"role": "Басшы", "iin": NCA_IIN}] * 6, "signers", "at most 5"),
        ([], "signers", "at least 1"),
        ([{"role": "Бacшы", "iin": NCA_IIN}], "signers.0.role", ""),      # a Latin 'a' in a Kazakh word
    ]
    before = flow.runtime.store.count("records")
    for signers, path, words in cases:
        r = flow.client.post("/documents", json={**raw, "signers": signers})
        assert r.status_code == 422, r.text
        problems = {p["path"]: p["message"] for p in r.json()["problems"]}
        assert path in problems and words in problems[path], (path, problems)
    assert flow.runtime.store.count("records") == before


def test_openapi_documents_the_signing_endpoints(flow):
    spec = flow.client.get("/openapi.json").json()
    paths = spec["paths"]
    assert set(paths["/documents/{document_id}/signing"]) == {"get"}
    signatures = paths["/documents/{document_id}/signatures"]["post"]
    assert {"200", "400", "409", "422"} <= set(signatures["responses"])
    assert "201" in paths["/documents/{document_id}/signing/tickets"]["post"]["responses"]
    schemas = spec["components"]["schemas"]
    assert "signers" in schemas["CadastralValueActRequest"]["properties"]
    assert set(schemas["SigningStepOut"]["properties"]) >= {"signer_index", "expected", "digest_algorithm",
                                                           "digest"}


def test_external_id_replay_must_name_the_same_signers(flow):
    signers = [{"role": "Басшы / Руководитель", "iin": NCA_IIN}]
    doc = flow.issue(signers)
    raw = example("cadastral_value_act")
    raw["data"]["issued_on"] = "2021-05-28"
    raw.update(external_id=doc["external_id"], signers=signers)
    again = flow.client.post("/documents", json=raw)
    assert again.status_code == 200 and again.json()["id"] == doc["id"], again.text
    other = flow.client.post("/documents", json={**raw, "signers": [{**signers[0], "role": "Басқа / Другой"}]})
    assert other.status_code == 409 and other.json()["code"] == "external_id_taken", other.text
    server_signed = {k: v for k, v in raw.items() if k != "signers"}
    r = flow.client.post("/documents", json=server_signed)
    assert r.status_code == 409 and r.json()["code"] == "external_id_taken", r.text


@pytest.fixture(scope="module")
def online(tmp_path_factory):
    """An app that may fetch revocation data (QUJAT_VERIFY_ONLINE, loopback allowed), on a dev PKI
    made now whose CRL and OCSP are served on loopback; the real clock."""
    from signing.pki import PkiServer

    data_dir = tmp_path_factory.mktemp("signflow-online") / "data"
    pki = init_dev_pki(data_dir / "pki")
    settings = Settings(signature_revocation="require", data_dir=data_dir, pool_size=1,
                        public_base_url=BASE_URL, verify_online=True, fetch_allow_private=True)
    app = create_app(settings)
    with PkiServer(pki), TestClient(app) as client:
        _, key = app.state.runtime.store.create_api_key("upstream", ["documents:issue"], actor="test")
        client.headers["Authorization"] = f"Bearer {key}"
        flow = Flow(client, app, Clock(), pki)
        flow.clock = app.state.runtime.clock
        yield flow


def test_a_revoked_certificate_is_refused_when_revocation_can_be_fetched(online):
    revoked, good = _fields(online.employee), _fields(online.individual)
    raw = example("cadastral_value_act")
    raw["external_id"] = f"signflow-{uuid.uuid4().hex[:12]}"
    raw["signers"] = [{"role": "Маман / Специалист", "iin": revoked.iin},
                      {"role": "Азамат / Гражданин", "iin": good.iin}]
    r = online.client.post("/documents", json=raw)
    assert r.status_code == 201, r.text
    doc = r.json()
    digest = base64.b64decode(online.step(doc)["digest"])
    before = online.snapshot(doc)
    r = online.post(doc, online.cms(online.employee, digest))
    assert r.status_code == 422 and r.json()["code"] == "revoked", r.text
    assert "REVOKED" in r.json()["message"]
    assert online.snapshot(doc) == before
    # the good certificate, checked online too, is accepted
    raw.update(external_id=f"signflow-{uuid.uuid4().hex[:12]}", signers=raw["signers"][1:])
    doc = online.client.post("/documents", json=raw).json()
    r = online.post(doc, online.cms(online.individual, base64.b64decode(online.step(doc)["digest"])))
    assert r.status_code == 200 and r.json()["status"] == "valid", r.text


def test_the_same_signature_submitted_twice_at_once_is_accepted_once(flow):
    doc = flow.issue(_two_signers(flow))
    der = flow.cms(flow.nca, base64.b64decode(flow.step(doc)["digest"]))
    outcomes, start = [], threading.Barrier(2)

    def submit() -> None:
        start.wait()
        try:
            outcomes.append(signflow.submit(flow.runtime, doc["id"], der, caller=signflow.Caller("t", "t")))
        except signflow.SignatureRefused as e:
            outcomes.append(e)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    refused = [o for o in outcomes if isinstance(o, signflow.SignatureRefused)]
    assert len(outcomes) == 2 and len(refused) == 1, outcomes
    assert refused[0].status == 409 and refused[0].code in ("already_signed", "out_of_order")
    audit = flow.client.get(f"/documents/{doc['id']}/audit").json()
    assert [e["action"] for e in audit] == ["issue", "sign"]
    assert signflow.signing_state(flow.runtime, doc["id"]).next_index == 1
