"""The two layers together: a rendered kk+ru act, signed twice, stays PDF/A-2b and verifies;
signing leaves its metadata (the XMP packet the renderer wrote, the Info dictionary) as is."""
from __future__ import annotations

import io
import re
import subprocess

import pytest
from tests.signing.conftest import assert_pdfsig_all_valid
from pyhanko.pdf_utils.reader import PdfFileReader

from signing.model import Indication, Level
from signing.sign import sign_pdf
from signing.verify import verify_pdf

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rendered_act():
    """The kk+ru land-right act rendered to PDF/A-2b by LibreOffice, once for this module."""
    from docgen.convert import ConverterPool
    from docgen.examples import example_request
    from docgen.render import Renderer
    from docgen.request import parse_request

    pool = ConverterPool(1)
    try:
        yield Renderer(converter=pool, base_url="https://qujat.test").render(
            parse_request(example_request("land_right_act")))
    finally:
        pool.close()


def _current_metadata(pdf: bytes) -> tuple[bytes, dict]:
    """The decoded XMP stream and the Info dictionary of the file's latest revision (what
    a reader sees: the trailer's /Root /Metadata and /Info of the last update)."""
    reader = PdfFileReader(io.BytesIO(pdf))
    xmp = reader.root["/Metadata"].data
    info = reader.trailer_view.get("/Info")
    return xmp, ({} if info is None else dict(info.get_object()))


def test_signing_keeps_the_rendered_xmp_and_info_byte_identical(rendered_act, dev_pki, pki_server, dev_signer):
    unsigned_xmp, unsigned_info = _current_metadata(rendered_act.pdf)
    assert re.search(rb"pdfaid:part(=\"|>)2", unsigned_xmp)  # the renderer's PDF/A-2b packet
    signed = sign_pdf(rendered_act.pdf, dev_signer("enterprise-head"), level=Level.B_T,
                      tsa_url=dev_pki.tsa_url, certify=True)
    both = sign_pdf(signed, dev_signer("authority-head"), level=Level.B_LT, tsa_url=dev_pki.tsa_url)

    assert "/DSS" in PdfFileReader(io.BytesIO(both)).root  # the B-LT revision is covered too
    for pdf in (signed, both):
        xmp, info = _current_metadata(pdf)
        assert xmp == unsigned_xmp
        assert info == unsigned_info


def test_rendered_act_signed_b_t_then_b_lt_verifies_and_its_qr_decodes(rendered_act, dev_pki, pki_server, dev_signer,
                                                                    tmp_path):
    first = sign_pdf(rendered_act.pdf, dev_signer("enterprise-head"), level=Level.B_T, certify=True,
                     tsa_url=dev_pki.tsa_url, reason="Акт дайындалды / Акт изготовлен", location="Қаскелең")
    both = sign_pdf(first, dev_signer("authority-head"), level=Level.B_LT, tsa_url=dev_pki.tsa_url,
                    validation_context=None)
    assert_pdfsig_all_valid(both, tmp_path, expected=2)
    report = verify_pdf(both, trust=[dev_pki.root_cert])
    assert report.indication == Indication.TOTAL_PASSED, report.to_json()
    assert [s.level for s in report.signatures][0] in (Level.B_T, Level.B_LT)
    # the QR still decodes after signing
    path = tmp_path / "signed.pdf"
    path.write_bytes(both)
    subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", "-f", "1", "-l", "1", str(path),
                    str(tmp_path / "p")], check=True)
    page = next(tmp_path.glob("p*.png"))
    out = subprocess.run(["zbarimg", "--raw", "-q", str(page)], capture_output=True, text=True)
    assert out.stdout.split() == [rendered_act.verification_url]
