"""Attacks on the officials' two-step signing (issue 11), each with a real request or file:
CMSes whose certificates, signer identifier or signed attributes try to make another person
the signer, a timestamp from a TSA nobody trusts, a CMS of one record posted on another with
the same content, two different valid signatures for one step at once, tickets of another
record or of a signed step, what the server logs (no ticket, no full IIN), and the signing
page's own endpoint with bodies that are not what it expects (never a 500).

Same setting as tests/api/test_signing_flow.py (its `Flow`): the app at 2021-06-01 with the
NCA test CA and a dev PKI as trust anchors; the expected first official is the NCA test
person (IIN 123456789011) and the attacker holds the dev PKI's private person's key, whose
certificate is trusted too. Every refusal is checked to change nothing (`Flow.snapshot`)."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path

import httpx2
import pytest
from asn1crypto import algos, cms, core, keys, x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi.testclient import TestClient

from qujat import signflow
from qujat.api import create_app
from qujat.settings import Settings
from signing.deferred import make_detached_cms
from signing.keys import KeptKeySigner
from signing.pki import init_dev_pki
from tests.api.test_signing_flow import BASE_URL, NCA, NCA_IIN, NOW, Clock, Flow, _two_signers
from tests.conftest import example
from tests.store.test_store_signing import at_once
from tests.web.test_signing_page import uvicorn_thread

# every test here runs on an app with a LibreOffice worker (started per module)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("signing-attacks") / "data"
    pki = init_dev_pki(data_dir / "pki", now=NOW - dt.timedelta(days=1))
    # the NCA test key's OCSP/CRL (test.pki.gov.kz) are out of reach, the dev PKI is not served:
    # revocation not checked when a CMS is taken (tests/api/test_signing_revocation.py checks it)
    settings = Settings(signature_revocation="off", data_dir=data_dir, pool_size=1,
                        public_base_url=BASE_URL,
                        trust_anchors=(NCA / "nca_rsa_test_ca.pem", Path(pki.root_cert)),
                        allow_nca_test_identities=True)
    clock = Clock()
    app = create_app(settings, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        _, key = app.state.runtime.store.create_api_key("upstream", ["documents:issue", "documents:read"],
                                                        actor="test")
        client.headers["Authorization"] = f"Bearer {key}"
        yield Flow(client, app, clock, pki)


def _one_signer() -> list[dict]:
    return [{"role": "Кәсіпорын басшысы / Руководитель предприятия", "iin": NCA_IIN}]


def _digest(flow: Flow, doc: dict) -> bytes:
    return base64.b64decode(flow.step(doc)["digest"])


# -- CMS made by hand: every field chosen by the attacker --------------------------------------

def _key_of(signer):
    return signer._private_key                     # the test's own keys (never a real one)


def _cert_of(signer) -> asn1_x509.Certificate:
    return signer.signing_cert


def _attr(kind: str, value) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": kind, "values": [value]})


def _ess_v2(cert: asn1_x509.Certificate) -> cms.CMSAttribute:
    from asn1crypto import tsp

    cert_id = tsp.ESSCertIDv2({
        "hash_algorithm": {"algorithm": "sha256"},
        "cert_hash": hashlib.sha256(cert.dump()).digest(),
        "issuer_serial": {"issuer": [asn1_x509.GeneralName({"directory_name": cert.issuer})],
                          "serial_number": cert.serial_number},
    })
    return cms.CMSAttribute({"type": "signing_certificate_v2",
                             "values": [tsp.SigningCertificateV2({"certs": [cert_id]})]})


def _raw_cms(key, sid_cert: asn1_x509.Certificate, certs: list[asn1_x509.Certificate],
             attrs: list[cms.CMSAttribute], *, hash_name: str = "sha256") -> bytes:
    """A detached SignedData whose signed attributes are exactly ``attrs`` (in this order),
    signed with ``key`` (RSA PKCS#1 v1.5 / ECDSA, over ``hash_name``: SHA-256 unless a test
    says otherwise), naming ``sid_cert`` as the signer and carrying ``certs``."""
    signed_attrs = cms.CMSAttributes(attrs)
    to_sign = signed_attrs.dump(force=True)
    algorithm = {"sha256": hashes.SHA256(), "sha1": hashes.SHA1()}[hash_name]
    if isinstance(key, rsa.RSAPrivateKey):
        value, sig_alg = key.sign(to_sign, padding.PKCS1v15(), algorithm), f"{hash_name}_rsa"
    else:
        value, sig_alg = key.sign(to_sign, ec.ECDSA(algorithm)), f"{hash_name}_ecdsa"
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber({
            "issuer": sid_cert.issuer, "serial_number": sid_cert.serial_number})}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "signed_attrs": signed_attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": sig_alg}),
        "signature": value,
    })
    signed_data = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {"content_type": "data"},
        "certificates": [cms.CertificateChoices({"certificate": c}) for c in certs],
        "signer_infos": [signer_info],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def _attrs(digest: bytes, cert: asn1_x509.Certificate, *, content_type: str = "data",
           extra: tuple = (), when: dt.datetime = NOW) -> list[cms.CMSAttribute]:
    return [_attr("content_type", cms.ContentType(content_type)),
            _attr("signing_time", cms.Time({"utc_time": core.UTCTime(when)})),
            _attr("message_digest", core.OctetString(digest)), _ess_v2(cert), *extra]


def _forged_twin(signer, iin: str) -> tuple[asn1_x509.Certificate, object]:
    """A certificate with ``signer``'s public key and issuer name but the subject of the person
    with ``iin``, signed by a key of the attacker's (the CA never made it)."""
    real = x509.load_der_x509_certificate(_cert_of(signer).dump())
    rogue_ca = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ТЕСТОВ ТЕСТ"),
                         x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{iin}"),
                         x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(real.issuer)
               .public_key(real.public_key()).serial_number(real.serial_number)
               .not_valid_before(NOW - dt.timedelta(days=30)).not_valid_after(NOW + dt.timedelta(days=300)))
    for ext in real.extensions:
        if ext.oid != x509.oid.ExtensionOID.AUTHORITY_KEY_IDENTIFIER:
            builder = builder.add_extension(ext.value, ext.critical)
    forged = builder.sign(rogue_ca, hashes.SHA256())
    return asn1_x509.Certificate.load(forged.public_bytes(serialization.Encoding.DER)), rogue_ca


