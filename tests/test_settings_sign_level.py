"""The signing level of issued documents: B-LT by default when a timestamp service is
configured, B-B without one, an explicit QUJAT_SIGN_LEVEL always wins. And a document issued
through the application layer with the dev PKI's TSA is B-LT for our verifier and for pdfsig.
"""
from __future__ import annotations

import pytest

from qujat import service
from qujat.runtime import open_runtime
from qujat.settings import Settings, SettingsError
from signing.model import Indication, Level
from signing.verify import verify_pdf
from tests.api.helpers import fresh, pdfsig_valid
from tests.signing.conftest import dev_pki, pki_server  # noqa: F401 - the dev PKI served on loopback

TSA = "http://tsa.example/tsa"


@pytest.mark.parametrize(("env", "level"), [
    ({}, "B-B"),
    ({"QUJAT_TSA_URL": TSA}, "B-LT"),
    ({"QUJAT_TSA_URL": TSA, "QUJAT_SIGN_LEVEL": ""}, "B-LT"),          # empty is unset
    ({"QUJAT_TSA_URL": TSA, "QUJAT_SIGN_LEVEL": "b-b"}, "B-B"),         # explicit wins
    ({"QUJAT_TSA_URL": TSA, "QUJAT_SIGN_LEVEL": "B_T"}, "B-T"),
    ({"QUJAT_TSA_URL": TSA, "QUJAT_SIGN_LEVEL": "B-LT"}, "B-LT"),
])
def test_the_level_follows_the_tsa_unless_set(env, level):
    assert Settings.from_env(env).sign_level == level


def test_the_same_rule_in_the_constructor():
    assert Settings().sign_level == "B-B"
    assert Settings(tsa_url=TSA).sign_level == "B-LT"
    assert Settings(tsa_url=TSA, sign_level="B-T").sign_level == "B-T"


@pytest.mark.parametrize("env", [
    {"QUJAT_SIGN_LEVEL": "B-T"},
    {"QUJAT_SIGN_LEVEL": "B-LT"},
])
def test_timestamped_levels_without_a_tsa_are_refused(env):
    with pytest.raises(SettingsError, match="QUJAT_SIGN_LEVEL B-L?T needs QUJAT_TSA_URL"):
        Settings.from_env(env)


@pytest.mark.parametrize(("env", "message"), [
    ({"QUJAT_TSA_URL": "ftp://tsa"}, "QUJAT_TSA_URL"),                  # the default level does not hide it
    ({"QUJAT_TSA_URL": TSA, "QUJAT_SIGN_LEVEL": "B-LTA"}, "QUJAT_SIGN_LEVEL"),
])
def test_bad_values_are_still_refused(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


@pytest.mark.slow
def test_issued_document_is_b_lt_with_the_dev_tsa(dev_pki, pki_server, tmp_path):  # noqa: F811
    """The cadastral value act, two signatures (the first certifies), signed through
    `service.issue` with no level configured: both B-LT, the revocation data of the signers'
    chain fetched at signing time from the dev PKI on loopback."""
    pw = dev_pki.password_file
    settings = Settings(
        data_dir=tmp_path / "data", pool_size=1, tsa_url=dev_pki.tsa_url,
        signer_pkcs12=dev_pki.p12("enterprise-head"), signer_password_file=pw,
        signer2_pkcs12=dev_pki.p12("authority-head"), signer2_password_file=pw,
        trust_anchors=(dev_pki.root_cert,),
    )
    assert settings.sign_level == "B-LT"
    with open_runtime(settings, convert=True, sign=True, store=True) as rt:
        issued = service.issue(rt, fresh("cadastral_value_act", "kk"),
                               caller=service.Caller(client_id="tests", actor="test:settings"))
        _, pdf = service.current_file(rt, issued.record.id, "pdf")
        offline = verify_pdf(pdf, trust=rt.trust_anchors, require_revocation=True)

    assert offline.indication is Indication.TOTAL_PASSED, offline.to_json()
    assert [s.level for s in offline.signatures] == [Level.B_LT, Level.B_LT]
    assert all(s.timestamp_time is not None for s in offline.signatures)
    assert pdfsig_valid(pdf, tmp_path) == 2
