"""PKCS#11 signing through a SoftHSM2 token initialised here, in a tmp directory."""

from __future__ import annotations

import secrets

import pytest
from conftest import assert_pdfsig_all_valid
from pdfs import tiny_pdf

from signing.certload import load_certs
from signing.keys import load_pkcs11
from signing.model import Indication
from signing.sign import sign_pdf
from signing.softhsm import init_softhsm_token
from signing.verify import verify_pdf


@pytest.fixture(scope="module")
def token(dev_pki, dev_password, tmp_path_factory):
    pin = secrets.token_hex(4)
    tok = init_softhsm_token(
        tmp_path_factory.mktemp("softhsm"), p12=dev_pki.p12("authority-head"), p12_password=dev_password, pin=pin
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("SOFTHSM2_CONF", str(tok.conf))  # read by libsofthsm2 when it is loaded
    yield tok, pin
    mp.undo()


def test_sign_with_softhsm_token(token, dev_pki, tmp_path):
    tok, pin = token
    signer = load_pkcs11(
        tok.module, token_label=tok.token_label, key_label=tok.key_label, pin=pin,
        other_certs=load_certs([dev_pki.issuing_ca_cert, dev_pki.root_cert]),
    )

    signed = sign_pdf(tiny_pdf(), signer, reason="HSM")
    again = sign_pdf(signed, signer, reason="HSM, second")

    report = verify_pdf(again, trust=[dev_pki.root_cert], online=False)
    assert report.indication is Indication.TOTAL_PASSED
    assert [s.signer.common_name for s in report.signatures] == ["ОМАРОВА ДИНАРА"] * 2
    assert_pdfsig_all_valid(again, tmp_path, expected=2)
