"""Issue 7, cryptographic forgeries: none may end in TOTAL_PASSED.

4. timestamp confusion: a token in front of the genuine one (own attribute or extra
   value) from a self-made TSA, a token for another signature, a token signed by the
   trust anchor's own key;
5. a CA key signing documents when that CA is the trust anchor;
6. a signer certificate whose EKU is not for document signing;
7. document timestamps: validated and listed; only a valid one gives B-LTA;
8. hostile timestamp attributes end in a report, never an exception.

Every file is built here from an honest one (``attacks_crypto``); the dev PKI's TSA
and CAs are the trusted ones, throw-away CAs the attacker's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from asn1crypto import cms, pem
from attacks_crypto import (
    ADOBE_AUTHENTIC_DOCUMENTS_TRUST,
    DOCUMENT_SIGNING,
    MS_DOCUMENT_SIGNING,
    NCA_INDIVIDUAL_ROLE,
    add_document_timestamp,
    dummy_timestamper,
    imprint,
    key_usage,
    load_holder,
    make_tsa,
    prepend_token,
    read_cms,
    replace_cms,
    set_tst_attributes,
    sign_with,
    token,
    tst_attribute,
    unsigned_attrs,
    with_unsigned_attrs,
)
from tests.signing.conftest import REPO
from cryptography.x509.oid import ExtendedKeyUsageOID as EKU
from pdfs import tiny_pdf
from revpki import RevCa

from signing.keys import load_pkcs12
from signing.model import Indication, Level, SubIndication, TimestampKind
from signing.sign import sign_pdf, timestamper_for
from signing.verify import parse_moment, verify_pdf

FAKE_TIME = "X-Certomancer-Fake-Time"  # certomancer's TSA then stamps this time


def _holder(key_path, cert_path):
    """The dev PKI's key and certificate of one of its CAs."""
    data = cert_path.read_bytes()
    der = pem.unarmor(data)[2] if pem.detect(data) else data
    return load_holder(key_path.read_bytes(), der)


@pytest.fixture(scope="module")
def attacker():
    """The attacker's own CA and TSA (RSA, as pyHanko's dummy TSA needs)."""
    ca = RevCa("ATTACKER CA")
    return ca, make_tsa(ca, "ATTACKER TSA")


@pytest.fixture(scope="module")
def revoked_b_t(dev_pki, pki_server, dev_signer):
    """The revoked signer's B-T signature, stamped now (after the revocation) by the
    trusted dev TSA: honestly TOTAL_FAILED / REVOKED."""
    return sign_pdf(tiny_pdf(), dev_signer("revoked-employee"), level="B-T", tsa_url=dev_pki.tsa_url)


def _offline(pdf, dev_pki, **kw):
    kw.setdefault("trust", [dev_pki.root_cert])
    return verify_pdf(pdf, crls=[dev_pki.crl_file], **kw)


def _sig_stamps(report):
    return [t for t in report.timestamps if t.kind is TimestampKind.SIGNATURE]


# --- 4. timestamp confusion ---------------------------------------------------------------


