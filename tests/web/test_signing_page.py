"""The official's signing page ``/sign/{id}?ticket=…`` over the web tests' real server runtime
(LibreOffice, the dev PKI, SQLite): tickets (missing, unknown, another record's, expired, used →
403/410 pages in kk/ru/en), the document's pages as PNGs (as many as ``pdfinfo`` counts), the
security headers, the masked IIN; the signature endpoint's refusals; and, in Debian's headless
Chromium, a cadastral value act signed by its two officials through the NCALayer stand-in
(tests/ncalayer) — the first at a desktop size, the second at a phone's 390×844 — after which the
record is valid, its PDF verifies with both signers and the QR page shows them with the time.
Screenshots go to tests/artifacts/web/ (ignored by git)."""
from __future__ import annotations

import base64
import contextlib
import copy
import dataclasses
import datetime as dt
import json
import re
import subprocess
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from selenium.webdriver.common.by import By

from qujat import signflow
from qujat.service import Caller, issue
from qujat.web import make_public_router
from qujat.web.facts import format_moment
from qujat.web.i18n import text as public_text
from qujat.web.signpage import TICKET_COOKIE, words
from signing.deferred import make_detached_cms
from signing.keys import load_pkcs12, read_secret
from signing.model import Indication
from signing.pki import DEV_SIGNERS, load_dev_pki
from signing.verify import verify_pdf
from store import Status
from tests.api.conftest import UNLIMITED, free_port
from tests.conftest import ROOT, example
from tests.ncalayer.standin import StandIn
from tests.web.test_browser import browser, wait_for  # noqa: F401 - browser: the fixture

ARTIFACTS = ROOT / "tests" / "artifacts" / "web"
CALLER = Caller("sign-page-tests", "sign-page-tests")
PNG = b"\x89PNG\r\n\x1a\n"


# -- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def officials(site):
    """The dev PKI's two heads and a private person: (signer, IIN) by label — the keys the
    stand-in signs with (the person's is the wrong key the official might pick)."""
    pki = load_dev_pki(site.runtime.settings.dev_pki_dir)
    password = read_secret(file=pki.password_file)
    specs = {s.label: s for s in DEV_SIGNERS}
    return {label: (load_pkcs12(pki.p12(label), password), specs[label].iin)
            for label in ("enterprise-head", "authority-head", "individual")}


@pytest.fixture(scope="module")
def layer(officials):
    with StandIn(officials["enterprise-head"][0], signing_time=dt.datetime.now(dt.timezone.utc),
                 wrong_signer=officials["individual"][0]) as server:
        yield server


def sign_app(runtime, ncalayer_url: str) -> FastAPI:
    """The public pages and the signing page over the server's runtime, the script pointed at
    the stand-in (what `qujat.api.create_app` includes, with this option)."""
    app = FastAPI()
    # the dev PKI's OCSP/CRL are not served: officials' certificates are not checked for revocation
    app.state.runtime = dataclasses.replace(
        runtime, settings=dataclasses.replace(runtime.settings, signature_revocation="off"))
    app.include_router(make_public_router(UNLIMITED, ncalayer_url=ncalayer_url))
    return app


