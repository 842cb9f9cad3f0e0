"""Keys load once per key ring and are shared by its users, with no cache at module
level; secrets come only from files/env and never show up in errors or logs; IIN/BIN
check digits; dev certificates are shaped like NCA ones."""

from __future__ import annotations

import logging
import shutil
import threading

import pytest

import signing.keys
from signing.errors import KeyLoadError, SecretSourceError
from signing.keys import KeptKeySigner, KeyRing, load_pkcs12, read_secret
from signing.ncacert import is_valid_kz_id, signer_fields, with_check_digit


def test_nca_legacy_pkcs12_loads(nca_dir):
    signer = load_pkcs12(nca_dir / "individual_rsa_sign_valid_2021.p12", b"Qwerty12")

    assert signer_fields(signer.signing_cert).common_name == "ТЕСТОВ ТЕСТ"


def test_key_ring_loads_a_key_once_and_shares_it(dev_pki, dev_password):
    with KeyRing() as ring:
        first = ring.load_pkcs12(dev_pki.p12("individual"), dev_password)

        assert ring.load_pkcs12(dev_pki.p12("individual"), dev_password.decode()) is first
        assert ring.load_pkcs12(dev_pki.p12("enterprise-head"), dev_password) is not first


def test_plain_function_and_other_rings_do_not_share_keys(dev_pki, dev_password):
    path = dev_pki.p12("individual")

    with KeyRing() as one, KeyRing() as two:
        assert one.load_pkcs12(path, dev_password) is not two.load_pkcs12(path, dev_password)
    assert load_pkcs12(path, dev_password) is not load_pkcs12(path, dev_password)


def test_key_ring_reads_a_replaced_key_file_again(dev_pki, dev_password, tmp_path):
    path = tmp_path / "signer.p12"
    shutil.copyfile(dev_pki.p12("individual"), path)
    with KeyRing() as ring:
        before = ring.load_pkcs12(path, dev_password)
        replacement = tmp_path / "new.p12"
        shutil.copyfile(dev_pki.p12("authority-head"), replacement)
        replacement.replace(path)  # how a key is rotated: a new file renamed over the old one

        after = ring.load_pkcs12(path, dev_password)

    assert signer_fields(before.signing_cert).common_name == "СЕЙТКАЛИ ЕРЛАН"
    assert signer_fields(after.signing_cert).common_name == "ОМАРОВА ДИНАРА"


def test_key_ring_checks_the_password_of_a_loaded_key(dev_pki, dev_password):
    with KeyRing() as ring:
        ring.load_pkcs12(dev_pki.p12("individual"), dev_password)

        with pytest.raises(KeyLoadError):
            ring.load_pkcs12(dev_pki.p12("individual"), b"not-the-password")


def test_key_ring_loads_once_under_concurrent_first_use(dev_pki, dev_password, monkeypatch):
    parsed = []
    real = signing.keys.load_pkcs12_bytes

    def counting(data, password):
        parsed.append(1)
        return real(data, password)

    monkeypatch.setattr(signing.keys, "load_pkcs12_bytes", counting)
    start = threading.Barrier(8)
    got: list[KeptKeySigner] = []

    def worker(ring: KeyRing) -> None:
        start.wait()
        got.append(ring.load_pkcs12(dev_pki.p12("enterprise-head"), dev_password))

    with KeyRing() as ring:
        threads = [threading.Thread(target=worker, args=(ring,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert len(got) == 8 and len({id(s) for s in got}) == 1
    assert len(parsed) == 1


def test_closed_key_ring_refuses_to_load(dev_pki, dev_password):
    ring = KeyRing()
    signer = ring.load_pkcs12(dev_pki.p12("individual"), dev_password)
    ring.close()
    ring.close()  # idempotent

    assert ring.closed
    with pytest.raises(KeyLoadError, match="closed"):
        ring.load_pkcs12(dev_pki.p12("individual"), dev_password)
    assert signer.signing_cert is not None  # a PKCS#12 signer holds no resource


def test_key_ring_does_not_keep_the_password(dev_pki, dev_password):
    with KeyRing() as ring:
        ring.load_pkcs12(dev_pki.p12("individual"), dev_password)
        state = repr(vars(ring))

    assert dev_password.decode() not in state and dev_password.hex() not in state


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
