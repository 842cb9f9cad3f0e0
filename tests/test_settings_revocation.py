"""QUJAT_REVOCATION_MAX_AGE: how long a B-LT runtime reuses its signer chains' CRL/OCSP answers
(signing.netfetch.RevocationCache, never past their nextUpdate)."""
from __future__ import annotations

import datetime as dt

import pytest

from qujat.runtime import open_runtime
from qujat.settings import Settings, SettingsError


def test_the_default_is_five_minutes_and_the_environment_overrides_it():
    assert Settings().revocation_max_age == 300.0
    assert Settings.from_env({"QUJAT_REVOCATION_MAX_AGE": "0"}).revocation_max_age == 0.0
    assert Settings.from_env({"QUJAT_REVOCATION_MAX_AGE": " 42.5 "}).revocation_max_age == 42.5


@pytest.mark.parametrize("bad", ["-1", "x", "nan", "inf", "86401", ""])
def test_anything_else_is_refused_naming_the_variable(bad):
    if bad == "":                                   # empty means the default, as for every variable
        assert Settings.from_env({"QUJAT_REVOCATION_MAX_AGE": bad}).revocation_max_age == 300.0
        return
    with pytest.raises(SettingsError, match="QUJAT_REVOCATION_MAX_AGE"):
        Settings.from_env({"QUJAT_REVOCATION_MAX_AGE": bad})


def test_the_runtimes_cache_keeps_answers_for_the_configured_age(tmp_path):
    settings = Settings(data_dir=tmp_path, tsa_url="http://127.0.0.1:9/tsa", revocation_max_age=17)
    with open_runtime(settings, convert=False, sign=True) as rt:
        assert rt.revocation.max_age == dt.timedelta(seconds=17)


def test_officials_certificates_are_checked_for_revocation_unless_configured_otherwise():
    assert Settings().signature_revocation == "require"
    for mode in ("require", "try", "off"):
        assert Settings.from_env({"QUJAT_SIGNATURE_REVOCATION": f" {mode.upper()} "}).signature_revocation == mode
    for bad in ("no", "soft", "REQUIRED"):
        with pytest.raises(SettingsError, match="QUJAT_SIGNATURE_REVOCATION"):
            Settings.from_env({"QUJAT_SIGNATURE_REVOCATION": bad})
