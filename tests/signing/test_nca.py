"""Real NCA RK test material (tests/data/nca): the RSA test key signs and verifies at a
moment inside its validity; GOST certificates are parsed and GOST signatures reported,
not crashed on; the NCA's own recorded OCSP answer, served from loopback or found in a
document, is dropped with a note instead of crashing verification. No public host is
contacted: online checks go to a local responder through a URL mirror."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from asn1crypto import algos, pem, x509
from tests.signing.conftest import REPO, assert_pdfsig_all_valid
from pdfs import tiny_pdf
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.signers.pdf_cms import Signer

from revpki import Responder

from signing.keys import load_pkcs12
from signing.model import FetchOutcome, Indication, SubIndication
from signing.ncacert import signer_fields
from signing.netfetch import FetchPolicy
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
    base = [
        sys.executable, "-m", "signing", "verify", str(pdf), "--trust", str(nca_dir / "nca_rsa_test_ca.pem"), "--offline",
    ]

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


def test_nca_online_through_a_mirror_drops_the_real_ocsp_answer(nca_signed, nca_dir):
    """The NCA test responder's recorded answer is signed by a certificate whose
    OCSP-no-check extension is empty (asn1crypto cannot parse it); it used to crash
    verification. Served from loopback in place of test.pki.gov.kz, it is dropped with a
    note; with no CRL either, the status is unknown: INDETERMINATE / TRY_LATER."""
    recorded = (nca_dir / "ocsp_response_individual_rsa_sign_valid.der").read_bytes()
    with Responder() as nca:
        nca.routes["/ocsp/"] = (200, recorded, {"Content-Type": "application/ocsp-response"})
        nca.routes["/crl/nca_rsa_test.crl"] = (503, b"")
        policy = FetchPolicy.online(allow_private=True, mirrors={"http://test.pki.gov.kz/": nca.url("/")})

        report = _verify_nca_with(nca_signed, nca_dir, "2021-06-01T00:00:00Z", policy)

        assert sorted(s.path for s in nca.seen) == ["/crl/nca_rsa_test.crl", "/ocsp/"]
    sig = report.signatures[0]
    assert (sig.indication, sig.sub_indication) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    assert sig.intact and sig.signer.iin == "123456789011"
    notes = {(f.kind, f.url, f.outcome, f.reason) for f in report.fetches}
    assert notes == {
        ("ocsp", "http://test.pki.gov.kz/ocsp/", FetchOutcome.FAILED, "response is not a usable OCSP answer"),
        ("crl", "http://test.pki.gov.kz/crl/nca_rsa_test.crl", FetchOutcome.FAILED, "HTTP status 503"),
    }


def _verify_nca_with(pdf, nca_dir, at, policy):
    return verify_pdf(pdf, trust=[nca_dir / "nca_rsa_test_ca.pem"], at=parse_moment(at), policy=policy)


def test_nca_ocsp_answer_in_the_dss_is_dropped_not_a_crash(nca_signed, nca_dir):
    """The same answer stored in a document's DSS (as a B-LT file made elsewhere may
    hold it) raised ValueError out of verify_pdf before; now it is noted and ignored."""
    from asn1crypto import ocsp
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    recorded = ocsp.OCSPResponse.load((nca_dir / "ocsp_response_individual_rsa_sign_valid.der").read_bytes())
    writer = IncrementalPdfFileWriter(io.BytesIO(nca_signed))
    DocumentSecurityStore.supply_dss_in_writer(writer, None, ocsps=[recorded])
    out = io.BytesIO()
    writer.write(out)

    report = _verify_nca(out.getvalue(), nca_dir, "2021-06-01T00:00:00Z")

    assert report.indication is Indication.TOTAL_PASSED, report.signatures[0].notes
    assert [(f.kind, f.outcome, f.reason) for f in report.fetches] == [
        ("dss", FetchOutcome.FAILED, "an OCSP response in the document cannot be used"),
        ("dss", FetchOutcome.FAILED, "a certificate in the document cannot be parsed"),  # its responder cert
    ]


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
