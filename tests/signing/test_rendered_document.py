"""The two layers together: a rendered kk+ru act, signed twice, stays PDF/A-2b and verifies."""
from __future__ import annotations

import re
import subprocess

import pytest
from conftest import assert_pdfsig_all_valid

from signing.model import Indication, Level
from signing.sign import sign_pdf
from signing.verify import verify_pdf

pytestmark = pytest.mark.slow


def test_rendered_act_signed_b_t_then_b_lt_verifies_and_keeps_pdfa(dev_pki, pki_server, dev_signer, tmp_path):
    from docgen.examples import example_request
    from docgen.convert import ConverterPool
    from docgen.render import Renderer
    from docgen.request import parse_request

    with ConverterPool(1) as pool:
        rendered = Renderer(converter=pool, base_url="https://qujat.test").render(
            parse_request(example_request("land_right_act")))
    first = sign_pdf(rendered.pdf, dev_signer("enterprise-head"), level=Level.B_T, certify=True,
                     tsa_url=dev_pki.tsa_url, reason="Акт дайындалды / Акт изготовлен", location="Қаскелең")
    both = sign_pdf(first, dev_signer("authority-head"), level=Level.B_LT, tsa_url=dev_pki.tsa_url,
                    validation_context=None)
    assert_pdfsig_all_valid(both, tmp_path, expected=2)
    assert re.search(rb"pdfaid:part(=\"|>)2", both) and re.search(rb"pdfaid:conformance(=\"|>)B", both)
    report = verify_pdf(both, trust=[dev_pki.root_cert])
    assert report.indication == Indication.TOTAL_PASSED, report.to_json()
    assert [s.level for s in report.signatures][0] in (Level.B_T, Level.B_LT)
    # the QR still decodes after signing
    path = tmp_path / "signed.pdf"
    path.write_bytes(both)
    subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", "-f", "1", "-l", "1", str(path), str(tmp_path / "p")], check=True)
    page = next(tmp_path.glob("p*.png"))
    out = subprocess.run(["zbarimg", "--raw", "-q", str(page)], capture_output=True, text=True)
    assert out.stdout.split() == [rendered.verification_url]
