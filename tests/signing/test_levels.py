"""Every level we sign at is valid for pdfsig and for our verifier; B-T uses the local
TSA; B-LT carries its revocation data and verifies with the services stopped."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from tests.signing.conftest import assert_pdfsig_all_valid
from pdfs import tiny_pdf
from pyhanko.pdf_utils.reader import PdfFileReader

import signing.sign
from signing.keys import load_pkcs12, read_secret
from signing.errors import SigningError
from signing.model import Indication, Level
from signing.pki import PkiServer, init_dev_pki
from signing.sign import sign_pdf
from signing.verify import verify_pdf


def _tsa_common_name(pdf: bytes) -> str:
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures[0]
    for attr in sig.signer_info["unsigned_attrs"]:
        if attr["type"].native == "signature_time_stamp_token":
            signed = attr["values"][0]["content"]
            return signed["certificates"][0].chosen.subject.native["common_name"]
    raise AssertionError("no signature timestamp token in the CMS")


@pytest.mark.parametrize("level", [Level.B_B, Level.B_T, Level.B_LT])
def test_each_level_is_valid_for_pdfsig_and_us(level, dev_pki, pki_server, dev_signer, tmp_path):
    signed = sign_pdf(
        tiny_pdf(), dev_signer(), level=level, tsa_url=dev_pki.tsa_url,
        reason="Жер учаскесіне сәйкестендіру құжаты", location="Астана", name="Жандосов А.",
    )

    assert_pdfsig_all_valid(signed, tmp_path, expected=1)
    report = verify_pdf(signed, trust=[dev_pki.root_cert])
    sig = report.signatures[0]
    assert report.indication is Indication.TOTAL_PASSED, sig.notes
    assert sig.level is level
    assert (sig.intact, sig.trusted, sig.revoked) == (True, True, False)


def test_b_t_timestamp_comes_from_the_local_tsa(dev_pki, pki_server, dev_signer):
    before = datetime.now(timezone.utc)

    signed = sign_pdf(tiny_pdf(), dev_signer(), level="B-T", tsa_url=dev_pki.tsa_url)

    sig = verify_pdf(signed, trust=[dev_pki.root_cert]).signatures[0]
    assert _tsa_common_name(signed) == "TSA ҰКО DEV (RSA)"
    assert sig.timestamp_time is not None
    assert before - timedelta(seconds=2) <= sig.timestamp_time <= datetime.now(timezone.utc)


def test_reason_location_and_signer_name_are_in_the_signature(dev_pki, dev_signer):
    signed = sign_pdf(tiny_pdf(), dev_signer(), reason="Келісу", location="Алматы", name="Жандосов А.")

    sig_obj = PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[0].sig_object
    assert (sig_obj["/Reason"], sig_obj["/Location"], sig_obj["/Name"]) == ("Келісу", "Алматы", "Жандосов А.")


def test_b_lt_verifies_with_services_stopped(tmp_path_factory, tmp_path):
    pki = init_dev_pki(tmp_path_factory.mktemp("pki-lt"))
    signer = load_pkcs12(pki.p12("authority-head"), read_secret(file=pki.password_file))
    with PkiServer(pki):
        b_lt = sign_pdf(tiny_pdf(), signer, level="B-LT", tsa_url=pki.tsa_url)
        b_b = sign_pdf(tiny_pdf(), signer, level="B-B")
    # The server is stopped: nothing can be fetched, only what the PDF carries counts.

    lt = verify_pdf(b_lt, trust=[pki.root_cert], require_revocation=True)
    bb = verify_pdf(b_b, trust=[pki.root_cert], require_revocation=True)

    assert lt.indication is Indication.TOTAL_PASSED, lt.signatures[0].notes
    assert lt.signatures[0].level is Level.B_LT
    assert bb.indication is not Indication.TOTAL_PASSED  # proves revocation data was needed
    assert_pdfsig_all_valid(b_lt, tmp_path, expected=1)


def test_cached_signing_certificate_attribute_names_the_signer(dev_signer):
    """The signing-certificate-v2 attribute is cached per signer: it must still name
    each signer's own certificate (hash and issuer/serial)."""
    import hashlib

    for label in ("enterprise-head", "authority-head"):
        signer = dev_signer(label)
        signed = sign_pdf(tiny_pdf(), signer)
        sig = PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[0]
        attrs = {a["type"].native: a["values"][0] for a in sig.signer_info["signed_attrs"]}
        cert_id = attrs["signing_certificate_v2"]["certs"][0]

        assert cert_id["cert_hash"].native == hashlib.sha256(signer.signing_cert.dump()).digest()
        assert cert_id["issuer_serial"]["serial_number"].native == signer.signing_cert.serial_number


@pytest.fixture
def attempts(monkeypatch):
    """(reserved, fitted, hex digits of the CMS) of every placeholder sign_pdf tried."""
    seen: list[tuple[int, bool, int]] = []
    real = signing.sign._sign_fitted

    async def spy(pdf_signer, writer, reserved):
        signed, size = await real(pdf_signer, writer, reserved)
        seen.append((reserved, signed is not None, size))
        return signed, size

    monkeypatch.setattr(signing.sign, "_sign_fitted", spy)
    return seen


@pytest.mark.parametrize("level", [Level.B_B, Level.B_T])
def test_reserved_size_fits_the_first_time(level, dev_pki, pki_server, dev_signer, attempts):
    sign_pdf(tiny_pdf(), dev_signer(), level=level, tsa_url=dev_pki.tsa_url)

    [(reserved, fitted, size)] = attempts
    assert fitted and size <= reserved


def test_too_small_a_placeholder_is_redone_with_the_measured_size(
    dev_pki, pki_server, dev_signer, attempts, monkeypatch, tmp_path
):
    monkeypatch.setattr(signing.sign, "_reserve", lambda signer, level: 1000)

    signed = sign_pdf(tiny_pdf(), dev_signer(), level=Level.B_T, tsa_url=dev_pki.tsa_url)

    [(first, first_fitted, needed), (second, second_fitted, used)] = attempts
    assert (first, first_fitted) == (1000, False) and needed > 1000
    assert second_fitted and second == needed + 2 * signing.sign._REFIT_SLACK and used <= second
    sig = PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[0]
    assert 2 * len(sig.sig_object["/Contents"]) == second
    assert_pdfsig_all_valid(signed, tmp_path, expected=1)
    assert verify_pdf(signed, trust=[dev_pki.root_cert]).signatures[0].level is Level.B_T


def test_encrypted_pdf_is_refused(dev_signer):
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(tiny_pdf())))
    writer.encrypt("owner-password", "user-password")
    out = io.BytesIO()
    writer.write(out)

    with pytest.raises(SigningError, match="encrypted"):
        sign_pdf(out.getvalue(), dev_signer())
