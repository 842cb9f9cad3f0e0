"""PKCS#11 signing through a SoftHSM2 token initialised here, in a tmp directory; the
sessions a signer or a key ring opens are really closed (logged out) by ``close()``."""

from __future__ import annotations

import secrets

import pkcs11.exceptions
import pytest
from tests.signing.conftest import assert_pdfsig_all_valid
from pdfs import tiny_pdf

from signing.certload import load_certs
from signing.errors import KeyLoadError, SigningError
from signing.keys import KeyRing, load_pkcs11
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


@pytest.fixture
def open_token(token, dev_pki):
    """Keyword arguments of load_pkcs11 for the test token."""
    tok, pin = token
    return dict(
        module=tok.module, token_label=tok.token_label, key_label=tok.key_label, pin=pin,
        other_certs=load_certs([dev_pki.issuing_ca_cert, dev_pki.root_cert]),
    )


def _session_is_closed(signer) -> bool:
    try:
        signer.pkcs11_session.generate_random(64)
    except pkcs11.exceptions.SessionHandleInvalid:
        return True
    return False


def test_sign_with_softhsm_token(open_token, dev_pki, tmp_path):
    with load_pkcs11(**open_token) as signer:
        signed = sign_pdf(tiny_pdf(), signer, reason="HSM")
        again = sign_pdf(signed, signer, reason="HSM, second")

    report = verify_pdf(again, trust=[dev_pki.root_cert], online=False)
    assert report.indication is Indication.TOTAL_PASSED
    assert [s.signer.common_name for s in report.signatures] == ["ОМАРОВА ДИНАРА"] * 2
    assert_pdfsig_all_valid(again, tmp_path, expected=2)
    assert signer.closed and _session_is_closed(signer)


def test_key_ring_shares_one_session_and_closes_it(open_token, dev_pki):
    ring = KeyRing()
    signer = ring.load_pkcs11(**open_token)
    assert ring.load_pkcs11(**open_token) is signer
    signed = sign_pdf(tiny_pdf(), signer)
    assert not _session_is_closed(signer)

    ring.close()

    assert _session_is_closed(signer)
    with pytest.raises(SigningError, match="closed"):
        sign_pdf(signed, signer)
    with pytest.raises(KeyLoadError, match="closed"):
        ring.load_pkcs11(**open_token)
    # The ring logged out: a new login on the token succeeds.
    with load_pkcs11(**open_token) as fresh:
        assert verify_pdf(sign_pdf(signed, fresh), trust=[dev_pki.root_cert], online=False).passed


def test_a_logged_in_session_blocks_a_second_login(open_token):
    """Why the key ring shares one session per token (PKCS#11 login is per process)."""
    with load_pkcs11(**open_token):
        with pytest.raises(KeyLoadError, match="UserAlreadyLoggedIn"):
            load_pkcs11(**open_token)


def test_unknown_key_label_fails_at_load_and_leaves_no_session(open_token):
    with pytest.raises(KeyLoadError, match="not usable"):
        load_pkcs11(**{**open_token, "key_label": "no-such-key"})

    with load_pkcs11(**open_token) as signer:  # would fail if the failed load stayed logged in
        assert signer.signing_cert is not None
