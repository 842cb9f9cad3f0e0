"""Two-step signing (signing.deferred): prepare -> a CMS made elsewhere (``qujat sign-digest``,
a real subprocess, or ``make_detached_cms``) -> embed -> our verifier, poppler's pdfsig, the
PDF/A XMP byte-identical; and every refusal leaves the prepared state as it was."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import io
import subprocess
import sys

import pytest
from asn1crypto import cms, core
from cryptography import x509
from pdfs import tiny_pdf
from pyhanko.pdf_utils.reader import PdfFileReader
from revpki import RevCa
from tests.signing.conftest import REPO, assert_pdfsig_all_valid

from signing.deferred import (
    AlreadySigned,
    BadCms,
    BadState,
    DigestMismatch,
    KeyPurposeRefused,
    Prepared,
    SignatureInvalid,
    TooLarge,
    UntrustedSigner,
    embed,
    make_detached_cms,
    prepare,
)
from signing.keys import load_pkcs12
from signing.model import Indication, Level
from signing.sign import timestamper_for
from signing.verify import parse_moment, verify_pdf

NCA_PASSWORD = b"Qwerty12"  # published test password of the NCA dummy person
NCA_MOMENT = "2021-06-01T00:00:00Z"  # inside the NCA test key's validity
NCA_P12 = "individual_rsa_sign_valid_2021.p12"
# keyUsage of an NCA authentication certificate: digitalSignature + keyEncipherment, no nonRepudiation
AUTH_KEY_USAGE = x509.KeyUsage(True, False, True, False, False, False, False, False, False)


def _xmp(pdf: bytes) -> bytes:
    return PdfFileReader(io.BytesIO(pdf)).root["/Metadata"].data


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def pdfa() -> bytes:
    return tiny_pdf(pdfa=True)


@pytest.fixture(scope="module")
def nca_signer(nca_dir):
    return load_pkcs12(nca_dir / NCA_P12, NCA_PASSWORD)


@pytest.fixture(scope="module")
def nca_at():
    return parse_moment(NCA_MOMENT)


def _sign_digest_cli(digest_b64: str, p12, password_file, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "signing", "sign-digest", "--pkcs12", str(p12), "--password-file", str(password_file),
         "--digest", digest_b64, *extra],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )


def test_nca_key_prepare_cli_sign_digest_embed_verifies(pdfa, nca_dir, nca_signer, nca_at, tmp_path):
    password_file = tmp_path / "pw"
    password_file.write_bytes(NCA_PASSWORD + b"\n")
    prepared = prepare(pdfa, signer_cert=nca_signer.signing_cert)
    stored = Prepared.from_json(prepared.to_json())  # what a server keeps between the two HTTP calls
    assert stored == prepared

    proc = _sign_digest_cli(stored.digest_b64, nca_dir / NCA_P12, password_file, "--signing-time", NCA_MOMENT)

    assert proc.returncode == 0, proc.stderr
    assert NCA_PASSWORD.decode() not in proc.stdout + proc.stderr
    der = base64.b64decode(proc.stdout.strip().splitlines()[-1], validate=True)
    signed = embed(stored, der, trust=[nca_dir / "nca_rsa_test_ca.pem"], at=nca_at)
    report = verify_pdf(signed, trust=[nca_dir / "nca_rsa_test_ca.pem"], at=nca_at)
    assert report.indication is Indication.TOTAL_PASSED, report.signatures[0].notes
    assert report.signatures[0].signer.iin == "123456789011"
    assert report.signatures[0].covers_whole_document
    assert_pdfsig_all_valid(signed, tmp_path, expected=1)
    assert _xmp(signed) == _xmp(pdfa)
    assert signed.startswith(pdfa)  # an incremental update


def test_two_dev_signers_in_sequence_both_stay_valid(pdfa, dev_pki, dev_signer, tmp_path):
    head, official = dev_signer("enterprise-head"), dev_signer("authority-head")
    first = prepare(pdfa, signer_cert=head.signing_cert, certify=True)
    once = embed(first, make_detached_cms(first.digest, head), trust=[dev_pki.root_cert])
    second = prepare(once, signer_cert=official.signing_cert)

    both = embed(second, make_detached_cms(second.digest, official), trust=[dev_pki.root_cert])

    assert (first.field_name, second.field_name) == ("Signature1", "Signature2")
    report = verify_pdf(both, trust=[dev_pki.root_cert])
    assert [s.indication for s in report.signatures] == [Indication.TOTAL_PASSED] * 2, [
        s.notes for s in report.signatures]
    assert [s.signer.common_name for s in report.signatures] == [
        head.signing_cert.subject.native["common_name"], official.signing_cert.subject.native["common_name"]]
    assert_pdfsig_all_valid(both, tmp_path, expected=2)
    assert _xmp(both) == _xmp(pdfa)


def test_cms_with_its_own_signature_timestamp_embeds_as_b_t(pdfa, dev_pki, pki_server, dev_signer, tmp_path):
    """NCALayer may add a TSP token as an unsigned attribute: it fits the default
    reservation and the result verifies at B-T."""
    signer = dev_signer("individual")
    prepared = prepare(pdfa, signer_cert=signer.signing_cert)
    with_token = asyncio.run(signer.async_sign(
        prepared.digest, "sha256", use_pades=True, timestamper=timestamper_for(dev_pki.tsa_url)))

    signed = embed(prepared, with_token.dump(), trust=[dev_pki.root_cert])

    report = verify_pdf(signed, trust=[dev_pki.root_cert])
    assert report.indication is Indication.TOTAL_PASSED, report.signatures[0].notes
    assert report.signatures[0].level is Level.B_T
    assert_pdfsig_all_valid(signed, tmp_path, expected=1)


# --- refusals: each names the problem and leaves the prepared bytes as they were ----------


@pytest.fixture()
def prepared_nca(pdfa, nca_signer):
    prepared = prepare(pdfa, signer_cert=nca_signer.signing_cert)
    return prepared, _sha(prepared.pdf)


def _refused(prepared: Prepared, sha: str, der: bytes, error: type, match: str, **kwargs) -> None:
    with pytest.raises(error, match=match):
        embed(prepared, der, **kwargs)
    assert _sha(prepared.pdf) == sha


def test_cms_over_another_digest_is_refused(prepared_nca, nca_signer, nca_at):
    prepared, sha = prepared_nca
    other = make_detached_cms(hashlib.sha256(b"another document").digest(), nca_signer, signing_time=nca_at)
    _refused(prepared, sha, other, DigestMismatch, "not this document's")


@pytest.mark.parametrize("cut", [1, 100, 1000])
def test_truncated_cms_is_refused(prepared_nca, nca_signer, nca_at, cut):
    prepared, sha = prepared_nca
    der = make_detached_cms(prepared.digest, nca_signer, signing_time=nca_at)
    _refused(prepared, sha, der[:-cut], BadCms, "cannot be parsed")


def test_garbage_and_non_detached_cms_are_refused(prepared_nca):
    prepared, sha = prepared_nca
    _refused(prepared, sha, b"\x00" * 64, BadCms, "cannot be parsed")
    data = cms.ContentInfo({"content_type": "data", "content": b"x"}).dump()
    _refused(prepared, sha, data, BadCms, "not signed data")


def test_cms_with_a_forged_signature_value_is_refused(prepared_nca, nca_signer, nca_at):
    prepared, sha = prepared_nca
    info = cms.ContentInfo.load(make_detached_cms(prepared.digest, nca_signer, signing_time=nca_at))
    si = info["content"]["signer_infos"][0]
    value = bytearray(si["signature"].native)
    value[10] ^= 1
    si["signature"] = core.OctetString(bytes(value))
    _refused(prepared, sha, info.dump(force=True), SignatureInvalid, "does not verify")


def test_certificate_without_signing_key_usage_is_refused(pdfa):
    ca = RevCa()
    auth = ca.issue("ТЕСТОВ АУТЕНТИФИКАЦИЯ", key_usage=AUTH_KEY_USAGE)
    prepared = prepare(pdfa, signer_cert=auth.cert)
    sha = _sha(prepared.pdf)
    der = make_detached_cms(prepared.digest, (auth.key, auth.cert))
    _refused(prepared, sha, der, KeyPurposeRefused, "nonRepudiation")
    # the same CA's signing certificate is accepted
    good = ca.issue("ТЕСТОВ ТЕСТ")
    prepared = prepare(pdfa, signer_cert=good.cert)
    assert embed(prepared, make_detached_cms(prepared.digest, (good.key, good.cert)), trust=[ca.asn1])


def test_untrusted_or_expired_signer_is_refused_when_trust_is_given(prepared_nca, nca_dir, nca_signer, nca_at):
    prepared, sha = prepared_nca
    der = make_detached_cms(prepared.digest, nca_signer, signing_time=nca_at)
    _refused(prepared, sha, der, UntrustedSigner, "trust anchor", trust=[RevCa().asn1], at=nca_at)
    # the NCA test key expired in 2022: trusted only at a moment inside its validity
    _refused(prepared, sha, der, UntrustedSigner, "trust anchor", trust=[nca_dir / "nca_rsa_test_ca.pem"])


def test_same_cms_submitted_twice_is_refused(pdfa, nca_signer, nca_at):
    prepared = prepare(pdfa, signer_cert=nca_signer.signing_cert)
    der = make_detached_cms(prepared.digest, nca_signer, signing_time=nca_at)
    signed = embed(prepared, der)
    # the server stored the signed file over the state: the placeholder is filled now
    stored_over = dataclasses.replace(prepared, pdf=signed)
    _refused(stored_over, _sha(signed), der, AlreadySigned, "already holds a signature")
    # the next signer's state: the first signer's CMS signs another digest
    following = prepare(signed, signer_cert=nca_signer.signing_cert)
    _refused(following, _sha(following.pdf), der, DigestMismatch, "not this document's")


def test_cms_too_large_for_the_reservation_is_refused(pdfa, nca_signer, nca_at):
    prepared = prepare(pdfa, reserve=1024)
    der = make_detached_cms(prepared.digest, nca_signer, signing_time=nca_at)
    _refused(prepared, _sha(prepared.pdf), der, TooLarge, "1024 were reserved")


def test_altered_state_and_signed_field_are_refused(prepared_nca, nca_signer, nca_at, pdfa):
    prepared, _ = prepared_nca
    der = make_detached_cms(prepared.digest, nca_signer, signing_time=nca_at)
    altered = dataclasses.replace(prepared, pdf=prepared.pdf.replace(b"Hello", b"Hallo", 1))
    _refused(altered, _sha(altered.pdf), der, BadState, "altered")
    with pytest.raises(BadState):
        Prepared.from_json('{"pdf": "not base64!"}')
    signed = embed(prepared, der)
    with pytest.raises(AlreadySigned, match="Signature1"):
        prepare(signed, field_name=prepared.field_name)


# --- the command line --------------------------------------------------------------------


def test_sign_digest_cli_refuses_bad_input_with_exit_2(nca_dir, tmp_path):
    good_pw, bad_pw = tmp_path / "good", tmp_path / "bad"
    good_pw.write_bytes(NCA_PASSWORD)
    bad_pw.write_text("wrong-secret-123")
    p12 = nca_dir / NCA_P12
    digest = base64.b64encode(bytes(32)).decode()

    cases = {
        "not valid base64": _sign_digest_cli("%%%", p12, good_pw),
        "32": _sign_digest_cli(base64.b64encode(bytes(20)).decode(), p12, good_pw),
        "ISO-8601": _sign_digest_cli(digest, p12, good_pw, "--signing-time", "yesterday"),
        "PKCS#12": _sign_digest_cli(digest, p12, bad_pw),
    }

    for needle, proc in cases.items():
        assert proc.returncode == 2, (needle, proc.stderr)
        assert needle in proc.stderr and "Traceback" not in proc.stderr
        assert proc.stdout == ""
    assert "wrong-secret-123" not in cases["PKCS#12"].stderr
