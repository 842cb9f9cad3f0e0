"""Keys load once, secrets come only from files/env and never show up in errors or
logs; IIN/BIN check digits; dev certificates are shaped like NCA ones."""

from __future__ import annotations

import logging

import pytest

from signing.errors import KeyLoadError, SecretSourceError
from signing.keys import clear_key_cache, load_pkcs12, read_secret
from signing.ncacert import is_valid_kz_id, signer_fields, with_check_digit


def test_nca_legacy_pkcs12_loads(nca_dir):
    signer = load_pkcs12(nca_dir / "individual_rsa_sign_valid_2021.p12", b"Qwerty12")

    assert signer_fields(signer.signing_cert).common_name == "ТЕСТОВ ТЕСТ"


def test_key_is_loaded_once_and_reused(dev_pki, dev_password):
    clear_key_cache()
    first = load_pkcs12(dev_pki.p12("individual"), dev_password)

    assert load_pkcs12(dev_pki.p12("individual"), dev_password) is first


def test_wrong_password_error_does_not_reveal_it(dev_pki, caplog):
    secret = "Wrong-But-Secret-42"
    caplog.set_level(logging.DEBUG)

    with pytest.raises(KeyLoadError) as err:
        load_pkcs12(dev_pki.p12("individual"), secret.encode())

    assert secret not in str(err.value) and secret not in repr(err.value)
    assert all(secret not in r.getMessage() for r in caplog.records)


def test_signer_repr_shows_no_key_material(dev_signer):
    text = repr(dev_signer()) + str(vars(dev_signer()).keys())

    assert "PRIVATE" not in text and "ЖАНДОСОВ" in text


def test_secret_from_file_and_env(tmp_path, monkeypatch):
    f = tmp_path / "pw"
    f.write_bytes(b"from-file\n")
    monkeypatch.setenv("QUJAT_TEST_PW", "from-env")

    assert read_secret(file=f) == b"from-file"
    assert read_secret(env="QUJAT_TEST_PW") == b"from-env"
    with pytest.raises(SecretSourceError):
        read_secret(env="QUJAT_TEST_UNSET_VARIABLE")
    with pytest.raises(SecretSourceError):
        read_secret()


def test_check_digits():
    assert with_check_digit("90010130012") == "900101300126"
    assert is_valid_kz_id("900101300126")
    assert not is_valid_kz_id("900101300127")
    assert not is_valid_kz_id("123456789011")  # NCA's dummy IIN


def test_dev_signers_look_like_nca_certificates(dev_pki, dev_signer):
    fields = signer_fields(dev_signer("enterprise-head").signing_cert)
    cert = dev_signer("enterprise-head").signing_cert

    assert fields.iin_valid and fields.bin_valid
    assert fields.organization and fields.roles == ("organization", "ceo")
    assert cert.subject.native["country_name"] == "KZ"
    assert cert.subject.native["serial_number"].startswith("IIN")
    assert cert.subject.native["organizational_unit_name"].startswith("BIN")
    assert set(cert.key_usage_value.native) == {"digital_signature", "non_repudiation"}
    assert signer_fields(dev_signer("individual").signing_cert).roles == ("individual",)
    assert dev_pki.crl_file.read_bytes()  # a CRL was made at init
