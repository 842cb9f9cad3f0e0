"""Real NCA RK test material: the RSA test key signs and verifies at a moment inside
its validity; GOST certificates are parsed and GOST signatures reported, not crashed on."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from asn1crypto import algos, pem, x509
from conftest import REPO, assert_pdfsig_all_valid
from pdfs import tiny_pdf
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.signers.pdf_cms import Signer

from signing.keys import load_pkcs12
from signing.model import Indication, SubIndication
from signing.ncacert import signer_fields
from signing.sign import sign_pdf
from signing.verify import parse_moment, verify_pdf

NCA_PASSWORD = b"Qwerty12"  # published test password of the NCA dummy person (README)


@pytest.fixture(scope="module")
def nca_signed(nca_dir):
    signer = load_pkcs12(nca_dir / "individual_rsa_sign_valid_2021.p12", NCA_PASSWORD)
    return sign_pdf(tiny_pdf(), signer, reason="NCA test key")


def _verify_nca(pdf, nca_dir, at):
    return verify_pdf(pdf, trust=[nca_dir / "nca_rsa_test_ca.pem"], at=parse_moment(at))


def test_nca_key_verifies_inside_validity(nca_signed, nca_dir, tmp_path):
    report = _verify_nca(nca_signed, nca_dir, "2021-06-01T00:00:00Z")

    sig = report.signatures[0]
    assert report.indication is Indication.TOTAL_PASSED, sig.notes
    assert sig.signer.iin == "123456789011"
    assert sig.signer.common_name == "ТЕСТОВ ТЕСТ"
    assert sig.signer.roles == ("individual",)
    assert sig.signer.iin_valid is False  # NCA's dummy IIN fails the check digit: reported, flagged
    assert_pdfsig_all_valid(nca_signed, tmp_path, expected=1)


def test_nca_key_after_expiry_is_not_passed(nca_signed, nca_dir):
    report = _verify_nca(nca_signed, nca_dir, "2023-01-01T00:00:00Z")

    assert report.indication is not Indication.TOTAL_PASSED
    assert report.signatures[0].sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE


def test_cli_verify_exit_status_and_json(nca_signed, nca_dir, tmp_path):
    pdf = tmp_path / "nca.pdf"
    pdf.write_bytes(nca_signed)
    base = [sys.executable, "-m", "signing", "verify", str(pdf), "--trust", str(nca_dir / "nca_rsa_test_ca.pem")]

    ok = subprocess.run([*base, "--at", "2021-06-01T00:00:00Z", "--json"], capture_output=True, text=True, cwd=REPO)
    expired = subprocess.run([*base, "--at", "2023-01-01T00:00:00Z"], capture_output=True, text=True, cwd=REPO)

    assert ok.returncode == 0, ok.stderr
    body = json.loads(ok.stdout)
    assert body["indication"] == "TOTAL_PASSED"
    assert set(body["signatures"][0]) == {
        "field", "indication", "sub_indication", "intact", "covers_whole_document",
        "modified_after_signing", "trusted", "revoked", "signing_time", "timestamp_time", "level", "signer",
    }
    assert body["signatures"][0]["signer"] == {
        "common_name": "ТЕСТОВ ТЕСТ", "iin": "123456789011", "bin": "", "organization": "", "roles": ["individual"],
    }
    assert expired.returncode == 1
    assert "OUT_OF_BOUNDS_NO_POE" in expired.stdout


def _load(path):
    data = path.read_bytes()
    return x509.Certificate.load(pem.unarmor(data)[2] if pem.detect(data) else data)


@pytest.mark.parametrize(
    "name, iin, bin_, org, roles",
    [
        ("ceo_gost2004_sign.cer", "123456789011", "123456789021", 'АО "ТЕСТ"', ("organization", "ceo")),
        ("ceo_gost2015.pem", "123456789011", "123456789021", 'АО "ТЕСТ"', ("organization", "ceo")),
        ("individual_gost2015.pem", "123456789012", "", "", ("individual",)),
    ],
)
def test_gost_certificates_are_parsed_nca_style(nca_dir, name, iin, bin_, org, roles):
    fields = signer_fields(_load(nca_dir / name))

    assert (fields.iin, fields.bin, fields.organization, fields.roles) == (iin, bin_, org, roles)


class _GostLookalikeSigner(Signer):
    """Produces a CMS naming a GOST certificate and GOST 34.10-2015 algorithm, with a
    dummy signature value: what a Kalkan-signed PDF looks like to us."""

    async def async_sign_raw(self, data, digest_algorithm, dry_run=False):
        return bytes(128)


def test_gost_signature_is_indeterminate_not_a_crash(nca_dir):
    cert = _load(nca_dir / "ceo_gost2015.pem")
    signer = _GostLookalikeSigner(
        signing_cert=cert,
        signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "1.2.398.3.10.1.1.2.3.2"}),
    )
    out = io.BytesIO()
    PdfSigner(PdfSignatureMetadata(field_name="Signature1", md_algorithm="sha512"), signer=signer).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(tiny_pdf())), output=out, bytes_reserved=8192
    )

    report = verify_pdf(out.getvalue(), trust=[nca_dir / "nca_rsa_test_ca.pem"], online=False)

    sig = report.signatures[0]
    assert report.indication is Indication.INDETERMINATE
    assert sig.sub_indication is SubIndication.CRYPTO_CONSTRAINTS_FAILURE
    assert "GOST" in sig.notes[0]
    assert (sig.signer.iin, sig.signer.bin, sig.signer.roles) == ("123456789011", "123456789021", ("organization", "ceo"))
