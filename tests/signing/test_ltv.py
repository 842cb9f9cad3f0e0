"""Extension of a signed version to B-LTA (issue 10, item 4): a DSS with the validation
data of the signer's and the TSAs' chains, then a document timestamp over the file.

The signer certificate here is short-lived: issued by the dev PKI's issuing CA (so its
CRL is the one the dev PKI serves), valid from an hour ago for ten more minutes. The
timeline of every test:

    issued        T0 - 1 h
    signed, B-T   T0        (signature timestamp from the dev TSA)
    extended      T0 + s    (DSS + document timestamp from the dev TSA)
    expires       T0 + 10 min
    verified      LATER = T0 + 10 min + 1 day, offline, revocation required

T0 is taken when this module's fixtures start. Nothing waits for the expiry:
``verify_pdf(at=LATER)`` places the verification after it. Offline with revocation
required is the archive's situation decades on (no CA answers any more, the file must
carry its own proof); the dev TSA's certificate is still valid at LATER.

Why one day: with revocation *required*, the newest document timestamp is validated
at the verification moment and needs revocation data fresh then; the DSS's CRLs are
issued for 1 (issuing CA) and 30 days (root). Everything older is validated at the
proof of existence that document timestamp gives (ETSI EN 319 102-1 past validation),
so years later, with the default soft-fail revocation policy (or fresh CRLs given),
the same file still passes: ``test_years_later_passes_with_proof_of_existence`` and
tests/signing/test_verify_lta.py.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pdfs import tiny_pdf
from pyhanko.pdf_utils.reader import PdfFileReader
from revpki import SIGNING_KEY_USAGE, Leaf, RevCa, closed_port, signer_for, to_asn1
from tests.signing.conftest import assert_pdfsig_all_valid

from signing.certload import load_certs
from signing.errors import NotAPdfError, SigningError
from signing.ltv import extend_to_blta
from signing.model import Indication, Level, SubIndication, TimestampKind
from signing.netfetch import FetchPolicy
from signing.sign import sign_pdf, timestamper_for
from signing.verify import verify_pdf

DEV_FETCH = FetchPolicy(enabled=True, allow_private=True)  # the dev PKI serves CRL/OCSP on loopback


@dataclass(frozen=True)
class Timeline:
    t0: datetime

    @property
    def expires(self) -> datetime:
        return self.t0 + timedelta(minutes=10)

    @property
    def later(self) -> datetime:
        return self.expires + timedelta(days=1)


@pytest.fixture(scope="module")
def timeline() -> Timeline:
    """T0 is when this module's fixtures start (not collection time: the suite may run long)."""
    return Timeline(datetime.now(timezone.utc).replace(microsecond=0))