@contextlib.contextmanager
def uvicorn_thread(app, **config):
    """``app`` served by uvicorn on loopback in a thread (``config``: more uvicorn options): its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           lifespan="off", **config))
    thread = threading.Thread(target=server.run, name=f"uvicorn-sign-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the signing page's server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


@pytest.fixture(scope="module")
def sign_site(site, layer):
    """That app served by uvicorn on loopback (the browser's origin): its URL."""
    with uvicorn_thread(sign_app(site.runtime, layer.url), log_level="warning") as url:
        yield url


@pytest.fixture
def client(site, layer):
    with TestClient(sign_app(site.runtime, layer.url), follow_redirects=False) as c:
        yield c


def awaiting(rt, officials, doc_type: str = "cadastral_value_act", labels=("enterprise-head", "authority-head")):
    """A record of ``doc_type`` (kk+ru) awaiting the officials' signatures, in that order."""
    raw = copy.deepcopy(example(doc_type, "kk+ru"))
    raw["external_id"] = f"sign-page-{uuid.uuid4().hex[:12]}"
    raw["signers"] = [{"role": {"enterprise-head": "Кәсіпорын басшысы / Руководитель предприятия",
                                "authority-head": "Уәкілетті орган басшысы / Руководитель органа"}[label],
                       "iin": officials[label][1]} for label in labels]
    record = issue(rt, raw, caller=CALLER).record
    assert record.status is Status.AWAITING_SIGNATURE
    return record


@pytest.fixture(scope="module")
def pending(site, officials):
    """One two-signer act for the read-only tests (nobody signs it)."""
    return awaiting(site.runtime, officials)


def ticket(rt, record, **kw) -> str:
    return signflow.issue_ticket(rt, record.id, caller=CALLER, **kw).ticket


def pdfinfo_pages(pdf: bytes, tmp_path: Path) -> int:
    path = tmp_path / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, timeout=60, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def open_page(client, record_id, good: str, **params):
    """The link's first request moves the ticket into a cookie and sends the browser to the same
    address without it (asserted here); the page that address then serves."""
    moved = client.get(f"/sign/{record_id}", params={"ticket": good, **params})
    assert moved.status_code == 303, moved.text
    assert moved.headers["location"] == (f"/sign/{record_id}?" + urlencode(params) if params else f"/sign/{record_id}")
    assert moved.headers["referrer-policy"] == "no-referrer" and moved.headers["cache-control"] == "no-store"
    cookie = moved.headers["set-cookie"]
    assert cookie.startswith(f"{TICKET_COOKIE}={good};") and f"Path=/sign/{record_id}" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    return client.get(moved.headers["location"])


# -- HTTP ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_the_page_shows_the_document_who_signs_and_the_button(client, site, pending, lang, tmp_path):
    rt = site.runtime
    good = ticket(rt, pending)
    page = open_page(client, pending.id, good, lang=lang)

    assert page.status_code == 200, page.text
    html = page.text
    assert good not in html                               # neither in the images' URLs nor the POST's
    assert f'<html lang="{lang}"' in html
    assert words("sign_button", lang) in html and words("step", lang, n=1, total=2) in html
    expected = signflow.next_step(rt, pending.id).expected
    assert f"{expected['iin'][:6]}******" in html and expected["iin"] not in html     # masked
    images = re.findall(r'<img class="sheet" src="([^"]+)"', html)
    assert len(images) == pdfinfo_pages(signflow.pending_pdf(rt, pending.id), tmp_path) >= 1
    digest = base64.b64encode(signflow.next_step(rt, pending.id).digest).decode()
    assert digest in html                                         # what the script asks NCALayer to sign


def test_page_images_are_the_pdfs_pages_as_png(client, site, pending, tmp_path):
    rt = site.runtime
    good = ticket(rt, pending)
    count = pdfinfo_pages(signflow.pending_pdf(rt, pending.id), tmp_path)
    shots = []
    for n in range(1, count + 1):
        image = client.get(f"/sign/{pending.id}/pages/{n}.png", params={"ticket": good})
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert image.content.startswith(PNG) and len(image.content) > 20_000      # a page with text on it
        assert image.headers["cache-control"] == "private, no-store"
        shots.append(image.content)
    assert len(set(shots)) == count                                                  # each its own page
    assert client.get(f"/sign/{pending.id}/pages/{count + 1}.png", params={"ticket": good}).status_code == 404
    assert client.get(f"/sign/{pending.id}/pages/1.png").status_code == 403
    assert client.get(f"/sign/{pending.id}/pages/1.png", params={"ticket": "x" * 43}).status_code == 403


def test_security_headers_keep_the_ticket_on_our_origin(client, site, pending, layer):
    page = open_page(client, pending.id, ticket(site.runtime, pending))
    h = page.headers
    assert h["referrer-policy"] == "no-referrer" and h["cache-control"] == "no-store"
    csp = dict(part.strip().split(" ", 1) for part in h["content-security-policy"].split(";"))
    assert csp["default-src"] == "'none'" and csp["script-src"] == "'self'"
    assert csp["connect-src"] == f"'self' {layer.url}"          # our origin and NCALayer only
    assert csp["frame-ancestors"] == "'none'" and csp["form-action"] == "'none'"
    assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
    script = re.search(r'<script src="([^"]+)"', page.text).group(1)
    js = client.get(script)
    assert js.status_code == 200 and "kz.gov.pki.knca.basics" in js.text
    assert "http" not in re.sub(r"//.*|/\*[\s\S]*?\*/", "", js.text)      # no CDN, no other origin


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_missing_unknown_and_other_records_tickets_are_403_in_the_language(client, site, officials, pending, lang):
    rt = site.runtime
    other = awaiting(rt, officials, labels=("enterprise-head",))
    for params in ({}, {"ticket": "x" * 43}, {"ticket": ticket(rt, other)}):
        page = client.get(f"/sign/{pending.id}", params={**params, "lang": lang})
        assert page.status_code == 403, params
        assert f'<html lang="{lang}"' in page.text and words("ticket.denied", lang) in page.text
        assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    assert client.get(f"/sign/{uuid.uuid4()}", params={"ticket": ticket(rt, pending)}).status_code == 403
    assert client.get("/sign/not-a-uuid", params={"ticket": "x" * 43}).status_code == 404


def test_an_expired_ticket_is_410(client, site, pending):
    rt = site.runtime
    old = ticket(rt, pending, ttl=dt.timedelta(seconds=30))
    real_clock = rt.store._clock            # the store's injected clock, a minute on (not 30 s of waiting)
    rt.store._clock = lambda: real_clock() + dt.timedelta(minutes=1)
    try:
        page = client.get(f"/sign/{pending.id}", params={"ticket": old, "lang": "ru"})
    finally:
        rt.store._clock = real_clock
    assert page.status_code == 410 and words("ticket.gone", "ru") in page.text


def test_a_refused_signature_changes_nothing_and_a_used_ticket_is_410(client, site, officials):
    rt = site.runtime
    record = awaiting(rt, officials, labels=("enterprise-head",))
    good = ticket(rt, record)
    url = f"/sign/{record.id}/signature"
    digest = signflow.next_step(rt, record.id).digest
    before = signflow.pending_pdf(rt, record.id)

    for body, status in (({"cms": "%%%"}, 422), ({}, 422), ([1], 422),
                         ({"cms": base64.b64encode(b"\x30\x03\x02\x01\x01").decode()}, 400)):
        answer = client.post(url, params={"ticket": good}, json=body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["problems"][0]["path"] in ("cms", "")
    assert client.post(url, params={"ticket": good}, content=b"not json").status_code == 400
    wrong = make_detached_cms(digest, officials["authority-head"][0])          # another official's key
    refused = client.post(url, params={"ticket": good}, json={"cms": base64.b64encode(wrong).decode()})
    assert refused.status_code == 422 and refused.json()["code"] == "wrong_signer"
    assert officials["enterprise-head"][1] not in refused.text
    assert signflow.pending_pdf(rt, record.id) == before and rt.store.get(record.id).status is Status.AWAITING_SIGNATURE

    right = make_detached_cms(digest, officials["enterprise-head"][0])
    assert client.post(url, json={"cms": base64.b64encode(right).decode()}).status_code == 403    # no ticket
    done = client.post(url, params={"ticket": good}, json={"cms": base64.b64encode(right).decode()})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "valid" and done.json()["verification_url"] == f"/v/{record.token}"
    again = client.post(url, params={"ticket": good}, json={"cms": base64.b64encode(right).decode()})
    assert again.status_code == 410
    page = client.get(f"/sign/{record.id}", params={"ticket": good, "lang": "kk"})
    assert page.status_code == 410 and words("ticket.gone", "kk") in page.text


def test_after_the_first_request_the_ticket_lives_in_a_cookie_of_that_record_only(client, site, officials):
    """The link's ticket leaves the URL at the first request: the page, its images and its POST work
    by the cookie alone (their URLs carry no ticket); another record's pages do not see it; the
    accepted signature deletes it; a forged cookie is refused like a forged query."""
    rt = site.runtime
    record = awaiting(rt, officials, labels=("enterprise-head",))
    other = awaiting(rt, officials, labels=("enterprise-head",))
    good = ticket(rt, record)
    page = open_page(client, record.id, good, lang="ru")
    assert page.status_code == 200 and f'<html lang="ru"' in page.text
    image = re.search(r'<img class="sheet" src="([^"]+)"', page.text).group(1)
    assert "?" not in image
    assert client.get(image).status_code == 200                              # the cookie opens it
    assert client.get(f"/sign/{other.id}").status_code == 403                # not another record's
    assert client.get(f"/sign/{other.id}/pages/1.png").status_code == 403

    config = json.loads(re.search(r'<script id="sign-config" type="application/json">(.*?)</script>',
                                  page.text, re.S).group(1))
    url = f"/sign/{record.id}/signature"
    assert config["post"] == url
    digest = signflow.next_step(rt, record.id).digest
    right = make_detached_cms(digest, officials["enterprise-head"][0])
    done = client.post(url, json={"cms": base64.b64encode(right).decode()})      # no ?ticket=: the cookie
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "valid"
    gone = done.headers["set-cookie"]
    assert gone.startswith(f'{TICKET_COOKIE}="";') and "Max-Age=0" in gone and f"Path=/sign/{record.id}" in gone

    with TestClient(client.app, follow_redirects=False) as forged:
        forged.cookies.set(TICKET_COOKIE, "x" * 43, path=f"/sign/{other.id}")
        assert forged.get(f"/sign/{other.id}").status_code == 403
        assert forged.get(f"/sign/{other.id}/pages/1.png").status_code == 403


def test_kazakh_words_are_written_in_cyrillic_and_every_word_has_three_languages():
    from kazakhstan.script import mixed_script_word
    from qujat.web.signpage import WORDS

    for key, phrases in WORDS.items():
        assert set(phrases) == {"kk", "ru", "en"}, key
        assert all(phrases.values()), key
        assert mixed_script_word(phrases["kk"]) is None and mixed_script_word(phrases["ru"]) is None, key
        assert not re.search("[a-z]і|і[a-z]|[a-z]i[а-я]|[а-я]i", phrases["kk"]), key


# -- the browser --------------------------------------------------------------------------------

@contextlib.contextmanager
def desktop(driver, width: int = 1280, height: int = 900):
    """The phone browser (test_browser's, Debian's headless Chromium at 390×844) as a desktop
    window for the block: a 1280×900 viewport, no touch, no mobile layout."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    try:
        yield driver
    finally:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def sign_in_browser(driver, url: str, lang: str) -> str:
    """Open the page, wait for every page image, click Sign; the status line's text."""
    driver.get(url)
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
    wait_for(driver, lambda d: d.execute_script(
        "return [...document.images].every(i => i.complete && i.naturalWidth > 0)"))
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the window"
    button = driver.find_element(By.ID, "sign")
    wait_for(driver, lambda d: button.is_enabled())
    driver.execute_script("arguments[0].scrollIntoView()", button)
    button.click()
    status = driver.find_element(By.ID, "sign-status")
    wait_for(driver, lambda d: {"ok", "error"} & set(status.get_attribute("class").split()))
    return status.text


@pytest.mark.slow
def test_two_officials_sign_in_chromium_through_the_stand_in_and_the_act_becomes_valid(
        site, officials, layer, sign_site, browser):
    rt = site.runtime
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    record = awaiting(rt, officials)
    tz = ZoneInfo(rt.settings.timezone)

    # the enterprise head, at a desktop: but first NCALayer is closed, then the key dialog cancelled,
    # then the wrong key is picked
    with desktop(browser) as driver:
        first_ticket = ticket(rt, record)
        served = base64.b64encode(signflow.next_step(rt, record.id).digest).decode()
        first = f"{sign_site}/sign/{record.id}?ticket={first_ticket}&lang=ru"
        assert driver.execute_script("return window.innerWidth") == 1280
        layer.stop()
        assert sign_in_browser(driver, first, "ru") == words("err.no_layer", "ru")
        layer.start()
        layer.mode = "cancel"
        assert driver.find_element(By.ID, "sign").is_enabled()
        driver.find_element(By.ID, "sign").click()
        wait_for(driver, lambda d: d.find_element(By.ID, "sign-status").text == words("err.cancelled", "ru"))
        layer.mode = "refuse"                                     # the key dialog fails (a bad password)
        driver.find_element(By.ID, "sign").click()
        wait_for(driver, lambda d: d.find_element(By.ID, "sign-status").text
                 == words("err.layer", "ru").format(detail="SIGNING_FAILURE"))
        layer.mode = "wrong_key"
        driver.find_element(By.ID, "sign").click()
        wait_for(driver, lambda d: words("refused.wrong_signer", "ru") in d.find_element(By.ID, "sign-status").text)
        assert rt.store.get(record.id).status is Status.AWAITING_SIGNATURE
        layer.mode, layer.signer = "sign", officials["enterprise-head"][0]
        driver.find_element(By.ID, "sign").click()
        wait_for(driver, lambda d: "ok" in d.find_element(By.ID, "sign-status").get_attribute("class"))
        assert driver.find_element(By.ID, "sign-status").text.startswith(words("done.next", "ru"))
        screenshot(driver, "sign-desktop-first-signer")
    request = layer.requests[-1]
    assert request["module"] == "kz.gov.pki.knca.basics" and request["method"] == "sign"
    assert request["args"]["signingParams"] == {"decode": True, "encapsulate": False, "digested": True,
                                                "tsaProfile": None}
    assert request["args"]["format"] == "cms" and request["args"]["locale"] == "ru"
    assert request["args"]["data"] == served                      # the digest GET /signing serves
    assert first_ticket not in json.dumps(layer.requests)          # the ticket stays with our origin
    assert rt.store.get(record.id).status is Status.AWAITING_SIGNATURE
    assert signflow.next_step(rt, record.id).signer_index == 1

    # the authority head, on a phone
    layer.signer = officials["authority-head"][0]
    phone = browser
    assert phone.execute_script("return window.innerWidth") == 390
    text = sign_in_browser(phone, f"{sign_site}/sign/{record.id}?ticket={ticket(rt, record)}&lang=kk", "kk")
    assert text.startswith(words("done.valid", "kk")), text
    screenshot(phone, "sign-phone-second-signer")
    phone.find_element(By.ID, "verification-link").click()
    wait_for(phone, lambda d: d.find_elements(By.CSS_SELECTOR, ".signer-name"))
    assert phone.find_element(By.CSS_SELECTOR, ".status .status-text").text == public_text("status.valid", "kk")
    body = phone.find_element(By.TAG_NAME, "body").text
    names = [e.text for e in phone.find_elements(By.CSS_SELECTOR, ".signer-name")]
    screenshot(phone, "sign-phone-qr-page")

    final = rt.store.get(record.id)
    assert final.status is Status.VALID and final.current_version == 1
    (version,) = rt.store.versions(record.id)
    assert len(version.signatures) == 2
    report = verify_pdf(rt.store.blobs.get(version.pdf_sha256), trust=rt.trust_anchors)
    assert report.indication is Indication.TOTAL_PASSED
    assert [s.signer.iin for s in report.signatures] == [officials[k][1] for k in ("enterprise-head", "authority-head")]
    # the dev heads' certificates (ЖАНДОСОВ АЙДАР, ОМАРОВА ДИНАРА) with their given names, in signing order
    assert names == ["Жандосов Айдар Серікұлы", "Омарова Динара Асқарқызы"], names
    for sig, taken in zip(report.signatures, version.signatures):  # the QR page: who and when (a
        when = sig.timestamp_time or taken.time     # TSA's time, else when the service took the CMS)
        assert started <= when <= dt.datetime.now(dt.timezone.utc)
        assert format_moment(when, "kk", tz) in body
    assert body.count(public_text("check.passed", "kk")) == 2
