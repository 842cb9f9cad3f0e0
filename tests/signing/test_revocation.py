"""Revocation: a revoked signer fails; a signature timestamped before the revocation
passes; CRLs of an intermediate trust anchor (the NCA case) are honoured.

The dev PKI serves CRL and OCSP on 127.0.0.1, so online checks here use a policy that
allows private addresses (never the setting of a public service)."""

from __future__ import annotations

from datetime import timedelta

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
    from signing.netfetch import fetch_ocsp

    issuer = load_certs([dev_pki.issuing_ca_cert])[0]

    def status(label):
        response = fetch_ocsp(dev_signer(label).signing_cert, issuer)
        return response["response_bytes"]["response"].parsed["tbs_response_data"]["responses"][0]["cert_status"].name

    assert (status("individual"), status("revoked-employee")) == ("good", "revoked")


def test_intermediate_anchor_online(dev_pki, pki_server, dev_signer):
    anchor = [dev_pki.issuing_ca_cert]

    bad = verify_pdf(sign_pdf(tiny_pdf(), dev_signer("revoked-employee")), trust=anchor, policy=DEV_ONLINE)
    good = verify_pdf(sign_pdf(tiny_pdf(), dev_signer("individual")), trust=anchor, policy=DEV_ONLINE)

    assert bad.signatures[0].sub_indication is SubIndication.REVOKED
    assert good.indication is Indication.TOTAL_PASSED, good.signatures[0].notes
