"""POST /documents with an NCA test identity as an expected signer, on a service that does not
allow them (Settings.allow_nca_test_identities, QUJAT_ALLOW_NCA_TEST_IDENTITIES, off by
default): 422 naming the field and the test identity, nothing stored."""
from __future__ import annotations

from qujat.settings import Settings
from tests.api.helpers import fresh
from tests.api.test_errors import shaped


def test_a_production_service_refuses_the_nca_test_person_as_signer(client, live):
    assert not live.runtime.settings.allow_nca_test_identities        # the default
    before = live.runtime.store.count("records")
    raw = fresh("cadastral_value_act", "kk")
    raw["signers"] = [{"role": "Кәсіпорын басшысы / Руководитель предприятия", "iin": "123456789011"},
                      {"role": "Уәкілетті орган / Уполномоченный орган", "bin": "123456789021"}]
    problems = {p["path"]: p["message"] for p in shaped(client.post("/documents", json=raw),
                                                        422, "invalid_request")}
    assert set(problems) == {"signers.0.iin", "signers.1.bin"}
    assert "123456789011 is the IIN of the NCA's test identity" in problems["signers.0.iin"]
    assert "123456789021 is the BIN of the NCA's test identity" in problems["signers.1.bin"]
    assert live.runtime.store.count("records") == before


def test_the_setting_is_read_from_the_environment():
    assert not Settings.from_env({}).allow_nca_test_identities
    assert Settings.from_env({"QUJAT_ALLOW_NCA_TEST_IDENTITIES": "1"}).allow_nca_test_identities
    assert not Settings.from_env({"QUJAT_ALLOW_NCA_TEST_IDENTITIES": "off"}).allow_nca_test_identities
