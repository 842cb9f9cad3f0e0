"""Each kind of tampering is caught, and multi-signature documents behave."""

from __future__ import annotations

import pytest
from tests.signing.conftest import assert_pdfsig_all_valid
from pdfs import change_page_text, tiny_pdf

from signing.errors import NotAPdfError
from signing.model import Indication, SubIndication
from signing.pki import init_dev_pki
from signing.sign import sign_pdf
from signing.verify import verify_pdf


@pytest.fixture(scope="module")
def signed(dev_signer):
    return sign_pdf(tiny_pdf(), dev_signer())


def _verify(pdf, dev_pki):
    return verify_pdf(pdf, trust=[dev_pki.root_cert], online=False)


def test_untouched_signature_passes(signed, dev_pki):
    assert _verify(signed, dev_pki).indication is Indication.TOTAL_PASSED


def test_one_byte_changed_inside_signed_range_fails(signed, dev_pki):
    pos = signed.index(b"(Hello 1)") + 1
    tampered = signed[:pos] + b"J" + signed[pos + 1:]

    report = _verify(tampered, dev_pki)

    sig = report.signatures[0]
    assert report.indication is Indication.TOTAL_FAILED
    assert sig.intact is False
    assert sig.sub_indication is SubIndication.HASH_FAILURE


def test_incremental_update_changing_page_content_is_a_modification(signed, dev_pki):
    report = _verify(change_page_text(signed), dev_pki)

    sig = report.signatures[0]
    assert sig.intact is True  # the signed bytes are untouched ...
    assert sig.modified_after_signing is True  # ... but the document is not what was signed
    assert report.indication is not Indication.TOTAL_PASSED


def test_bytes_outside_the_signed_range_are_not_covered(signed, dev_pki):
    report = _verify(signed + b"\n1 0 obj (appended, unsigned) endobj\n", dev_pki)

    sig = report.signatures[0]
    assert sig.covers_whole_document is False
    assert report.indication is not Indication.TOTAL_PASSED


def test_untrusted_root_is_indeterminate_no_chain(signed, tmp_path_factory):
    other = init_dev_pki(tmp_path_factory.mktemp("other-pki"))

    report = verify_pdf(signed, trust=[other.root_cert], online=False)

    sig = report.signatures[0]
    assert report.indication is Indication.INDETERMINATE
    assert sig.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert sig.trusted is False and sig.intact is True


def test_pdf_without_signature_is_not_passed(dev_pki):
    report = _verify(tiny_pdf(), dev_pki)

    assert report.signatures == ()
    assert report.indication is Indication.INDETERMINATE
    assert report.as_dict() == {"indication": "INDETERMINATE", "signatures": [], "fetches": [], "timestamps": []}


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 a zip file", b"%PDF-1.7\n garbage without objects"])
def test_not_a_pdf_is_a_clear_error(data, dev_pki):
    with pytest.raises(NotAPdfError, match="PDF"):
        _verify(data, dev_pki)


def test_two_sequential_signatures_both_verify(dev_pki, dev_signer, tmp_path):
    first = sign_pdf(tiny_pdf(pdfa=True), dev_signer("enterprise-head"), certify=True, reason="Дайындады")
    both = sign_pdf(first, dev_signer("authority-head"), reason="Бекітті")

    report = _verify(both, dev_pki)

    assert [s.field for s in report.signatures] == ["Signature1", "Signature2"]
    assert [s.indication for s in report.signatures] == [Indication.TOTAL_PASSED] * 2
    assert [s.signer.common_name for s in report.signatures] == ["ЖАНДОСОВ АЙДАР", "ОМАРОВА ДИНАРА"]
    assert report.signatures[0].modified_after_signing is False
    assert_pdfsig_all_valid(both, tmp_path, expected=2)


def test_certified_document_with_forbidden_change_fails(dev_pki, dev_signer):
    certified = sign_pdf(tiny_pdf(), dev_signer(), certify=True)
    assert _verify(certified, dev_pki).indication is Indication.TOTAL_PASSED

    report = _verify(change_page_text(certified), dev_pki)

    assert report.indication is Indication.TOTAL_FAILED
    assert report.signatures[0].modified_after_signing is True


def test_signing_keeps_pdfa_identification(dev_signer):
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    original = tiny_pdf(pdfa=True)
    signed = sign_pdf(sign_pdf(original, dev_signer(), certify=True), dev_signer("authority-head"))

    root = PdfFileReader(io.BytesIO(signed)).root
    xmp = root["/Metadata"].data
    assert b"<pdfaid:part>2</pdfaid:part>" in xmp and b"<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert root["/OutputIntents"][0]["/S"] == "/GTS_PDFA1"
    assert signed.startswith(original)  # incremental: the PDF/A original is byte-for-byte intact