def test_another_certificate_in_the_cms_never_makes_the_signer(flow):
    """The attacker (a trusted certificate of someone else) tries to sign as the expected
    official: by carrying the official's certificate too, by naming it as the signer, by a
    forged twin of their own certificate with the official's IIN, by a signing-certificate-v2
    that names the official's certificate. All refused; nothing changes."""
    doc = flow.issue(_one_signer())
    digest = _digest(flow, doc)
    before = flow.snapshot(doc)
    me, official = flow.individual, flow.nca
    key, mine, theirs = _key_of(me), _cert_of(me), _cert_of(official)
    twin, _ = _forged_twin(me, NCA_IIN)
    attempts = {
        # the official's certificate first in the set, the attacker's the signer: who signed is
        # the certificate the signer identifier names and the signature verifies with
        "official's certificate carried along": (
            make_detached_cms(digest, KeptKeySigner(mine, key, [theirs, *me.cert_registry]), signing_time=NOW),
            422, "wrong_signer"),
        "official's certificate named as the signer": (
            _raw_cms(key, theirs, [theirs, mine], _attrs(digest, theirs)), 422, "signature_invalid"),
        "forged twin with the official's IIN": (
            _raw_cms(key, twin, [twin], _attrs(digest, twin)), 422, "untrusted_signer"),
        # both match the signer identifier (same issuer and serial): whichever pyHanko selects,
        # the signing-certificate-v2 or the chain refuses it
        "forged twin next to the real certificate": (
            _raw_cms(key, twin, [twin, mine], _attrs(digest, twin)), None, {"bad_cms", "untrusted_signer"}),
        "signing-certificate-v2 naming the official's certificate": (
            _raw_cms(key, mine, [mine, theirs], _attrs(digest, theirs)), 400, "bad_cms"),
    }
    for what, (der, status, code) in attempts.items():
        r = flow.post(doc, der)
        if status is None:
            assert r.status_code in (400, 422) and r.json()["code"] in code, (what, r.text)
        else:
            assert (r.status_code, r.json()["code"]) == (status, code), (what, r.text)
        assert NCA_IIN not in r.text, what
        assert flow.snapshot(doc) == before, what
    # the same hand-made shape by the right key passes: the refusals above are about who signed
    r = flow.post(doc, _raw_cms(_key_of(official), theirs, [theirs], _attrs(digest, theirs)))
    assert r.status_code == 200 and r.json()["status"] == "valid", r.text