def test_honest_revoked_b_t_is_revoked(revoked_b_t, dev_pki):
    report = _offline(revoked_b_t, dev_pki)

    sig = report.signatures[0]
    assert (report.indication, sig.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
    [stamp] = _sig_stamps(report)
    assert stamp.passed and stamp.used and stamp.time == sig.timestamp_time > dev_pki.revoked_at
    assert "TSA ҰКО DEV (RSA)" in stamp.tsa


@pytest.mark.parametrize("same_attribute", [True, False], ids=["extra-value", "own-attribute"])
def test_self_made_tsa_token_in_front_does_not_backdate_a_revoked_signer(
    revoked_b_t, dev_pki, attacker, same_attribute
):
    _, tsa = attacker
    backdated = dev_pki.revoked_at - timedelta(days=2)
    forged = prepend_token(revoked_b_t, lambda sv: token(tsa, imprint(sv), gen_time=backdated),
                           same_attribute=same_attribute)

    report = _offline(forged, dev_pki)

    sig = report.signatures[0]
    assert (report.indication, sig.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED), sig.notes
    assert sig.timestamp_time > dev_pki.revoked_at
    fake, genuine = _sig_stamps(report)
    assert (fake.time, fake.indication, fake.sub_indication, fake.used) == (
        backdated, Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, False,
    )
    assert "ATTACKER TSA" in fake.tsa and "trust anchor" in fake.reason
    assert genuine.passed and genuine.used


def test_self_made_tsa_token_does_not_rescue_an_expired_nca_key(nca_dir, dev_pki, pki_server, attacker):
    """The NCA test key expired in January 2022; a self-made token dated 2021-06-01 in
    front of a genuine (current) one must not move the validation back into its life."""
    _, tsa = attacker
    signer = load_pkcs12(nca_dir / "individual_rsa_sign_valid_2021.p12", b"Qwerty12")
    signed = sign_pdf(tiny_pdf(), signer, level="B-T", tsa_url=dev_pki.tsa_url)
    forged = prepend_token(signed, lambda sv: token(tsa, imprint(sv), gen_time=datetime(2021, 6, 1, tzinfo=timezone.utc)),
                           same_attribute=True)

    report = verify_pdf(forged, trust=[nca_dir / "nca_rsa_test_ca.pem", dev_pki.root_cert])

    sig = report.signatures[0]
    assert report.indication is not Indication.TOTAL_PASSED, sig.notes
    assert sig.timestamp_time > datetime(2022, 1, 18, 13, 9, 14, tzinfo=timezone.utc)  # the key's notAfter
    assert [t.passed for t in _sig_stamps(report)] == [False, True]


def test_trusted_token_for_another_signature_is_not_this_signatures_proof(
    revoked_b_t, dev_pki, pki_server, dev_signer
):
    """A genuine token of the trusted TSA, dated before the revocation, but made for a
    different signature (replayed): its imprint does not match this signature."""
    early = (dev_pki.revoked_at - timedelta(hours=3)).isoformat()
    other = sign_pdf(tiny_pdf("other"), dev_signer("individual"), level="B-T",
                     tsa_url=dev_pki.tsa_url, tsa_headers={FAKE_TIME: early})
    [replayed] = [a for a in unsigned_attrs(read_cms(other)) if a["type"].native == "signature_time_stamp_token"]
    forged = prepend_token(revoked_b_t, lambda sv: replayed["values"][0], same_attribute=True)

    report = _offline(forged, dev_pki)

    assert report.signatures[0].sub_indication is SubIndication.REVOKED
    replay, genuine = _sig_stamps(report)
    assert (replay.indication, replay.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    assert replay.time < dev_pki.revoked_at and not replay.used and genuine.used


def test_token_signed_by_the_anchor_ca_key_is_not_a_timestamp(revoked_b_t, dev_pki):
    """The issuing CA is a trust anchor (the NCA setup); a token signed with its key
    (no timeStamping EKU) is refused although pyHanko trusts anchors unconditionally."""
    ca = _holder(dev_pki.key_pem("issuing-ca"), dev_pki.issuing_ca_cert)
    backdated = dev_pki.revoked_at - timedelta(days=1)
    forged = prepend_token(revoked_b_t, lambda sv: token(ca, imprint(sv), gen_time=backdated), same_attribute=False)

    report = _offline(forged, dev_pki, trust=[dev_pki.root_cert, dev_pki.issuing_ca_cert])

    assert report.signatures[0].sub_indication is SubIndication.REVOKED
    fake, genuine = _sig_stamps(report)
    assert (fake.indication, fake.sub_indication) == (Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE)
    assert "timeStamping" in fake.reason or "CA certificate" in fake.reason
    assert genuine.used


def test_earliest_valid_token_is_the_proof_of_existence(dev_pki, pki_server, dev_signer):
    """Two genuine tokens of the trusted TSA, the later one first: the earliest valid
    one is the validation moment (it proves the signature existed then)."""
    early = dev_pki.revoked_at - timedelta(hours=2)
    signed = sign_pdf(tiny_pdf(), dev_signer("revoked-employee"), level="B-T",
                      tsa_url=dev_pki.tsa_url, tsa_headers={FAKE_TIME: early.isoformat()})
    tsa = timestamper_for(dev_pki.tsa_url)
    from signing._aio import run_sync

    later = prepend_token(signed, lambda sv: run_sync(tsa.async_timestamp(imprint(sv), "sha256")), same_attribute=True)

    report = _offline(later, dev_pki)

    sig = report.signatures[0]
    assert report.indication is Indication.TOTAL_PASSED, sig.notes
    late, early_stamp = _sig_stamps(report)  # in the order of the CMS: the later token first
    assert late.passed and early_stamp.passed and early_stamp.used and not late.used
    assert sig.timestamp_time == early_stamp.time < dev_pki.revoked_at < late.time


# --- 5. a CA key signs documents -----------------------------------------------------------


@pytest.mark.parametrize("ca", ["issuing-ca", "root"])
def test_ca_key_signing_is_refused_even_when_the_ca_is_the_anchor(dev_pki, ca):
    cert_path = dev_pki.issuing_ca_cert if ca == "issuing-ca" else dev_pki.root_cert
    holder = _holder(dev_pki.key_pem(ca), cert_path)
    signed = sign_with(tiny_pdf(), holder)

    report = verify_pdf(signed, trust=[cert_path])

    sig = report.signatures[0]
    assert (report.indication, sig.sub_indication) == (Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE)
    assert "CA" in sig.notes[0]
    assert sig.intact and not sig.modified_after_signing


# --- 6. extended key usage -------------------------------------------------------------------


@pytest.fixture(scope="module")
def signer_ca():
    return RevCa("SIGNER CA")


@pytest.mark.parametrize(
    "eku",
    [[EKU.SERVER_AUTH], [EKU.CLIENT_AUTH], [EKU.TIME_STAMPING], [EKU.OCSP_SIGNING],
     [EKU.CLIENT_AUTH, NCA_INDIVIDUAL_ROLE], [NCA_INDIVIDUAL_ROLE]],
    ids=["serverAuth", "clientAuth", "timeStamping", "OCSPSigning", "nca-auth", "role-only"],
)
@pytest.mark.parametrize("anchor", ["ca", "leaf"])
def test_signer_eku_not_for_documents_is_refused(signer_ca, eku, anchor):
    leaf = signer_ca.issue("ТЕСТОВ ТЕСТ", eku=eku)  # keyUsage digitalSignature + nonRepudiation
    signed = sign_with(tiny_pdf(), leaf, [signer_ca.asn1])

    report = verify_pdf(signed, trust=[signer_ca.pem if anchor == "ca" else leaf.pem])

    sig = report.signatures[0]
    assert (report.indication, sig.sub_indication) == (Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE)
    assert "extendedKeyUsage" in sig.notes[0]


@pytest.mark.parametrize(
    "usage, why",
    [(("digital_signature", "key_encipherment"), "nonRepudiation"),  # an NCA authentication key
     (None, "no keyUsage"),
     (("digital_signature", "content_commitment", "key_cert_sign"), "CA")],
    ids=["authentication", "no-key-usage", "cert-sign"],
)
@pytest.mark.parametrize("anchor", ["ca", "leaf"])
def test_signer_key_usage_not_for_signing_is_refused(signer_ca, usage, why, anchor):
    """pyHanko checks nonRepudiation below an anchor only, never on the anchor itself."""
    leaf = signer_ca.issue("ТЕСТОВ ТЕСТ", key_usage=key_usage(*usage) if usage else None,
                           eku=[EKU.EMAIL_PROTECTION])
    signed = sign_with(tiny_pdf(), leaf, [signer_ca.asn1])

    report = verify_pdf(signed, trust=[signer_ca.pem if anchor == "ca" else leaf.pem])

    sig = report.signatures[0]
    assert (report.indication, sig.sub_indication) == (Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE)
    assert why in sig.notes[0]


@pytest.mark.parametrize(
    "eku",
    [[EKU.EMAIL_PROTECTION, NCA_INDIVIDUAL_ROLE], [EKU.ANY_EXTENDED_KEY_USAGE], [DOCUMENT_SIGNING],
     [ADOBE_AUTHENTIC_DOCUMENTS_TRUST], [MS_DOCUMENT_SIGNING], None],
    ids=["nca-signing", "anyEKU", "documentSigning", "adobe", "microsoft", "no-eku"],
)
def test_document_signing_purposes_pass(signer_ca, eku):
    leaf = signer_ca.issue("ТЕСТОВ ТЕСТ", eku=eku)
    signed = sign_with(tiny_pdf(), leaf, [signer_ca.asn1])

    report = verify_pdf(signed, trust=[signer_ca.pem])

    assert report.indication is Indication.TOTAL_PASSED, report.signatures[0].notes


# --- 7. document timestamps ------------------------------------------------------------------


@pytest.fixture(scope="module")
def b_lt(dev_pki, pki_server, dev_signer):
    return sign_pdf(tiny_pdf(), dev_signer("authority-head"), level="B-LT", tsa_url=dev_pki.tsa_url)


def test_honest_b_lta_passes_with_both_timestamps_listed(b_lt, dev_pki, pki_server):
    b_lta = add_document_timestamp(b_lt, timestamper_for(dev_pki.tsa_url))

    report = verify_pdf(b_lta, trust=[dev_pki.root_cert])

    sig = report.signatures[0]
    assert report.indication is Indication.TOTAL_PASSED, sig.notes
    assert sig.level is Level.B_LTA
    kinds = [(t.kind, t.indication, t.used) for t in report.timestamps]
    assert kinds == [
        (TimestampKind.SIGNATURE, Indication.TOTAL_PASSED, True),
        (TimestampKind.DOCUMENT, Indication.TOTAL_PASSED, True),
    ]
    doc = report.timestamps[1]
    assert doc.field != sig.field and "TSA ҰКО DEV (RSA)" in doc.tsa and doc.time >= sig.timestamp_time


def test_document_timestamp_from_an_untrusted_tsa_is_not_b_lta(b_lt, dev_pki, attacker):
    _, tsa = attacker
    stamped = add_document_timestamp(b_lt, dummy_timestamper(tsa))

    report = verify_pdf(stamped, trust=[dev_pki.root_cert])

    sig = report.signatures[0]
    assert report.indication is Indication.TOTAL_PASSED, sig.notes  # the signature itself is fine ...
    assert sig.level is Level.B_LT  # ... but nothing proves the archive time
    [doc] = [t for t in report.timestamps if t.kind is TimestampKind.DOCUMENT]
    assert (doc.indication, doc.sub_indication, doc.used) == (
        Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, False,
    )
    assert "ATTACKER TSA" in doc.tsa


def test_document_timestamp_with_a_wrong_imprint_is_failed(b_lt, dev_pki, attacker):
    """A document timestamp whose token (of the trusted TSA's key and certificate)
    stamps other bytes than its byte range."""
    _, tsa = attacker
    stamped = add_document_timestamp(b_lt, dummy_timestamper(tsa))
    [genuine] = [a for a in unsigned_attrs(read_cms(b_lt)) if a["type"].native == "signature_time_stamp_token"]
    [tsa_cert] = [c.chosen for c in genuine["values"][0]["content"]["certificates"]
                  if "TSA" in c.chosen.subject.human_friendly]
    trusted_tsa = load_holder(dev_pki.key_pem("tsa").read_bytes(), tsa_cert.dump())
    wrong = replace_cms(stamped, lambda ci: token(trusted_tsa, imprint(b"other bytes")), index=1)

    report = verify_pdf(wrong, trust=[dev_pki.root_cert])

    assert report.signatures[0].level is Level.B_LT
    [doc] = [t for t in report.timestamps if t.kind is TimestampKind.DOCUMENT]
    assert (doc.indication, doc.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    assert "TSA ҰКО DEV (RSA)" in doc.tsa


# --- 8. hostile timestamp attributes ----------------------------------------------------------


@pytest.fixture(scope="module")
def b_b(signer_ca):
    leaf = signer_ca.issue("ТЕСТОВ ТЕСТ", eku=[EKU.EMAIL_PROTECTION])
    return sign_with(tiny_pdf(), leaf, [signer_ca.asn1])


def _hostile(kind, tsa):
    if kind == "not-tstinfo":
        return lambda sv: [tst_attribute(token(tsa, imprint(sv), econtent_type="data", econtent=b"not a TSTInfo"))]
    if kind == "genTime-without-zone":
        return lambda sv: [tst_attribute(token(tsa, imprint(sv), gen_time="20210601000000"))]
    if kind == "empty-value-set":
        return lambda sv: [tst_attribute()]
    if kind == "data-content-info":
        return lambda sv: [tst_attribute(cms.ContentInfo({"content_type": "data", "content": b"x"}))]
    raise AssertionError(kind)


HOSTILE = {
    "not-tstinfo": "does not hold a TSTInfo",
    "genTime-without-zone": "no time zone",
    "empty-value-set": "holds no value",
    "data-content-info": "not a CMS SignedData",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_timestamp_attribute_ends_in_a_report(b_b, signer_ca, attacker, kind):
    _, tsa = attacker
    hostile = set_tst_attributes(b_b, _hostile(kind, tsa))

    report = verify_pdf(hostile, trust=[signer_ca.pem])

    sig = report.signatures[0]
    assert (sig.indication, sig.sub_indication) == (Indication.INDETERMINATE, SubIndication.NO_POE), sig.notes
    assert sig.intact and sig.level is Level.B_B and sig.timestamp_time is None
    [stamp] = report.timestamps
    assert (stamp.indication, stamp.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert HOSTILE[kind] in stamp.reason


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_token_before_a_genuine_one_does_not_spoil_it(signer_ca, attacker, kind):
    """Anyone can add unsigned attributes to an honest B-T file: it must stay valid."""
    _, tsa = attacker
    own_tsa = make_tsa(signer_ca, "SIGNER CA TSA")
    leaf = signer_ca.issue("ТЕСТОВ ТЕСТ", eku=[EKU.EMAIL_PROTECTION])
    honest = sign_with(tiny_pdf(), leaf, [signer_ca.asn1], timestamper=dummy_timestamper(own_tsa))

    def mutate(ci):
        return with_unsigned_attrs(ci, [*_hostile(kind, tsa)(ci["content"]["signer_infos"][0]["signature"].native),
                                        *unsigned_attrs(ci)])

    report = verify_pdf(replace_cms(honest, mutate), trust=[signer_ca.pem])

    sig = report.signatures[0]
    assert report.indication is Indication.TOTAL_PASSED, sig.notes
    assert sig.level is Level.B_T
    assert [t.passed for t in report.timestamps] == [False, True]


def test_cli_reports_hostile_timestamp_without_traceback(b_b, signer_ca, attacker, tmp_path):
    _, tsa = attacker
    pdf = tmp_path / "hostile.pdf"
    pdf.write_bytes(set_tst_attributes(b_b, _hostile("genTime-without-zone", tsa)))
    ca = tmp_path / "ca.pem"
    ca.write_bytes(signer_ca.pem)

    proc = subprocess.run(
        [sys.executable, "-m", "signing", "verify", str(pdf), "--trust", str(ca), "--offline", "--json"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )

    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    body = json.loads(proc.stdout)
    assert body["signatures"][0]["sub_indication"] == "NO_POE"
    assert body["timestamps"] == [{
        "kind": "signature", "field": "Signature1", "time": None,
        "tsa": "Common Name: ATTACKER TSA, Country: KZ", "indication": "TOTAL_FAILED",
        "sub_indication": "FORMAT_FAILURE",
        "reason": "the timestamp's genTime has no time zone (RFC 3161 requires UTC)", "used": False,
    }]
