"""QUJAT_NCALAYER_URL: where the official's signing page finds NCALayer (its CSP and its script
name it, so only a plain ws(s)://host:port is accepted)."""
from __future__ import annotations

import pytest

from qujat.settings import Settings, SettingsError


def test_the_default_is_ncalayers_own_address_and_the_environment_overrides_it():
    assert Settings().ncalayer_url == "wss://127.0.0.1:13579"
    assert Settings.from_env({"QUJAT_NCALAYER_URL": "ws://127.0.0.1:4444/"}).ncalayer_url == "ws://127.0.0.1:4444"


@pytest.mark.parametrize("bad", ["http://127.0.0.1:13579", "wss://", "wss://127.0.0.1:13579/path",
                                 "wss://127.0.0.1:13579?x=1", "wss://127.0.0.1:13579#f",
                                 "wss://127.0.0.1:13579'; script-src *", "wss://h<x>:1"])
def test_anything_else_is_refused_naming_the_variable(bad):
    with pytest.raises(SettingsError, match="QUJAT_NCALAYER_URL"):
        Settings.from_env({"QUJAT_NCALAYER_URL": bad})