def test_signed_attributes_must_be_exactly_one_id_data_and_one_digest(flow):
    doc = flow.issue(_one_signer())
    digest = _digest(flow, doc)
    before = flow.snapshot(doc)
    key, cert = _key_of(flow.nca), _cert_of(flow.nca)
    other = hashlib.sha256(b"another document").digest()
    attempts = {
        "a second message-digest": _attrs(digest, cert, extra=(_attr("message_digest", core.OctetString(other)),)),
        "the second message-digest first": [_attr("message_digest", core.OctetString(other)),
                                             *_attrs(digest, cert)],
        "content-type signed-data": _attrs(digest, cert, content_type="signed_data"),
        "no content-type": [a for a in _attrs(digest, cert) if a["type"].native != "content_type"],
    }
    for what, attrs in attempts.items():
        r = flow.post(doc, _raw_cms(key, cert, [cert], attrs))
        assert r.status_code == 400 and r.json()["code"] == "bad_cms", (what, r.text)
        assert flow.snapshot(doc) == before, what
    # the signed attributes signed over SHA-1 (collisions are practical): `embed` takes it, our
    # verifier on the result refuses it
    r = flow.post(doc, _raw_cms(key, cert, [cert], _attrs(digest, cert), hash_name="sha1"))
    assert r.status_code == 422 and r.json()["code"] == "verification_failed", r.text
    assert "CRYPTO_CONSTRAINTS_FAILURE" in r.json()["message"]
    assert flow.snapshot(doc) == before


