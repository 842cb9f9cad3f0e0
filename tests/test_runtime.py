"""Settings, the composition root and Kazakhstan's date (an injected clock, never the host's)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os
from pathlib import Path

import pytest
from docx import Document

from docgen.errors import RequestInvalid
from qujat.runtime import open_runtime
from qujat.settings import Settings, SettingsError, available_cpus
from tests.conftest import example

UTC = dt.timezone.utc


def clock_at(*args) -> callable:
    moment = dt.datetime(*args, tzinfo=UTC)
    return lambda: moment


# --- settings -----------------------------------------------------------------------------------


def test_defaults_come_from_an_empty_environment():
    s = Settings.from_env({})
    assert s.timezone == "Asia/Almaty"
    assert s.public_base_url == "http://127.0.0.1:8000"
    assert s.pool_size == len(os.sched_getaffinity(0)) == available_cpus()
    assert s.convert_queue_timeout > 0
    assert s.verify_online is False and s.fetch_allow_private is False
    assert s.uses_dev_pki and s.dev_pki_dir == Path("data") / "pki"


def test_environment_values_are_read_once_into_a_frozen_object(tmp_path):
    env = {
        "QUJAT_DATA_DIR": str(tmp_path), "QUJAT_PUBLIC_BASE_URL": "https://qujat.example.kz/",
        "QUJAT_POOL_SIZE": "3", "QUJAT_CONVERT_QUEUE_TIMEOUT": "2.5",
        "QUJAT_SIGNER_PKCS12": "/keys/org.p12", "QUJAT_SIGNER_PASSWORD_FILE": "/keys/org.pw",
        "QUJAT_TRUST_ANCHORS": f"/ca/root.pem{os.pathsep}/ca/issuing.pem",
        "QUJAT_VERIFY_ONLINE": "yes", "QUJAT_TIMEZONE": "Asia/Qyzylorda",
    }
    s = Settings.from_env(env)
    assert s.data_dir == tmp_path and s.public_base_url == "https://qujat.example.kz"
    assert s.pool_size == 3 and s.convert_queue_timeout == 2.5
    assert s.trust_anchors == (Path("/ca/root.pem"), Path("/ca/issuing.pem"))
    assert s.verify_online is True and not s.uses_dev_pki
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.pool_size = 1  # type: ignore[misc]
    env["QUJAT_POOL_SIZE"] = "5"
    assert s.pool_size == 3  # read once: a later change of the environment does not leak in


@pytest.mark.parametrize("name, value", [
    ("QUJAT_POOL_SIZE", "0"), ("QUJAT_POOL_SIZE", "two"), ("QUJAT_CONVERT_TIMEOUT", "-1"),
    ("QUJAT_PUBLIC_BASE_URL", "ftp://x"), ("QUJAT_PUBLIC_BASE_URL", "qujat.kz"),
    ("QUJAT_TIMEZONE", "Asia/Nowhere"), ("QUJAT_VERIFY_ONLINE", "maybe"),
    ("QUJAT_SIGNER_PKCS12", "/keys/org.p12"),  # without its password file
])
def test_a_bad_value_is_refused_naming_its_variable(name, value):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({name: value})
    assert name in str(err.value)


# --- Kazakhstan's date --------------------------------------------------------------------------


def _dated(doc_type: str, field: str, day: dt.date) -> dict:
    raw = example(doc_type, "ru")
    raw["data"][field] = day.isoformat()
    return raw


@pytest.mark.parametrize("utc_moment, almaty_day", [
    ((2026, 11, 29, 1, 0), dt.date(2026, 11, 29)),    # 06:00 in Almaty
    ((2026, 11, 28, 20, 0), dt.date(2026, 11, 29)),   # 01:00 in Almaty, still the 28th in UTC
    ((2026, 11, 28, 18, 59), dt.date(2026, 11, 28)),  # 23:59 in Almaty
])
def test_a_request_dated_today_in_almaty_is_accepted(utc_moment, almaty_day):
    with open_runtime(Settings.from_env({}), convert=False, clock=clock_at(*utc_moment)) as rt:
        assert rt.today() == almaty_day
        request = rt.parse(_dated("cadastral_information", "as_of", almaty_day))
        assert request.data.as_of == almaty_day
        with pytest.raises(RequestInvalid) as err:
            rt.parse(_dated("cadastral_information", "as_of", almaty_day + dt.timedelta(days=1)))
        assert [p.path for p in err.value.problems] == ["data.as_of"]
        assert "in the future" in err.value.problems[0].message


def test_the_issue_date_printed_is_almaty_today_not_the_hosts():
    # 19:30 UTC on 31 January is 00:30 on 1 February in Almaty: the act must say 1 February.
    raw = example("land_right_act", "ru")
    raw["data"].pop("issued_on", None)
    with open_runtime(Settings.from_env({}), convert=False, clock=clock_at(2027, 1, 31, 19, 30)) as rt:
        rendered = rt.renderer.render_docx(rt.parse(raw))
    text = "\n".join(p.text for p in Document(io.BytesIO(rendered.docx)).paragraphs)
    tables = "\n".join(c.text for t in Document(io.BytesIO(rendered.docx)).tables
                       for row in t.rows for c in row.cells)
    assert "1 февраля 2027" in text + tables
    assert "31 января 2027" not in text + tables


def test_a_birth_date_in_an_iin_is_judged_against_the_reference_date():
    from kazakhstan.ids import check_digit, validate_iin

    # born 29 November 2026 (YYMMDD 261129, century digit 5: the 2000s)
    first11 = next(f"2611295{n:04d}" for n in range(10000) if check_digit(f"2611295{n:04d}") is not None)
    iin = first11 + str(check_digit(first11))
    assert validate_iin(iin, today=dt.date(2026, 11, 29)) == iin
    with pytest.raises(ValueError, match="future"):
        validate_iin(iin, today=dt.date(2026, 11, 28))


# --- the composition root -----------------------------------------------------------------------


def test_the_runtime_builds_and_closes_its_pool(tmp_path):
    settings = Settings.from_env({"QUJAT_POOL_SIZE": "1", "QUJAT_DATA_DIR": str(tmp_path)})
    with open_runtime(settings, convert=True) as rt:
        assert rt.renderer.converter is rt.converter
        pids = [p for p in rt.converter.worker_pids() if p]
        assert len(pids) == 1
        rendered = rt.renderer.render(rt.parse(example("address_certificate", "kk")))
        assert rendered.pdf.startswith(b"%PDF-")
        assert rendered.verification_url.startswith("http://127.0.0.1:8000/v/")
    assert rt.converter.closed
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] in "ZX"


def test_a_failure_inside_the_block_still_closes_the_pool():
    settings = Settings.from_env({"QUJAT_POOL_SIZE": "1"})
    with pytest.raises(KeyError):
        with open_runtime(settings, convert=True) as rt:
            pool = rt.converter
            raise KeyError("boom")
    assert pool.closed


def test_templates_come_from_the_configured_folder(tmp_path):
    from docgen.errors import TemplateMissing

    settings = Settings.from_env({"QUJAT_TEMPLATES_DIR": str(tmp_path)})
    with pytest.raises(TemplateMissing, match="manifest"):
        with open_runtime(settings, convert=False):
            pass


def test_the_fetch_policy_follows_the_settings():
    with open_runtime(Settings.from_env({}), convert=False) as rt:
        assert rt.fetch_policy.enabled is False  # untrusted uploads are verified offline
    env = {"QUJAT_VERIFY_ONLINE": "true", "QUJAT_FETCH_ALLOW_PRIVATE": "1",
           "QUJAT_FETCH_TIME_BUDGET": "4"}
    with open_runtime(Settings.from_env(env), convert=False) as rt:
        policy = rt.fetch_policy
    assert policy.enabled and policy.allow_private and policy.time_budget_s == 4.0