@pytest.fixture(scope="module")
def short_lived(dev_pki, timeline):
    """A pyHanko signer whose certificate the dev issuing CA issued for 70 minutes."""
    T0, EXPIRES, LATER = timeline.t0, timeline.expires, timeline.later
    ca_cert = load_certs([dev_pki.issuing_ca_cert])[0]
    ca_key = serialization.load_pem_private_key(dev_pki.key_pem("issuing-ca").read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"), x509.NameAttribute(NameOID.COMMON_NAME, "ҚЫСҚА МЕРЗІМ"),
        ]))
        .issuer_name(x509.load_der_x509_certificate(ca_cert.dump()).subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0 - timedelta(hours=1))
        .not_valid_after(EXPIRES)
        .add_extension(SIGNING_KEY_USAGE, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.CRLDistributionPoints([
            x509.DistributionPoint([x509.UniformResourceIdentifier(dev_pki.crl_url)], None, None, None),
        ]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    assert cert.not_valid_after_utc == EXPIRES < LATER
    return signer_for(Leaf(key, cert), [ca_cert])


@pytest.fixture(scope="module")
def original():
    return tiny_pdf("Archive", pdfa=True)


@pytest.fixture(scope="module")
def b_t(original, short_lived, dev_pki, pki_server):
    return sign_pdf(original, short_lived, level="B-T", tsa_url=dev_pki.tsa_url)


@pytest.fixture(scope="module")
def b_lta(b_t, dev_pki, pki_server):
    return extend_to_blta(
        b_t, timestamper=timestamper_for(dev_pki.tsa_url), trust_roots=[dev_pki.root_cert], policy=DEV_FETCH
    )


def _archive_verify(pdf: bytes, dev_pki, timeline: Timeline):
    """After the signer certificate expired, offline, revocation data required."""
    return verify_pdf(pdf, trust=[dev_pki.root_cert], at=timeline.later, require_revocation=True)


def test_extended_version_passes_b_lta_after_the_signer_certificate_expired(b_lta, dev_pki, timeline, tmp_path):
    EXPIRES, LATER = timeline.expires, timeline.later
    report = _archive_verify(b_lta, dev_pki, timeline)

    [sig] = report.signatures
    assert report.indication is Indication.TOTAL_PASSED, (sig.notes, report.timestamps)
    assert sig.level is Level.B_LTA
    assert sig.timestamp_time < EXPIRES < LATER
    listed = [(t.kind, t.indication, t.used) for t in report.timestamps]
    assert listed == [
        (TimestampKind.SIGNATURE, Indication.TOTAL_PASSED, True),
        (TimestampKind.DOCUMENT, Indication.TOTAL_PASSED, True),
    ]
    doc = report.timestamps[1]
    assert doc.field == "DocTimeStamp1" and "TSA ҰКО DEV (RSA)" in doc.tsa
    assert sig.timestamp_time <= doc.time < EXPIRES
    out = assert_pdfsig_all_valid(b_lta, tmp_path, expected=1)  # poppler checks the signature, not the stamp
    assert "Signature Field Name: Signature1" in out and "Signature Field Name: DocTimeStamp1" in out


def test_same_version_without_the_extension_does_not_pass(b_t, short_lived, original, dev_pki, pki_server,
                                                           timeline):
    unextended = _archive_verify(b_t, dev_pki, timeline)
    b_b = verify_pdf(sign_pdf(original, short_lived, level="B-B"), trust=[dev_pki.root_cert], at=timeline.later)

    assert unextended.indication is Indication.INDETERMINATE  # no revocation data in the file
    assert unextended.signatures[0].level is not Level.B_LTA
    # a B-B copy has no proof it existed before the expiry, even with lenient revocation
    assert (b_b.indication, b_b.signatures[0].sub_indication) == (
        Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE,
    )



def test_years_later_passes_with_proof_of_existence(b_lta, dev_pki, timeline):
    """Five years on (the dev TSA's certificate is still valid, the CRLs in the DSS are long
    past their next update): the document timestamp, valid now, proves that the signature,
    its timestamp and the DSS existed at its time, and they are validated at that time."""
    five_years = timeline.t0 + timedelta(days=5 * 365)
    report = verify_pdf(b_lta, trust=[dev_pki.root_cert], at=five_years)

    [sig] = report.signatures
    assert report.indication is Indication.TOTAL_PASSED, (sig.notes, report.timestamps)
    assert sig.level is Level.B_LTA
    sig_ts, doc_ts = report.timestamps
    assert doc_ts.validated_at == five_years  # the newest document timestamp: at the verification moment
    assert sig_ts.validated_at == doc_ts.time  # the signature timestamp: at its proof of existence
    assert sig.timestamp_time == sig_ts.time < timeline.expires


def _metadata(pdf: bytes) -> tuple[bytes, dict]:
    reader = PdfFileReader(io.BytesIO(pdf))
    info = reader.trailer_view.get("/Info")
    return reader.root["/Metadata"].data, ({} if info is None else dict(info.get_object()))


def test_extension_is_one_incremental_update_that_keeps_the_pdfa_metadata(original, b_t, b_lta):
    assert b_lta.startswith(b_t)
    assert _metadata(b_lta) == _metadata(original)
    reader = PdfFileReader(io.BytesIO(b_lta))
    dss = reader.root["/DSS"]
    assert len(dss["/Certs"]) >= 4 and len(dss["/CRLs"]) >= 2  # signer, issuing CA, TSA, root; two CRLs
    assert [ts.field_name for ts in reader.embedded_timestamp_signatures] == ["DocTimeStamp1"]
    assert reader.xrefs.total_revisions == PdfFileReader(io.BytesIO(b_t)).xrefs.total_revisions + 1


def test_extending_again_adds_a_renewal_timestamp(b_lta, original, dev_pki, pki_server, timeline):
    renewed = extend_to_blta(
        b_lta, timestamper=timestamper_for(dev_pki.tsa_url), trust_roots=[dev_pki.root_cert], policy=DEV_FETCH
    )

    report = _archive_verify(renewed, dev_pki, timeline)
    assert report.indication is Indication.TOTAL_PASSED, report.signatures[0].notes
    assert report.signatures[0].level is Level.B_LTA
    docs = [t for t in report.timestamps if t.kind is TimestampKind.DOCUMENT]
    assert [(t.field, t.indication) for t in docs] == [
        ("DocTimeStamp1", Indication.TOTAL_PASSED), ("DocTimeStamp2", Indication.TOTAL_PASSED),
    ]
    assert _metadata(renewed) == _metadata(original)


def test_unsigned_or_broken_input_is_refused(original, dev_pki, pki_server):
    tsa = timestamper_for(dev_pki.tsa_url)
    with pytest.raises(SigningError, match="no signature"):
        extend_to_blta(original, timestamper=tsa, trust_roots=[dev_pki.root_cert])
    with pytest.raises(NotAPdfError):
        extend_to_blta(b"GIF89a", timestamper=tsa, trust_roots=[dev_pki.root_cert])


def test_chain_that_does_not_reach_the_anchors_is_refused(b_t, dev_pki, pki_server):
    stranger = RevCa("SOME OTHER ROOT")

    with pytest.raises(SigningError, match="does not validate"):
        extend_to_blta(b_t, timestamper=timestamper_for(dev_pki.tsa_url), trust_roots=[stranger.asn1],
                       policy=DEV_FETCH)


def test_missing_revocation_data_is_refused(b_t, dev_pki, pki_server):
    """Offline and no CRL given: an archive copy without revocation data is not made."""
    with pytest.raises(SigningError, match="does not validate"):
        extend_to_blta(b_t, timestamper=timestamper_for(dev_pki.tsa_url), trust_roots=[dev_pki.root_cert])


# --- the CLI ------------------------------------------------------------------------------------


def run(argv: list[str]) -> int:
    import argparse

    from signing.cli import register

    parser = argparse.ArgumentParser(prog="qujat")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_extend_writes_a_b_lta_file(b_t, dev_pki, pki_server, timeline, tmp_path, capsys):
    src, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
    src.write_bytes(b_t)

    rc = run(["extend", str(src), "--out", str(out), "--tsa", dev_pki.tsa_url,
              "--trust", str(dev_pki.root_cert), "--allow-private-network"])

    assert rc == 0, capsys.readouterr().err
    assert "B-LTA" in capsys.readouterr().out
    report = _archive_verify(out.read_bytes(), dev_pki, timeline)
    assert report.indication is Indication.TOTAL_PASSED and report.signatures[0].level is Level.B_LTA


@pytest.mark.parametrize("case", ["unsigned", "not-a-pdf", "tsa-unreachable", "untrusted", "missing-file"])
def test_cli_extend_bad_input_exits_2_with_a_message(case, b_t, original, dev_pki, pki_server, tmp_path, capsys):
    src, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
    src.write_bytes({"unsigned": original, "not-a-pdf": b"not a pdf"}.get(case, b_t))
    tsa = f"http://127.0.0.1:{closed_port()}/tsa" if case == "tsa-unreachable" else dev_pki.tsa_url
    trust = tmp_path / "other-root.pem"
    trust.write_bytes(RevCa("SOME OTHER ROOT").pem)
    argv = ["extend", str(tmp_path / "absent.pdf" if case == "missing-file" else src), "--out", str(out),
            "--tsa", tsa, "--trust", str(trust if case == "untrusted" else dev_pki.root_cert),
            "--allow-private-network"]

    rc = run(argv)

    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("qujat: ") and "Traceback" not in err
    expected = {"unsigned": "no signature", "not-a-pdf": "not a PDF", "tsa-unreachable": "unreachable",
                "untrusted": "does not validate", "missing-file": "absent.pdf"}[case]
    assert expected in err
    assert not out.exists()