def _loop_of_cas(n: int) -> tuple[object, asn1_x509.Certificate, list[asn1_x509.Certificate]]:
    """A signing key, its certificate (nonRepudiation, not a CA) issued by "Loop CA", and ``n``
    CA certificates all named "Loop CA", each issued by the next one's key: every ordering of
    them is a candidate chain, so a path builder that tries them all needs n! steps."""
    now = NOW
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Loop CA")])
    ca_keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(n)]

    def make(subject, public_key, issuer_key, *, ca: bool):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(name).public_key(public_key)
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30)))
        if ca:
            builder = builder.add_extension(x509.BasicConstraints(True, None), critical=True)
        else:
            builder = builder.add_extension(
                x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        cert = builder.sign(issuer_key, hashes.SHA256())
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    cas = [make(name, ca_keys[i].public_key(), ca_keys[(i + 1) % n], ca=True) for i in range(n)]
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ТЕСТОВ ТЕСТ"),
                         x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{NCA_IIN}")])
    return key, make(subject, key.public_key(), ca_keys[0], ca=False), cas


def test_a_cms_whose_certificates_make_a_maze_is_refused_at_once(flow):
    """Certificates that all claim one CA's name (12 of them fit in 4 KiB) made the chain
    builder try every ordering: 8 took 7.6 s, 10 more than two minutes of a core, all of it
    before the answer "untrusted". A CMS may carry at most 2 certificates with one subject and
    10 in all; this one is refused as malformed at once."""
    doc = flow.issue(_one_signer())
    digest = _digest(flow, doc)
    before = flow.snapshot(doc)
    key, leaf, cas = _loop_of_cas(12)
    der = _raw_cms(key, leaf, [leaf, *cas], _attrs(digest, leaf))
    assert len(der) < 8192
    outcome: list = []
    worker = threading.Thread(target=lambda: outcome.append(flow.post(doc, der)), daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(timeout=20)
    assert outcome, "the CMS was still being checked after 20 s"
    r = outcome[0]
    assert r.status_code == 400 and r.json()["code"] == "bad_cms", r.text
    assert "certificates" in r.json()["message"]
    assert time.monotonic() - started < 5
    assert flow.snapshot(doc) == before


def _rogue_tsa() -> tuple[asn1_x509.Certificate, keys.PrivateKeyInfo]:
    """A time-stamping authority nobody trusts (self-signed, timeStamping EKU)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Rogue TSA"),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=30)).not_valid_after(NOW + dt.timedelta(days=300))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                           critical=True)
            .sign(key, hashes.SHA256()))
    der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return (asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
            keys.PrivateKeyInfo.load(der_key))


def test_a_timestamp_from_an_untrusted_tsa_is_refused_not_taken_as_b_t(flow):
    """NCALayer may add a signature timestamp as an unsigned attribute: one from a TSA that no
    trust anchor vouches for (backdated here by a year) must not give the signature a time or a
    B-T level; the verifier gives no proof of existence and the CMS is refused."""
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
    from pyhanko.sign.timestamps import DummyTimeStamper

    from signing._aio import run_sync

    doc = flow.issue(_one_signer())
    digest = _digest(flow, doc)
    before = flow.snapshot(doc)
    tsa_cert, tsa_key = _rogue_tsa()
    stamper = DummyTimeStamper(tsa_cert, tsa_key, fixed_dt=NOW - dt.timedelta(days=365))
    signed = run_sync(flow.nca.async_sign(digest, "sha256", use_pades=True, timestamper=stamper,
                                          signed_attr_settings=PdfCMSSignedAttributes(signing_time=NOW)))
    unsigned = signed["content"]["signer_infos"][0]["unsigned_attrs"]
    assert [a["type"].native for a in unsigned] == ["signature_time_stamp_token"]
    r = flow.post(doc, signed.dump())
    assert r.status_code == 422 and r.json()["code"] == "verification_failed", r.text
    assert "NO_POE" in r.json()["message"]
    assert flow.snapshot(doc) == before
    # without the token the same signature is accepted
    r = flow.post(doc, flow.cms(flow.nca, digest))
    assert r.status_code == 200 and r.json()["status"] == "valid", r.text


def test_a_cms_of_one_record_never_signs_another_with_the_same_content(flow):
    a = flow.issue(_one_signer())
    b = flow.issue(_one_signer())
    digest_a, digest_b = _digest(flow, a), _digest(flow, b)
    assert digest_a != digest_b                      # the PDF carries the record's own token
    before = flow.snapshot(b)
    cms_a = flow.cms(flow.nca, digest_a)
    r = flow.post(b, cms_a)
    assert r.status_code == 422 and r.json()["code"] == "digest_mismatch", r.text
    assert flow.snapshot(b) == before
    assert flow.post(a, cms_a).status_code == 200
    r = flow.post(b, cms_a)                          # nor once it signed the first record
    assert r.status_code == 422 and r.json()["code"] == "digest_mismatch", r.text
    assert flow.snapshot(b) == before


def test_two_different_valid_signatures_for_one_step_at_once(flow):
    """Two CMSes by the right person over the right digest (signing times of their own; a PAdES
    CMS by an RSA key has none and is the same bytes every time), posted at once: exactly one is accepted, the other is 409, and the record holds the winner only
    (one ``sign`` event, the stored PDF carries the winner's CMS)."""
    doc = flow.issue(_two_signers(flow))
    digest = _digest(flow, doc)
    key, cert = _key_of(flow.nca), _cert_of(flow.nca)
    ders = [_raw_cms(key, cert, [cert], _attrs(digest, cert, when=NOW + dt.timedelta(seconds=i))) for i in (1, 2)]
    assert ders[0] != ders[1]
    outcomes = dict(enumerate(at_once(*(
        lambda i=i: signflow.submit(flow.runtime, doc["id"], ders[i], caller=signflow.Caller("t", "t"))
        for i in (0, 1)), expected=(signflow.SignatureRefused,))))
    won = [i for i, o in outcomes.items() if not isinstance(o, signflow.SignatureRefused)]
    lost = [o for o in outcomes.values() if isinstance(o, signflow.SignatureRefused)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert lost[0].status == 409 and lost[0].code in ("out_of_order", "already_signed"), lost[0].code
    state = signflow.signing_state(flow.runtime, doc["id"])
    assert state.next_index == 1 and len(state.done) == 1
    assert state.done[0]["cms_sha256"] == hashlib.sha256(ders[won[0]]).hexdigest()
    audit = flow.client.get(f"/documents/{doc['id']}/audit").json()
    assert [e["action"] for e in audit] == ["issue", "sign"]
    assert audit[1]["details"]["cms_sha256"] == state.done[0]["cms_sha256"]
    # the event names the very certificate, not only the person (one may hold several)
    assert audit[1]["details"]["signer"]["certificate"] == {
        "sha256": hashlib.sha256(cert.dump()).hexdigest(), "serial": format(cert.serial_number, "x"),
        "issuer": cert.issuer.human_friendly}
    pending = signflow.pending_pdf(flow.runtime, doc["id"])
    assert ders[won[0]].hex().encode() in pending.lower()
    assert ders[1 - won[0]].hex().encode() not in pending.lower()


# -- tickets and the signing page's own endpoint -----------------------------------------------

def _ticket(flow: Flow, doc: dict) -> str:
    r = flow.client.post(f"/documents/{doc['id']}/signing/tickets")
    assert r.status_code == 201, r.text
    return r.json()["ticket"]


def test_tickets_of_another_record_or_a_signed_step_open_nothing(flow):
    a = flow.issue(_two_signers(flow))
    b = flow.issue(_two_signers(flow))
    ticket_a = _ticket(flow, a)
    digest_b = _digest(flow, b)
    before = flow.snapshot(b)
    body = {"cms": base64.b64encode(flow.cms(flow.nca, digest_b)).decode()}
    for path in (f"/sign/{b['id']}", f"/sign/{b['id']}/pages/1.png"):
        assert flow.client.get(path, params={"ticket": ticket_a}).status_code == 403, path
    r = flow.client.post(f"/sign/{b['id']}/signature", params={"ticket": ticket_a}, json=body)
    assert r.status_code == 403 and r.json()["code"] == "ticket_invalid", r.text
    assert flow.snapshot(b) == before
    # step 0's ticket after step 0 was signed through the API: gone, for the page and the post
    assert flow.post(a, flow.cms(flow.nca, _digest(flow, a))).status_code == 200
    assert flow.client.get(f"/sign/{a['id']}", params={"ticket": ticket_a}).status_code == 410
    head_cms = flow.cms(flow.head, _digest(flow, a))
    after_first = flow.snapshot(a)
    r = flow.client.post(f"/sign/{a['id']}/signature", params={"ticket": ticket_a},
                         json={"cms": base64.b64encode(head_cms).decode()})
    assert r.status_code == 410 and r.json()["code"] == "ticket_expired", r.text
    assert flow.snapshot(a) == after_first


@pytest.mark.parametrize("body, status, path", [
    ("[" * 100_000 + "]" * 100_000, 400, ""),              # nested deeper than the parser goes
    ('{"cms": ' * 20_000 + "1" + "}" * 20_000, 400, ""),
    ("[]", 422, ""),
    ('{"cms": 5}', 422, "cms"),
    ('{"cms": ["MIIB"]}', 422, "cms"),
    ('{"cms": "not base64!"}', 422, "cms"),
    (b"\xff\xfe{", 400, ""),
])
def test_the_signing_page_post_answers_bad_bodies_with_4xx(flow, body, status, path):
    doc = flow.issue(_one_signer())
    ticket = _ticket(flow, doc)
    before = flow.snapshot(doc)
    r = flow.client.post(f"/sign/{doc['id']}/signature", params={"ticket": ticket},
                         content=body if isinstance(body, bytes) else body.encode(),
                         headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text[:300]
    assert r.json()["problems"][0]["path"] == path
    assert flow.snapshot(doc) == before
    signflow.check_ticket(flow.runtime, doc["id"], ticket)          # still good


@pytest.fixture(scope="module")
def served(flow):
    """The signing page over the module's runtime, served by a real uvicorn with its access log
    on (what `qujat serve` runs): its base URL."""
    from fastapi import FastAPI

    from qujat.web.signpage import make_sign_router

    app = FastAPI()
    app.state.runtime = flow.runtime
    app.include_router(make_sign_router())
    with uvicorn_thread(app, access_log=True) as url:
        yield url


def test_the_ticket_and_full_iins_stay_out_of_the_server_logs(flow, served, caplog):
    """The official's page, a page image, a refused and an accepted signature, then the page
    again, through uvicorn: its access log holds the paths, never the ticket; no log record names
    the expected IIN in full."""
    doc = flow.issue(_one_signer())
    ticket = _ticket(flow, doc)
    digest = _digest(flow, doc)
    with caplog.at_level(logging.DEBUG), httpx2.Client(base_url=served, timeout=60) as http:
        q = {"ticket": ticket}
        moved = http.get(f"/sign/{doc['id']}", params=q)          # the ticket moves into a cookie
        assert moved.status_code == 303 and "ticket" not in moved.headers["location"]
        assert http.get(moved.headers["location"]).status_code == 200
        assert http.get(f"/sign/{doc['id']}/pages/1.png", params=q).status_code == 200
        wrong = base64.b64encode(flow.cms(flow.individual, digest)).decode()
        assert http.post(f"/sign/{doc['id']}/signature", params=q, json={"cms": wrong}).status_code == 422
        right = base64.b64encode(flow.cms(flow.nca, digest)).decode()
        assert http.post(f"/sign/{doc['id']}/signature", params=q, json={"cms": right}).status_code == 200
        assert http.get(f"/sign/{doc['id']}", params=q).status_code == 410
    server_side = [r for r in caplog.records if r.name.startswith(("uvicorn", "qujat", "store", "signing"))]
    access = [r.getMessage() for r in server_side if r.name == "uvicorn.access"]
    assert len(access) >= 5 and any(f"/sign/{doc['id']}/signature" in m for m in access), access
    texts = [r.getMessage() for r in server_side]
    assert not [m for m in texts if ticket in m], "the ticket is in the log"
    assert not [m for m in texts if NCA_IIN in m], "a full IIN is in the log"
    assert any("ticket=<redacted>" in m for m in access), access


def _poppler_children() -> int:
    """How many pdftoppm / pdfinfo processes this process runs now."""
    me, n = os.getpid(), 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        n += comm in ("pdftoppm", "pdfinfo") and int(rest[1]) == me
    return n


def _fetch_pages_at_once(served: str, doc: dict, ticket: str, pages: list[int]) -> list[tuple[int, float]]:
    """Ask for ``pages`` (one request each, released together): (status, seconds) of each."""
    def fetch(n: int):
        with httpx2.Client(base_url=served, timeout=120) as http:
            barrier.wait()
            began = time.monotonic()
            r = http.get(f"/sign/{doc['id']}/pages/{n}.png", params={"ticket": ticket})
            assert r.status_code != 200 or r.content.startswith(b"\x89PNG")
            return r.status_code, time.monotonic() - began

    barrier = threading.Barrier(len(pages))
    return at_once(*(lambda n=n: fetch(n) for n in pages), expected=())


def test_page_images_render_a_few_at_a_time(flow, served):
    """Twelve requests at once for a fresh document's page images (the same page, and every
    page): poppler runs at most `MAX_RENDERS` processes at once (8 ran before the limit), and
    every answer is the PNG, a 404 for a page past the last, or a 503 (never a 500)."""
    from qujat.web.signpage import MAX_RENDERS

    doc = flow.issue(_two_signers(flow))
    ticket = _ticket(flow, doc)
    peak, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _poppler_children())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        answers = _fetch_pages_at_once(served, doc, ticket, [1 if i % 2 else 1 + i // 2 for i in range(12)])
    finally:
        stop.set()
        watcher.join()
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {200, 404, 503}, statuses
    assert statuses.count(200) >= 2, statuses
    assert 1 <= peak[0] <= MAX_RENDERS, peak[0]


def test_page_requests_past_the_queue_are_503_at_once(flow, served):
    """Sixteen requests at once for page 1 of a fresh document: `MAX_RENDERS` + `MAX_RENDER_QUEUE`
    of them get in (one renders, the others wait for its PNG); the rest are told 503 at once
    instead of holding one of the server's threads for up to `RENDER_WAIT_S`."""
    from qujat.web.signpage import MAX_RENDER_QUEUE, MAX_RENDERS, RENDER_WAIT_S

    doc = flow.issue(_two_signers(flow))
    answers = _fetch_pages_at_once(served, doc, _ticket(flow, doc), [1] * 16)
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 1, statuses
    assert statuses.count(503) >= 16 - MAX_RENDERS - MAX_RENDER_QUEUE, statuses
    assert all(seconds < RENDER_WAIT_S / 3 for status, seconds in answers if status == 503), answers


def test_the_signers_role_is_text_on_the_page_and_in_its_script_data(flow):
    """The role label comes from the upstream system: markup in it is shown as text, in the HTML
    and in the JSON the page's script reads (which never inserts HTML)."""
    role = "Басшы </script><script>alert(1)</script><img src=x onerror=alert(2)> &amp; \"'"
    doc = flow.issue([{"role": role, "iin": NCA_IIN}])
    ticket = _ticket(flow, doc)
    page = flow.client.get(f"/sign/{doc['id']}", params={"ticket": ticket})
    assert page.status_code == 200, page.text[:300]
    html = page.text
    assert "<script>alert" not in html and "<img src=x" not in html and "</script><script>" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html and "&amp;amp;" in html
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    # the page's one inline <script> is JSON data, never run; sign.js writes text only
    assert html.count("<script") == 2 and '<script id="sign-config" type="application/json">' in html
    config = json.loads(html.split('<script id="sign-config" type="application/json">')[1].split("</script>")[0])
    from qujat.web.signpage import _asset

    script = _asset("sign.js")[0].decode()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script
    # the ticket is in no URL of the page (a cookie carries it to our origin); the URL the script
    # posts the CMS to is used by fetch() alone (what goes to NCALayer is signRequest())
    assert ticket not in html and not [k for k, v in config.items() if ticket in json.dumps(v)]
    assert config["post"] == f"/sign/{doc['id']}/signature"
    assert script.count("config.post") == 1 and "fetch(config.post," in script
    assert "socket.send(JSON.stringify(signRequest()))" in script
    # the public page of the awaiting record shows the role as text too
    public = flow.client.get(f"/v/{doc['token']}")
    assert public.status_code == 200
    assert "<script>alert" not in public.text and "<img src=x" not in public.text


def test_no_unmasked_iin_on_the_public_page_of_an_awaiting_record(flow):
    doc = flow.issue(_two_signers(flow))
    head_iin = _two_signers(flow)[1]["iin"]
    for suffix in ("", ".json"):
        r = flow.client.get(f"/v/{doc['token']}{suffix}")
        assert r.status_code == 200, r.text[:300]
        assert NCA_IIN not in r.text and head_iin not in r.text, suffix
    r = flow.client.get(f"/v/{doc['token']}/pdf")
    assert r.status_code in (404, 409) and not r.content.startswith(b"%PDF"), r.status_code
    assert flow.post(doc, flow.cms(flow.nca, _digest(flow, doc))).status_code == 200
    for suffix in ("", ".json"):
        r = flow.client.get(f"/v/{doc['token']}{suffix}")
        assert NCA_IIN not in r.text and head_iin not in r.text, suffix
    r = flow.client.get(f"/v/{doc['token']}/pdf")
    assert r.status_code in (404, 409) and not r.content.startswith(b"%PDF"), r.status_code


def test_page_numbers_and_ids_out_of_shape_are_4xx(flow):
    doc = flow.issue(_one_signer())
    ticket = _ticket(flow, doc)
    q = {"ticket": ticket}
    for n, status in (("0", 404), ("-1", 404), ("51", 404), ("9" * 40, 404), ("abc", 422), ("1.5", 422),
                      ("1e3", 422)):
        r = flow.client.get(f"/sign/{doc['id']}/pages/{n}.png", params=q)
        assert r.status_code == status, (n, r.status_code, r.text[:200])
    for raw in ("..%2F..%2Fetc%2Fpasswd", f"{doc['id']}%00", f"{doc['id']}x", "%2e%2e", doc["id"].upper()):
        for path in (f"/sign/{raw}", f"/sign/{raw}/pages/1.png"):
            r = flow.client.get(path, params=q)
            # the same record written in capitals opens it; anything else opens nothing
            if raw == doc["id"].upper():
                assert r.status_code == 200, (path, r.status_code)
            else:
                assert r.status_code in (403, 404), (path, r.status_code)
    signflow.check_ticket(flow.runtime, doc["id"], ticket)            # still good


@pytest.mark.parametrize("body, status, path", [
    (b"[" * 100_000 + b"]" * 100_000, 413, ""),                    # past the endpoint's body limit
    (b'{"cms": "' + b"A" * 200_000 + b'"}', 413, ""),
    (b'{"cms": ' * 5_000 + b"1" + b"}" * 5_000, 400, None),       # nested past the parser's depth
    (b'{"cms": 5}', 422, "cms"),
    (b'{"cms": null}', 422, "cms"),
    (b'{"cms": "not base64!"}', 400, "cms"),
    (b'{"cms": ""}', 422, "cms"),
    (b"\xff\xfe{", 400, None),
])
def test_the_api_signature_endpoint_answers_bad_bodies_with_4xx(flow, body, status, path):
    doc = flow.issue(_one_signer())
    before = flow.snapshot(doc)
    r = flow.client.post(f"/documents/{doc['id']}/signatures", content=body,
                         headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text[:300]
    problems = r.json()["problems"]
    assert path is None or problems[0]["path"] == path, problems
    assert flow.snapshot(doc) == before


def test_an_earlier_signers_certificate_expiring_meanwhile_does_not_block_the_next(flow):
    """The enterprise head signs on 2021-06-01; the authority head comes on 2022-03-01, after the
    first certificate expired (2022-01-18). The first signature was checked when it was taken and
    its bytes are the service's own since: the second is accepted, and the record becomes valid.
    Integrity is still checked now; only the first certificate's validity is judged at the time
    the service took its signature (`signflow._check_verified`; a revocation known now refuses)."""
    doc = flow.issue(_two_signers(flow))
    assert flow.post(doc, flow.cms(flow.nca, _digest(flow, doc))).status_code == 200
    state = signflow.signing_state(flow.runtime, doc["id"])
    assert state.done[0]["field"] == "Signature1"
    later = dt.datetime(2022, 3, 1, 6, 0, tzinfo=dt.timezone.utc)
    try:
        flow.clock.set(later)
        before = flow.snapshot(doc)
        r = flow.post(doc, flow.cms(flow.head, _digest(flow, doc)))
    finally:
        flow.clock.set(NOW)
    assert r.status_code == 200 and r.json()["status"] == "valid", r.text
    assert flow.snapshot(doc) != before
    audit = flow.client.get(f"/documents/{doc['id']}/audit").json()
    assert [e["action"] for e in audit] == ["issue", "sign", "sign"]
    assert dt.datetime.fromisoformat(audit[-1]["at"]) == later


def test_nca_test_identities_are_only_as_good_as_the_trust_configuration(flow):
    """`docgen.model.NCA_TEST_IINS` lets a request expect the NCA's test person (whose IIN fails
    the check digit) as a signer — nowhere else: a citizen's IIN is checked as always. The NCA's
    test keys are public (with their passwords), so what keeps them out of production is the
    trust configuration: without the NCA test CA among the anchors, that person's CMS over the
    right digest is untrusted (here: the dev PKI alone, as a deployment trusting only its CAs)."""
    from docgen.request import RequestInvalid, parse_request
    from signing.deferred import UntrustedSigner, embed, prepare

    raw = example("cadastral_value_act")
    raw["data"]["issued_on"] = "2021-05-28"
    parse_request({**raw, "signers": [{"role": "Басшы", "iin": NCA_IIN}]}, today=NOW.date(),
                  allow_nca_test_identities=True)
    person = {**raw, "data": {**raw["data"], "applicant": {"kind": "person", "full_name": "Тестов Тест",
                                                           "iin": NCA_IIN}}}
    with pytest.raises(RequestInvalid) as refused:
        parse_request(person, today=NOW.date())
    assert any(p.path.startswith("data.applicant") and "iin" in p.path for p in refused.value.problems), \
        refused.value.problems
    prepared = prepare(signflow.pending_pdf(flow.runtime, flow.issue(_one_signer())["id"]))
    der = flow.cms(flow.nca, prepared.digest)
    with pytest.raises(UntrustedSigner):
        embed(prepared, der, trust=[Path(flow.pki.root_cert)], at=NOW)
    assert embed(prepared, der, trust=flow.runtime.trust_anchors, at=NOW).startswith(b"%PDF")


def test_unknown_or_malformed_record_ids_on_the_signing_api_are_404(flow):
    body = {"cms": base64.b64encode(b"0\x03\x02\x01\x00").decode()}
    for raw in ("not-a-uuid", "00000000-0000-0000-0000-000000000000", "..%2F..%2Fetc", "0" * 500):
        for method, path, kw in (("GET", f"/documents/{raw}/signing", {}),
                                 ("POST", f"/documents/{raw}/signatures", {"json": body}),
                                 ("POST", f"/documents/{raw}/signing/tickets", {})):
            r = flow.client.request(method, path, **kw)
            assert r.status_code == 404 and r.json()["code"] == "not_found", (method, path, r.text[:200])


def test_tickets_are_256_random_bits_and_only_their_hash_is_stored(flow):
    doc = flow.issue(_one_signer())
    tickets = [_ticket(flow, doc) for _ in range(3)]
    assert len(set(tickets)) == 3
    for ticket in tickets:
        assert len(base64.urlsafe_b64decode(ticket + "=")) == 32
        digest = hashlib.sha256(ticket.encode()).hexdigest()
        assert flow.runtime.store.signing_ticket(digest).record_id.hex == doc["id"].replace("-", "")
    stored = b"".join(p.read_bytes() for p in Path(flow.runtime.settings.data_dir).glob("qujat.sqlite3*"))
    assert stored and not [t for t in tickets if t.encode() in stored]
    assert all(hashlib.sha256(t.encode()).hexdigest().encode() in stored for t in tickets)


def test_a_record_annulled_mid_signing_takes_no_more_signatures(flow):
    from qujat import service
    from qujat.web.signpage import words

    doc = flow.issue(_two_signers(flow))
    assert flow.post(doc, flow.cms(flow.nca, _digest(flow, doc))).status_code == 200
    digest = _digest(flow, doc)
    ticket = _ticket(flow, doc)
    service.annul(flow.runtime, doc["id"], "Шешім күшін жойды / Решение отменено", signflow.Caller("t", "t"))
    before = flow.snapshot(doc)
    head_cms = base64.b64encode(flow.cms(flow.head, digest)).decode()
    r = flow.client.post(f"/documents/{doc['id']}/signatures", json={"cms": head_cms})
    assert r.status_code == 409 and r.json()["code"] == "not_awaiting", r.text
    assert flow.client.get(f"/documents/{doc['id']}/signing").status_code == 409
    assert flow.client.post(f"/documents/{doc['id']}/signing/tickets").status_code == 409
    page = flow.client.get(f"/sign/{doc['id']}", params={"ticket": ticket})
    assert page.status_code == 409 and words("closed", "kk") in page.text
    assert flow.client.get(f"/sign/{doc['id']}/pages/1.png", params={"ticket": ticket}).status_code == 409
    r = flow.client.post(f"/sign/{doc['id']}/signature", params={"ticket": ticket}, json={"cms": head_cms})
    assert r.status_code == 409 and r.json()["code"] == "not_awaiting", r.text
    assert flow.snapshot(doc) == before
    assert flow.client.get(f"/documents/{doc['id']}").json()["status"] == "annulled"
    assert flow.client.get(f"/v/{doc['token']}.json").json()["status"] == "annulled"
