"""Hostile certificate sets: a file whose CMS, signature timestamp token, document timestamp
or DSS carries many CA certificates that share one subject made the chain builder try every
ordering of them (8 took 12 s of a core, 10 minutes) before answering "untrusted". The
verifier refuses such a file as malformed before it builds any chain (``signing.limits``):
each case below comes back within a generous CPU bound, with a problem that names the
certificates, and never TOTAL_PASSED. Honest files, with a CA, a TSA chain, a document
timestamp and a DSS, keep passing.

The loop of CAs is ``attacks_crypto.loop_of_cas``; the trusted PKI a throw-away ``RevCa``.
"""

from __future__ import annotations

import time

import pytest
from attacks_crypto import (
    DOCUMENT_SIGNING,
    add_document_timestamp,
    add_dss,
    dummy_timestamper,
    imprint,
    layers_of_cas,
    loop_of_cas,
    make_tsa,
    ocsp_carrying,
    set_tst_attributes,
    sign_with,
    token,
    tst_attribute,
)
from pdfs import tiny_pdf
from revpki import RevCa

from signing.limits import MAX_CERTS_PER_SUBJECT, MAX_DSS_CERTS, MAX_DSS_CRLS
from signing.model import Indication, Level, SubIndication
from signing.verify import verify_pdf

CPU_BOUND_S = 3.0  # a DoS bound, far above an honest file's ~10 ms and far below the >10 s before
LOOP = 8  # 8 same-subject CAs: 12 s of CPU before the limits


@pytest.fixture(scope="module")
def pki():
    """The trusted CA with a document signer and a TSA."""
    ca = RevCa("CERTSET TEST CA")
    return ca, ca.issue("ТЕСТОВ ТЕСТ", eku=[DOCUMENT_SIGNING]), make_tsa(ca, "CERTSET TEST TSA")


@pytest.fixture(scope="module")
def loop():
    """The attacker's loop of CAs, a document signer and a TSA below it."""
    holder, cas = loop_of_cas(LOOP)
    return cas, holder.issue("ТЕСТОВ ТЕСТ", eku=[DOCUMENT_SIGNING]), make_tsa(holder, "LOOP TSA")


@pytest.fixture(scope="module")
def honest(pki) -> bytes:
    ca, signer, _ = pki
    return sign_with(tiny_pdf(), signer, [ca.asn1])


def _verify(pdf: bytes, pki):
    """The report and the CPU seconds the verification took."""
    started = time.process_time()
    report = verify_pdf(pdf, trust=[pki[0].pem])
    return report, time.process_time() - started


def _refused(report, cpu: float, word: str = "certificates") -> str:
    """Every signature a format failure whose notes name ``word``; the notes, joined."""
    assert cpu < CPU_BOUND_S, f"{cpu:.1f} s of CPU"
    assert report.indication is not Indication.TOTAL_PASSED
    assert report.signatures
    notes = " ".join(n for s in report.signatures for n in s.notes)
    for s in report.signatures:
        assert (s.indication, s.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE), s
        assert word in " ".join(s.notes), s.notes
    return notes


def test_an_honest_file_with_a_tsa_chain_a_document_timestamp_and_a_dss_passes(pki):
    ca, signer, tsa = pki
    signed = sign_with(tiny_pdf(), signer, [ca.asn1], timestamper=dummy_timestamper(tsa, [ca.asn1]))
    archived = add_document_timestamp(add_dss(signed, [ca.asn1, signer.asn1, tsa.asn1], crls=[ca.crl()]),
                                      dummy_timestamper(tsa, [ca.asn1]))
    report, cpu = _verify(archived, pki)
    assert report.indication is Indication.TOTAL_PASSED, report.signatures
    assert report.signatures[0].level is Level.B_LTA
    assert [t.indication for t in report.timestamps] == [Indication.TOTAL_PASSED] * 2
    assert cpu < CPU_BOUND_S


def test_a_signature_whose_cms_carries_a_loop_of_cas_is_refused_at_once(pki, loop):
    cas, signer, _ = loop
    report, cpu = _verify(sign_with(tiny_pdf(), signer, cas), pki)
    notes = _refused(report, cpu)
    assert "LOOP CA" in notes and f"at most {MAX_CERTS_PER_SUBJECT}" in notes


