"""The service's commands — `qujat keys`, `qujat issue`, `qujat serve` — as a user runs them, and
what gets logged: no API key, key password or private key appears in any log line or response of
a full issue / annul / verify run (uvicorn's own logs included)."""
from __future__ import annotations

import base64
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from signing.model import Indication
from signing.verify import verify_pdf
from store import Store
from tests.api.conftest import free_port
from tests.api.helpers import DEV_HEADS, fresh, pdfsig_valid, qr_texts
from tests.conftest import ROOT

QUJAT = [sys.executable, "-m", "qujat"]
KEY = re.compile(r"qujat_[0-9a-f]{16}_[A-Za-z0-9_-]{43}")


def qujat(env: dict, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*QUJAT, *args], env=env, cwd=ROOT, input=input, capture_output=True, timeout=300)


@pytest.fixture
def env(tmp_path) -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("QUJAT_") and k != "DATABASE_URL"}
    e.update(QUJAT_DATA_DIR=str(tmp_path / "data"), QUJAT_POOL_SIZE="1",
             QUJAT_PUBLIC_BASE_URL="https://qujat.test")
    return e


def secrets_of(data_dir: Path, *keys: str) -> list[str]:
    """What must never be logged or answered: the API keys (and their secret halves), the dev
    PKI's key password, PEM private-key markers."""
    password = (data_dir / "pki" / "signers" / "password.txt").read_text().strip()
    assert len(password) >= 8
    found = [password, "PRIVATE KEY"]
    for key in keys:
        found += [key, key.split("_", 2)[2]]
    return found


