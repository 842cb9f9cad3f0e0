"""The command-line signer for scripts and integrators: an upstream system reads the digest from
``GET /documents/{id}/signing``, runs ``qujat sign-digest --pkcs12 <NCA test key> --password-file …
--digest …`` (a real subprocess of the `qujat` command) and posts the printed CMS to
``POST /documents/{id}/signatures``: the record becomes valid and its PDF verifies with the NCA
test person as signer. The app runs at an injected 2021-06-01 clock with the NCA test CA as a
trust anchor (the test key expired in 2022). The app also serves the signing page at the URL
that ``POST /documents/{id}/signing/tickets`` hands out, pointed at the real NCALayer."""
from __future__ import annotations

import base64
import datetime as dt
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qujat.api import create_app
from qujat.settings import Settings
from signing.model import Indication
from signing.pki import init_dev_pki
from signing.verify import verify_pdf
from tests.conftest import ROOT, example

NCA = ROOT / "tests" / "data" / "nca"
NCA_P12 = NCA / "individual_rsa_sign_valid_2021.p12"
NCA_IIN = "123456789011"
NOW = dt.datetime(2021, 6, 1, 6, 0, tzinfo=dt.timezone.utc)       # inside the test key's validity


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("sign-digest") / "data"
    pki = init_dev_pki(data_dir / "pki", now=NOW - dt.timedelta(days=1))
    # the NCA test key's OCSP/CRL (test.pki.gov.kz) are out of reach: revocation not checked
    settings = Settings(signature_revocation="off", data_dir=data_dir, pool_size=1,
                        public_base_url="https://qujat.test",
                        trust_anchors=(NCA / "nca_rsa_test_ca.pem", Path(pki.root_cert)),
                        ncalayer_url="wss://127.0.0.1:24680", allow_nca_test_identities=True)
    app = create_app(settings, clock=lambda: NOW)
    with TestClient(app, follow_redirects=False) as client:
        _, key = app.state.runtime.store.create_api_key("integrator", ["documents:issue", "documents:read"],
                                                        actor="test")
        client.headers["Authorization"] = f"Bearer {key}"
        yield client, app


def sign_digest(digest_b64: str, password_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qujat", "sign-digest", "--pkcs12", str(NCA_P12),
         "--password-file", str(password_file), "--digest", digest_b64],
        capture_output=True, text=True, cwd=ROOT, timeout=120)


def issue_for_the_nca_person(client) -> dict:
    raw = example("cadastral_value_act")
    raw["external_id"] = f"sign-digest-{uuid.uuid4().hex[:12]}"
    raw["data"]["issued_on"] = "2021-05-28"
    raw["signers"] = [{"role": "Кәсіпорын басшысы / Руководитель предприятия", "iin": NCA_IIN}]
    r = client.post("/documents", json=raw)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "awaiting_signature"
    return r.json()


@pytest.mark.slow
def test_qujat_sign_digest_output_posted_to_the_api_makes_the_record_valid(api, tmp_path):
    client, app = api
    rt = app.state.runtime
    doc = issue_for_the_nca_person(client)
    step = client.get(f"/documents/{doc['id']}/signing").json()
    assert step["expected"]["iin"] == NCA_IIN and step["digest_algorithm"] == "sha256"
    password_file = tmp_path / "password"
    password_file.write_bytes(b"Qwerty12\n")          # the NCA fixtures' published test password

    proc = sign_digest(step["digest"], password_file)

    assert proc.returncode == 0, proc.stderr
    assert "Qwerty12" not in proc.stdout + proc.stderr
    cms = proc.stdout.strip().splitlines()[-1]
    assert base64.b64decode(cms, validate=True)[:1] == b"\x30"
    signed = client.post(f"/documents/{doc['id']}/signatures", json={"cms": cms})
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "valid"
    again = client.post(f"/documents/{doc['id']}/signatures", json={"cms": cms})
    assert again.status_code == 409                    # the same signature twice: refused
    (version,) = rt.store.versions(uuid.UUID(doc["id"]))
    report = verify_pdf(rt.store.blobs.get(version.pdf_sha256), trust=rt.trust_anchors, at=NOW)
    assert report.indication is Indication.TOTAL_PASSED, [s.notes for s in report.signatures]
    assert [s.signer.iin for s in report.signatures] == [NCA_IIN]


@pytest.mark.slow
def test_a_cms_over_another_documents_digest_is_refused_and_the_ticket_url_opens_the_signing_page(api, tmp_path):
    client, app = api
    first, second = issue_for_the_nca_person(client), issue_for_the_nca_person(client)
    password_file = tmp_path / "password"
    password_file.write_bytes(b"Qwerty12")
    other = sign_digest(client.get(f"/documents/{second['id']}/signing").json()["digest"], password_file)
    assert other.returncode == 0, other.stderr

    refused = client.post(f"/documents/{first['id']}/signatures", json={"cms": other.stdout.strip()})

    assert refused.status_code == 422 and refused.json()["code"] == "digest_mismatch"
    assert client.get(f"/documents/{first['id']}").json()["status"] == "awaiting_signature"
    ticket = client.post(f"/documents/{first['id']}/signing/tickets")
    assert ticket.status_code == 201, ticket.text
    url = ticket.json()["url"]
    assert url.startswith(f"https://qujat.test/sign/{first['id']}?ticket=")
    page = client.get(url.removeprefix("https://qujat.test"), headers={"Authorization": ""},
                      follow_redirects=True)                     # 303: the ticket moves into a cookie
    assert page.status_code == 200 and page.url.query == b"", page.text
    csp = page.headers["content-security-policy"]         # QUJAT_NCALAYER_URL reaches the page
    assert "wss://127.0.0.1:24680" in csp and "13579" not in csp
    assert client.get(url.removeprefix("https://qujat.test") + "x").status_code == 403
