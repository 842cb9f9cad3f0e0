"""The application layer and its settings without HTTP: the signing keys by role, B-T issuance
with the dev PKI's TSA, nothing half-written when signing fails, and a busy converter pool
answered 503 over HTTP."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from qujat import service
from qujat.runtime import AUTHORITY_HEAD, ENTERPRISE_HEAD, dev_pki, open_runtime
from qujat.settings import Settings, SettingsError
from signing.errors import SigningError
from signing.model import Indication, Level
from signing.pki import PkiServer
from signing.verify import verify_pdf
from tests.api.conftest import serve
from tests.api.helpers import DEV_HEADS, fresh

CALLER = service.Caller(client_id="tests", actor="test:service")


@pytest.mark.parametrize("env, message", [
    ({"QUJAT_SIGN_LEVEL": "B-T"}, "QUJAT_TSA_URL"),
    ({"QUJAT_SIGN_LEVEL": "B-LTA"}, "QUJAT_SIGN_LEVEL"),
    ({"QUJAT_SIGN_LEVEL": "B-T", "QUJAT_TSA_URL": "ftp://tsa"}, "QUJAT_TSA_URL"),
    ({"QUJAT_SIGNER2_PKCS12": "/k/a.p12"}, "QUJAT_SIGNER2_PASSWORD_FILE"),
    ({"QUJAT_SIGNER2_PKCS12": "/k/a.p12", "QUJAT_SIGNER2_PASSWORD_FILE": "/k/pw"}, "QUJAT_SIGNER_PKCS12"),
])
def test_signing_settings_are_checked(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_signing_settings_are_read():
    s = Settings.from_env({"QUJAT_SIGN_LEVEL": "b_t", "QUJAT_TSA_URL": "http://tsa.example/tsa",
                           "QUJAT_SIGNER_PKCS12": "/k/a.p12", "QUJAT_SIGNER_PASSWORD_FILE": "/k/a",
                           "QUJAT_SIGNER2_PKCS12": "/k/b.p12", "QUJAT_SIGNER2_PASSWORD_FILE": "/k/b"})
    assert (s.sign_level, s.tsa_url) == ("B-T", "http://tsa.example/tsa")
    assert str(s.signer2_pkcs12) == "/k/b.p12" and Settings().sign_level == "B-B"


def test_the_runtime_loads_a_key_per_role(tmp_path):
    pki = dev_pki(tmp_path / "pki")
    pw = pki.password_file
    one = Settings(data_dir=tmp_path / "d", signer_pkcs12=pki.p12("enterprise-head"), signer_password_file=pw)
    with open_runtime(one, convert=False, sign=True) as rt:
        assert rt.signers[ENTERPRISE_HEAD] is rt.signers[AUTHORITY_HEAD] is rt.signer   # one key, both roles
        assert rt.trust_anchors == ()                       # a configured key brings no dev anchor
    two = Settings(data_dir=tmp_path / "d", signer_pkcs12=pki.p12("enterprise-head"), signer_password_file=pw,
                   signer2_pkcs12=pki.p12("authority-head"), signer2_password_file=pw)
    with open_runtime(two, convert=False, sign=True) as rt:
        names = {role: s.signing_cert.subject.native["common_name"] for role, s in rt.signers.items()}
    assert names == {ENTERPRISE_HEAD: DEV_HEADS[0], AUTHORITY_HEAD: DEV_HEADS[1]}


def test_b_t_issuance_with_the_dev_tsa_and_nothing_half_written_when_the_tsa_is_down(tmp_path):
    data = tmp_path / "data"
    pki = dev_pki(data / "pki")
    settings = Settings(data_dir=data, pool_size=1, sign_level="B-T", tsa_url=pki.tsa_url)
    key = f"k-{uuid.uuid4()}"
    raw = fresh("cadastral_value_act", "kk")
    with open_runtime(settings, convert=True, sign=True, store=True) as rt:
        # the TSA is not served yet: signing fails after rendering; nothing is stored, the key is free
        with pytest.raises(SigningError):
            service.issue(rt, raw, caller=CALLER, idempotency_key=key)
        assert rt.store.count("records") == 0 and rt.store.count("audit_events") == 0
        with PkiServer(pki):
            issued = service.issue(rt, raw, caller=CALLER, idempotency_key=key)   # the same key, retried
            assert issued.created and rt.store.count("records") == 1
            _, pdf = service.current_file(rt, issued.record.id, "pdf")
            report = verify_pdf(pdf, trust=rt.trust_anchors)
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    assert [s.level for s in report.signatures] == [Level.B_T, Level.B_T]
    assert all(s.timestamp_time is not None for s in report.signatures)


def test_annul_through_the_service_and_its_errors(tmp_path):
    from store import Conflict, NotFound

    with open_runtime(Settings(data_dir=tmp_path / "data", pool_size=1), convert=True, sign=True,
                      store=True) as rt:
        record = service.issue(rt, fresh("address_certificate", "ru"), caller=CALLER).record
        annulled = service.annul(rt, str(record.id), "ошибка в адресе", CALLER)
        assert annulled.status.value == "annulled" and annulled.annulled_reason == "ошибка в адресе"
        with pytest.raises(Conflict):
            service.annul(rt, record.id, "again", CALLER)
        with pytest.raises(NotFound):
            service.annul(rt, "not-a-record", "x", CALLER)
        assert [e.action.value for e in service.audit(rt, record.id)] == ["issue", "annul"]
        assert service.audit(rt, record.id)[1].actor == "test:service"


def test_a_busy_converter_pool_is_503_with_retry_after(tmp_path):
    with serve(tmp_path / "data", pool_size=1, convert_queue_timeout=0.1) as busy:
        busy.add_key("issuer", "documents:issue")
        start = threading.Barrier(6)

        def post(_):
            with busy.client() as c:
                start.wait()
                return c.post("/documents", json=fresh("land_right_act", "kk+ru"))

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(post, range(6)))
        statuses = sorted(r.status_code for r in answers)
        assert set(statuses) <= {201, 503} and 201 in statuses and 503 in statuses, statuses
        for r in answers:
            if r.status_code == 503:
                assert r.json()["code"] == "busy" and int(r.headers["retry-after"]) > 0
        assert busy.runtime.store.count("records") == statuses.count(201)


def test_signing_that_fails_is_503_and_stores_nothing(tmp_path):
    data = tmp_path / "data"
    pki = dev_pki(data / "pki")                      # its TSA is not served: every B-T signature fails
    with serve(data, pool_size=1, sign_level="B-T", tsa_url=pki.tsa_url) as server:
        server.add_key("issuer", "documents:issue")
        with server.client() as c:
            r = c.post("/documents", json=fresh("motivated_refusal", "kk"), headers={"Idempotency-Key": "once"})
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "signing_unavailable" and int(r.headers["retry-after"]) > 0
        assert "127.0.0.1" not in r.text                # what failed inside stays in the log
        assert server.runtime.store.count("records") == 0