def assert_clean(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text, f"a secret ({len(secret)} characters) leaked"


def test_keys_create_prints_the_key_as_the_last_line_and_lists_never_show_it(env, tmp_path):
    made = qujat(env, "keys", "create", "--scope", "documents:issue", "--scope", "documents:annul",
                 "--name", "cadastre system")
    assert made.returncode == 0, made.stderr
    lines = made.stdout.decode().splitlines()
    assert KEY.fullmatch(lines[-1]) and "cadastre system" in lines[0]
    key, key_id = lines[-1], lines[-1].split("_")[1]
    listed = qujat(env, "keys", "list")
    assert key_id in listed.stdout.decode() and key not in listed.stdout.decode()
    (tmp_path / "key").write_text(key + "\n")
    assert qujat(env, "keys", "check", str(tmp_path / "key"), "--scope", "documents:issue").returncode == 0
    assert qujat(env, "keys", "check", str(tmp_path / "key"), "--scope", "documents:read").returncode == 1
    bad = qujat(env, "keys", "create", "--scope", "everything")
    assert bad.returncode == 2 and b"unknown scope" in bad.stderr
    assert qujat(env, "keys", "revoke", key_id).returncode == 0
    assert qujat(env, "keys", "check", str(tmp_path / "key")).returncode == 1


def test_qujat_issue_renders_signs_and_stores_without_http(env, tmp_path):
    request = tmp_path / "req.json"
    request.write_text(json.dumps(fresh("cadastral_value_act", "ru"), ensure_ascii=False))
    out = tmp_path / "out"
    done = qujat(env, "issue", str(request), "--out", str(out))
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    record = json.loads(lines[-1])
    files = {Path(line).suffix: Path(line) for line in lines[:-1]}
    assert sorted(files) == [".docx", ".pdf"] and {f.parent for f in files.values()} == {out}
    pdf = files[".pdf"].read_bytes()
    assert record["status"] == "valid" and record["created"] is True
    assert [s["signer"] for s in record["signatures"]] == list(DEV_HEADS)
    data = tmp_path / "data"
    report = verify_pdf(pdf, trust=[data / "pki" / "root.pem"])           # the dev PKI made on first use
    assert report.indication is Indication.TOTAL_PASSED
    assert pdfsig_valid(pdf, tmp_path) == 2
    assert qr_texts(pdf, tmp_path)[0] == record["verification_url"] == f"https://qujat.test/v/{record['token']}"
    with Store.open(f"sqlite:///{data / 'qujat.sqlite3'}", data / "blobs") as store:
        stored = store.by_token(record["token"])
        assert str(stored.id) == record["id"] and stored.client_id == "cli"
        assert store.audit(stored.id)[0].actor.startswith("cli:")


def test_qujat_issue_with_signers_makes_a_record_awaiting_them_and_writes_no_file(env, tmp_path):
    body = fresh("cadastral_value_act", "ru")
    body["signers"] = [{"role": "Директор филиала", "bin": "151140007895"}]
    request = tmp_path / "req.json"
    request.write_text(json.dumps(body, ensure_ascii=False))
    out = tmp_path / "out"
    done = qujat(env, "issue", str(request), "--out", str(out))
    assert done.returncode == 0, done.stderr.decode()
    (line,) = done.stdout.decode().splitlines()
    record = json.loads(line)
    assert record["status"] == "awaiting_signature" and record["created"] is True
    signing = record["signing"]
    assert signing["signer_index"] == 0 and signing["digest_algorithm"] == "sha256"
    assert len(base64.b64decode(signing["digest"])) == 32
    assert signing["expected"]["bin"] == "151140007895"
    assert not out.exists() or not any(out.iterdir())


def test_qujat_issue_with_its_own_key(env, tmp_path):
    first = qujat(env, "pki", "init", str(tmp_path / "other-pki"))
    assert first.returncode == 0, first.stderr
    request = tmp_path / "req.json"
    request.write_text(json.dumps(fresh("land_right_act", "kk"), ensure_ascii=False))
    done = qujat(env, "issue", str(request), "--out", str(tmp_path / "out"),
                 "--key", str(tmp_path / "other-pki" / "signers" / "authority-head.p12"),
                 "--password-file", str(tmp_path / "other-pki" / "signers" / "password.txt"))
    assert done.returncode == 0, done.stderr.decode()
    assert [s["signer"] for s in json.loads(done.stdout.decode().splitlines()[-1])["signatures"]] == [DEV_HEADS[1]]
    assert_clean(done.stdout.decode() + done.stderr.decode(),
                 [(tmp_path / "other-pki" / "signers" / "password.txt").read_text().strip(), "PRIVATE KEY"])


def test_qujat_issue_refuses_an_invalid_request_and_stores_nothing(env, tmp_path):
    raw = fresh("land_right_act", "kk")
    raw["data"]["land_plot"]["area_ha"] = "0"
    request = tmp_path / "req.json"
    request.write_text(json.dumps(raw))
    done = qujat(env, "issue", str(request), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert b"data.land_plot.area_ha" in done.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "data" / "qujat.sqlite3").exists()


def _full_run(url: str, key: str, tmp_path: Path) -> str:
    """Issue, read, annul, verify (good and bad uploads), unauthorised calls; every response body."""
    seen = []
    with httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
        doc = c.post("/documents", json=fresh("cadastral_value_act", "kk+ru"), headers={"Idempotency-Key": "log-1"})
        assert doc.status_code == 201, doc.text
        seen.append(doc.text)
        links = doc.json()["links"]
        pdf = c.get(links["pdf"])
        seen += [c.get(links["self"]).text, c.get(links["audit"]).text, c.get(links["versions"]).text]
        seen.append(c.post(links["annul"], json={"reason": "тест / тест"}).text)
        seen.append(c.post("/verify", files={"file": ("a.pdf", pdf.content, "application/pdf")}).text)
        seen.append(c.post("/verify", files={"file": ("a.pdf", b"%PDF-1.7 broken", "application/pdf")}).text)
        seen.append(c.post("/documents", content=b"{", headers={"Content-Type": "application/json"}).text)
    with httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}x"}, timeout=30) as wrong:
        seen.append(wrong.post("/documents", json={}).text)
    return "\n".join(seen)


def test_nothing_secret_in_the_logs_of_a_full_run_in_process(live, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    key = live.keys["issuer"]
    answers = _full_run(live.url, key, tmp_path)
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "POST /documents" in logged and "POST /verify" in logged   # uvicorn's access log is in
    assert_clean(logged, secrets_of(live.data_dir, key))
    assert_clean(answers, secrets_of(live.data_dir, key))


@pytest.mark.slow
def test_qujat_serve_runs_the_api_and_logs_no_secret(env, tmp_path):
    made = qujat(env, "keys", "create", "--scope", "documents:issue", "--scope", "documents:annul")
    key = made.stdout.decode().splitlines()[-1]
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen([*QUJAT, "serve", "--port", str(port), "--log-level", "debug"], env=env,
                                  cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx2.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            openapi = httpx2.get(f"{url}/openapi.json").json()
            assert "/documents" in openapi["paths"]
            answers = _full_run(url, key, tmp_path)
        finally:
            server.send_signal(signal.SIGINT)
            assert server.wait(timeout=60) == 0
    text = log.read_text("utf-8", "replace")
    assert "Uvicorn running on" in text and '"POST /documents HTTP/1.1" 201' in text
    assert "Application shutdown complete" in text
    assert_clean(text, secrets_of(tmp_path / "data", key))
    assert_clean(answers, secrets_of(tmp_path / "data", key))
