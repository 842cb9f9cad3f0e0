"""Revocation: a revoked signer fails; a signature timestamped before the revocation
passes; CRLs of an intermediate trust anchor (the NCA case) are honoured.

The dev PKI serves CRL and OCSP on 127.0.0.1, so online checks here use a policy that
allows private addresses (never the setting of a public service)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pdfs import tiny_pdf

from signing.model import FetchOutcome, Indication, SubIndication
from signing.netfetch import FetchPolicy
from signing.sign import sign_pdf
from signing.verify import verify_pdf

FAKE_TIME = "X-Certomancer-Fake-Time"  # certomancer's animator honours it (test TSA clock)
DEV_ONLINE = FetchPolicy.online(allow_private=True)


def test_revoked_signer_fails_with_revoked(dev_pki, pki_server, dev_signer):
    signed = sign_pdf(tiny_pdf(), dev_signer("revoked-employee"))

    report = verify_pdf(signed, trust=[dev_pki.root_cert], policy=DEV_ONLINE)  # from the loopback server

    sig = report.signatures[0]
    assert report.indication is Indication.TOTAL_FAILED
    assert sig.sub_indication is SubIndication.REVOKED
    assert sig.revoked is True and sig.trusted is False
    assert FetchOutcome.FETCHED in {f.outcome for f in report.fetches}


def test_library_default_is_offline(dev_pki, pki_server, dev_signer):
    """Without a policy nothing is fetched: the revoked signer is not found out (soft-fail)
    and the report lists no download."""
    signed = sign_pdf(tiny_pdf(), dev_signer("revoked-employee"))

    report = verify_pdf(signed, trust=[dev_pki.root_cert])

    assert report.fetches == ()
    assert report.indication is Indication.TOTAL_PASSED


def test_dev_pki_is_refused_without_allow_private(dev_pki, pki_server, dev_signer):
    signed = sign_pdf(tiny_pdf(), dev_signer("individual"))

    report = verify_pdf(signed, trust=[dev_pki.root_cert], policy=FetchPolicy.online())

    sig = report.signatures[0]
    assert (sig.indication, sig.sub_indication) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    assert report.fetches and {f.outcome for f in report.fetches} == {FetchOutcome.REFUSED}
    assert all(str(dev_pki.port) in f.url for f in report.fetches)


def test_revoked_signer_fails_offline_with_crl_file(dev_pki, dev_signer):
    signed = sign_pdf(tiny_pdf(), dev_signer("revoked-employee"))

    report = verify_pdf(signed, trust=[dev_pki.root_cert], crls=[dev_pki.crl_file])

    assert (report.indication, report.signatures[0].sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)


def test_timestamp_after_revocation_does_not_help(dev_pki, pki_server, dev_signer):
    signed = sign_pdf(tiny_pdf(), dev_signer("revoked-employee"), level="B-T", tsa_url=dev_pki.tsa_url)

    report = verify_pdf(signed, trust=[dev_pki.root_cert], policy=DEV_ONLINE)

    assert report.signatures[0].timestamp_time > dev_pki.revoked_at
    assert report.signatures[0].sub_indication is SubIndication.REVOKED


def test_same_key_timestamped_before_revocation_passes(dev_pki, pki_server, dev_signer):
    before = (dev_pki.revoked_at - timedelta(hours=2)).isoformat()
    signed = sign_pdf(
        tiny_pdf(), dev_signer("revoked-employee"), level="B-T",
        tsa_url=dev_pki.tsa_url, tsa_headers={FAKE_TIME: before},
    )

    report = verify_pdf(signed, trust=[dev_pki.root_cert], policy=DEV_ONLINE)

    sig = report.signatures[0]
    assert sig.timestamp_time < dev_pki.revoked_at
    assert report.indication is Indication.TOTAL_PASSED, sig.notes
    assert sig.revoked is False


def test_intermediate_anchor_crl_is_checked(dev_pki, dev_signer):
    """pyhanko-certvalidator cannot build the CRL issuer path when the anchor is not
    self-signed; our verifier checks such CRLs itself."""
    anchor = [dev_pki.issuing_ca_cert]
    revoked = sign_pdf(tiny_pdf(), dev_signer("revoked-employee"))
    valid = sign_pdf(tiny_pdf(), dev_signer("individual"))

    bad = verify_pdf(revoked, trust=anchor, crls=[dev_pki.crl_file])
    good = verify_pdf(valid, trust=anchor, crls=[dev_pki.crl_file])

    assert (bad.indication, bad.signatures[0].sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
    assert good.indication is Indication.TOTAL_PASSED, good.signatures[0].notes


def test_ocsp_responder_reports_good_and_revoked(dev_pki, pki_server, dev_signer):
    from signing.certload import load_certs
    from signing.netfetch import RevocationCache

    issuer = load_certs([dev_pki.issuing_ca_cert])[0]

    def status(label):
        response = RevocationCache().ocsp(dev_signer(label).signing_cert, issuer)
        return response["response_bytes"]["response"].parsed["tbs_response_data"]["responses"][0]["cert_status"].name

    assert (status("individual"), status("revoked-employee")) == ("good", "revoked")


def test_intermediate_anchor_online(dev_pki, pki_server, dev_signer):
    anchor = [dev_pki.issuing_ca_cert]

    bad = verify_pdf(sign_pdf(tiny_pdf(), dev_signer("revoked-employee")), trust=anchor, policy=DEV_ONLINE)
    good = verify_pdf(sign_pdf(tiny_pdf(), dev_signer("individual")), trust=anchor, policy=DEV_ONLINE)

    assert bad.signatures[0].sub_indication is SubIndication.REVOKED
    assert good.indication is Indication.TOTAL_PASSED, good.signatures[0].notes


def _issuing_ca_crl(dev_pki, kind: str, revoked=()) -> bytes:
    """A CRL signed by the dev PKI's issuing CA, fresh now, listing ``revoked`` (serial
    numbers): ``complete``, a ``delta`` CRL, or one of partial scope (``user-only``,
    ``some-reasons``)."""
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization

    from signing.certload import load_certs

    key = serialization.load_pem_private_key(dev_pki.key_pem("issuing-ca").read_bytes(), password=None)
    issuer = cx509.load_der_x509_certificate(load_certs([dev_pki.issuing_ca_cert])[0].dump())
    now = datetime.now(timezone.utc)
    builder = (cx509.CertificateRevocationListBuilder().issuer_name(issuer.subject)
               .last_update(now - timedelta(minutes=5)).next_update(now + timedelta(days=1))
               .add_extension(cx509.CRLNumber(4242), critical=False))
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            cx509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now - timedelta(minutes=10)).build())
    if kind == "delta":
        builder = builder.add_extension(cx509.DeltaCRLIndicator(4241), critical=True)
    elif kind != "complete":
        builder = builder.add_extension(cx509.IssuingDistributionPoint(
            full_name=None, relative_name=None, only_contains_user_certs=kind == "user-only",
            only_contains_ca_certs=False, indirect_crl=False, only_contains_attribute_certs=False,
            only_some_reasons=frozenset({cx509.ReasonFlags.key_compromise}) if kind == "some-reasons" else None,
        ), critical=True)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize("kind", ["complete", "delta", "user-only", "some-reasons"])
def test_only_a_complete_crl_of_an_intermediate_anchor_proves_good_status(kind, dev_pki, dev_signer):
    """Online, with the signer's CRL and OCSP URLs dead, the only revocation data is a CRL of
    the issuing CA (the only anchor) given by the user. Listing nothing, only a complete CRL
    says "not revoked": a delta CRL or one of partial scope leaves the status unknown. Listing
    the signer, every kind says "revoked"."""
    individual, revoked = dev_signer("individual"), dev_signer("revoked-employee")
    dead = "http://127.0.0.1:9/"
    policy = FetchPolicy.online(allow_private=True, mirrors={dev_pki.ocsp_url: dead + "ocsp",
                                                             dev_pki.crl_url: dead + "crl"})
    anchor = [dev_pki.issuing_ca_cert]

    report = verify_pdf(sign_pdf(tiny_pdf(), individual), trust=anchor, policy=policy,
                        crls=[_issuing_ca_crl(dev_pki, kind)])
    sig = report.signatures[0]
    if kind == "complete":
        assert report.indication is Indication.TOTAL_PASSED, sig.notes
    else:
        assert (report.indication, sig.sub_indication) == (Indication.INDETERMINATE, SubIndication.TRY_LATER), sig.notes

    listed = verify_pdf(sign_pdf(tiny_pdf(), revoked), trust=anchor, policy=policy,
                        crls=[_issuing_ca_crl(dev_pki, kind, [revoked.signing_cert.serial_number])])
    assert (listed.indication, listed.signatures[0].sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