def test_a_signature_timestamp_token_that_carries_a_loop_of_cas_is_refused_at_once(pki, loop, honest):
    cas, _, loop_tsa = loop
    hostile = set_tst_attributes(honest, lambda value: [tst_attribute(token(loop_tsa, imprint(value), certs=cas))])
    report, cpu = _verify(hostile, pki)
    assert "timestamp token" in _refused(report, cpu)


def test_a_document_timestamp_that_carries_a_loop_of_cas_is_refused_at_once(pki, loop, honest):
    cas, _, loop_tsa = loop
    report, cpu = _verify(add_document_timestamp(honest, dummy_timestamper(loop_tsa, cas)), pki)
    assert "document timestamp" in _refused(report, cpu)


def test_a_dss_that_carries_a_loop_of_cas_is_refused_at_once(pki, loop):
    cas, signer, _ = loop
    signed = sign_with(tiny_pdf(), signer)                  # the CMS holds the signer alone
    report, cpu = _verify(add_dss(signed, cas), pki)
    assert "LOOP CA" in _refused(report, cpu)


def test_an_ocsp_response_in_the_dss_that_carries_a_loop_of_cas_is_refused_at_once(pki, loop, honest):
    """Not slow today (this response is signed by the CA itself), but a delegated responder's
    chain is built from the certificates a response carries: they count with the file's."""
    ca, signer, _ = pki
    cas = loop[0]
    report, cpu = _verify(add_dss(honest, ocsps=[ocsp_carrying(ca, signer.cert, cas)]), pki)
    assert "LOOP CA" in _refused(report, cpu)


def test_a_dss_with_layers_of_few_same_named_cas_is_refused_at_once(pki):
    """Four certificates per name are within the per-name limit, but nine such names in a row
    give 4**9 candidate chains (8 s of CPU): the product of the choices is limited too."""
    holder, cas = layers_of_cas(9, 4)
    signed = sign_with(tiny_pdf(), holder.issue("ТЕСТОВ ТЕСТ", eku=[DOCUMENT_SIGNING]))
    report, cpu = _verify(add_dss(signed, cas), pki)
    assert "candidate chains" in _refused(report, cpu)


def test_a_dss_with_too_many_certificates_is_refused_at_once(pki, honest):
    ca = pki[0]
    many = [ca.issue(f"HOLDER {i}").asn1 for i in range(MAX_DSS_CERTS + 1)]
    report, cpu = _verify(add_dss(honest, many), pki)
    assert f"at most {MAX_DSS_CERTS}" in _refused(report, cpu)


def test_a_dss_with_too_many_crls_is_refused_at_once(pki, honest):
    crl = pki[0].crl()
    others = [RevCa(f"CRL ISSUER {i}").crl() for i in range(MAX_DSS_CRLS)]
    report, cpu = _verify(add_dss(honest, crls=[crl, *others]), pki)
    assert f"at most {MAX_DSS_CRLS}" in _refused(report, cpu, "CRLs")


def test_the_timestamp_checks_refuse_a_token_over_the_limits_on_their_own(pki, loop, honest):
    """``timestamps`` applies the rule too, where the TSA chains are built (the verifier checks
    the whole file before; this guards a caller that validates timestamps alone)."""
    import io
    from datetime import datetime, timezone

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko_certvalidator import ValidationContext

    from signing.timestamps import signature_timestamps

    cas, _, loop_tsa = loop
    hostile = set_tst_attributes(honest, lambda value: [tst_attribute(token(loop_tsa, imprint(value), certs=cas))])
    sig = PdfFileReader(io.BytesIO(hostile), strict=False).embedded_regular_signatures[0]
    started = time.process_time()
    stamps = signature_timestamps(sig, lambda moment: ValidationContext(trust_roots=[pki[0].asn1], moment=moment),
                                  datetime.now(timezone.utc))
    assert time.process_time() - started < CPU_BOUND_S
    [report] = stamps.reports
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert "LOOP CA" in report.reason and stamps.used is None


def test_extending_a_file_over_the_limits_to_b_lta_is_refused_at_once(pki, loop):
    from signing.errors import SigningError
    from signing.ltv import extend_to_blta

    cas, signer, _ = loop
    ca, _, tsa = pki
    started = time.process_time()
    with pytest.raises(SigningError, match="LOOP CA"):
        extend_to_blta(add_dss(sign_with(tiny_pdf(), signer), cas), timestamper=dummy_timestamper(tsa, [ca.asn1]),
                       trust_roots=[ca.asn1])
    assert time.process_time() - started < CPU_BOUND_S
