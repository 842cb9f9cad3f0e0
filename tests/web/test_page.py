"""The public page over real records: what it shows, in which language, what it hides, the
code lookup, the JSON, the download, upload-and-compare, rate limits and the headers."""
from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from docgen.tokens import format_token, new_token
from qujat.service import Caller, annul
from qujat.web import PublicOptions, RateLimits, rate_limit
from qujat.web.i18n import text
from tests.web.conftest import (CITIZEN_IIN, CITIZEN_IIN_MASKED, CITIZEN_NAME_MASKED, REFUSED_IIN, add_version,
                                issue_example, small_app)

DEV_SIGNER = "Жандосов Айдар Серікұлы"          # the dev PKI's enterprise head, as the page writes him
DEV_SIGNER_IIN = "800102300125"                  # his IIN (check digit computed by the dev PKI)


class _Outline(HTMLParser):
    """Landmarks, headings, form controls and their labels, lang attributes of a page."""

    def __init__(self):
        super().__init__()
        self.tags, self.headings, self.labels, self.controls, self.langs = [], [], set(), [], []
        self._heading = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if "lang" in a:
            self.langs.append(a["lang"])
        if re.fullmatch(r"h[1-6]", tag):
            self._heading = [int(tag[1]), ""]
        if tag == "label":
            self.labels.add(a.get("for"))
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append(a)

    def handle_endtag(self, tag):
        if re.fullmatch(r"h[1-6]", tag) and self._heading:
            self.headings.append(tuple(self._heading))
            self._heading = None

    def handle_data(self, data):
        if self._heading:
            self._heading[1] += data


def outline(html: str) -> _Outline:
    o = _Outline()
    o.feed(html)
    return o


def test_the_page_shows_the_document_in_each_language(page_client, documents):
    doc = documents["land_right_act"]
    for lang, number_label, status in (("kk", "Нөмірі", "Құжат жарамды"), ("ru", "Номер", "Документ действителен"),
                                       ("en", "Number", "The document is valid")):
        r = page_client.get(f"/v/{doc.token}?lang={lang}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert r.headers["content-language"] == lang
        html = r.text
        assert f'<html lang="{lang}"' in html
        for shown in (status, number_label, "2026-0012345", "03-047-009-1234", CITIZEN_NAME_MASKED,
                      CITIZEN_IIN_MASKED, DEV_SIGNER, text("check.passed", lang), format_token(doc.token),
                      hashlib.sha256(doc.pdf).hexdigest()):
            assert shown in html, (lang, shown)
    kk = page_client.get(f"/v/{doc.token}?lang=kk").text
    assert "2026 жылғы 20 қараша" in kk and "0,1617 га" in kk            # the paper's own wording
    ru = page_client.get(f"/v/{doc.token}?lang=ru").text
    assert "20 ноября 2026 года" in ru and "Акт на право временного возмездного (долгосрочного)" in ru
    en = page_client.get(f"/v/{doc.token}?lang=en").text
    assert "20 November 2026" in en and "0.1617 ha" in en
    assert '<span lang="ru">Алматинская область' in en                 # data are Russian there


@pytest.mark.parametrize("doc_type,facts", [
    ("cadastral_information", ["Жер учаскесіне кадастрлық ақпарат", "KZ45RVV00123456", "4\u00a0850\u00a0000,00 теңге",
                               "Уақытша өтеулі жер пайдалану (жалдау) құқығы", "2026 жылғы 19 қараша"]),
    ("address_certificate", ["Мекенжайды өзгерту", "Жаңа мекенжай", "Бұрынғы мекенжай", "Бейбітшілік көшесі, 43-үй",
                             "0201300045172941", "Ғимарат (құрылыс)"]),
    ("cadastral_value_act", ["3\u00a0287\u00a0376,25 теңге", "19,75 га", "«Жерұйық Агро»", "БСН 151140007895",
                             "Омарова Динара Асқарқызы"]),
    ("motivated_refusal", ["04-12/5517", "2026 жылғы 12 қараша, № KZ12RVV00457812", "301-03.1", "Оспанов Д. Е.",
                           "781205******"]),
])
def test_each_type_shows_its_main_facts(page_client, documents, doc_type, facts):
    html = page_client.get(f"/v/{documents[doc_type].token}?lang=kk").text
    for fact in facts:
        assert fact in html, fact


def test_no_full_iin_of_a_citizen_or_an_official_appears_anywhere(page_client, documents):
    """The citizens' IINs (holder, applicants) and the signing officials' IINs are in the
    documents' data and certificates; the page, its JSON and a compare result show none."""
    compare = page_client.post(f"/v/{documents['land_right_act'].token}/compare",
                               files={"file": ("act.pdf", documents["land_right_act"].pdf, "application/pdf")})
    bodies = [compare.text]
    for doc in documents.values():
        for lang in ("kk", "ru", "en"):
            bodies.append(page_client.get(f"/v/{doc.token}?lang={lang}").text)
        bodies.append(page_client.get(f"/v/{doc.token}.json").text)
    for body in bodies:
        for iin in (CITIZEN_IIN, REFUSED_IIN, DEV_SIGNER_IIN, "750512400569"):
            assert iin not in body
    assert sum(CITIZEN_IIN_MASKED in b for b in bodies) >= 12


def test_the_language_comes_from_the_link_then_the_browser(page_client, documents):
    token = documents["address_certificate"].token
    assert 'lang="ru"' in page_client.get(f"/v/{token}", headers={"Accept-Language": "ru-RU,ru;q=0.9"}).text[:80]
    assert 'lang="en"' in page_client.get(f"/v/{token}", headers={"Accept-Language": "de,en;q=0.5"}).text[:80]
    r = page_client.get(f"/v/{token}", headers={"Accept-Language": "de-DE"})
    assert r.text.startswith('<!doctype html>\n<html lang="kk"') and "Accept-Language" in r.headers["vary"]
    r = page_client.get(f"/v/{token}?lang=en", headers={"Accept-Language": "ru"})
    o = outline(r.text)
    switch = {a["hreflang"]: a for tag, a in o.tags if tag == "a" and "hreflang" in a}
    assert set(switch) == {"kk", "ru", "en"} and switch["en"].get("aria-current") == "true"
    assert switch["kk"]["href"] == f"/v/{token}?lang=kk" and switch["kk"]["lang"] == "kk"
    # every link of the page keeps the language
    links = [a["href"] for tag, a in o.tags if tag == "a" and a.get("href", "").startswith("/v/")]
    assert links and all("lang=" in h for h in links)
    assert all(a.get("action", "").endswith("lang=en") for tag, a in o.tags if tag == "form" and a.get("method") == "post")


def test_the_page_is_accessible_html_without_script(page_client, documents):
    r = page_client.get(f"/v/{documents['cadastral_value_act'].token}?lang=kk")
    html = r.text
    o = outline(html)
    tags = [t for t, _ in o.tags]
    assert "script" not in tags and "<script" not in html
    assert not re.search(r"<[^>]+\son\w+=", html)                      # no inline handlers either
    assert tags.count("main") == 1 and "header" in tags and "footer" in tags and "nav" in tags
    nav = next(a for t, a in o.tags if t == "nav")
    assert nav.get("aria-label")
    levels = [level for level, _ in o.headings]
    assert levels.count(1) == 1 and levels[0] == 1
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:]))         # no skipped level
    assert o.controls and all(c.get("id") in o.labels for c in o.controls)
    assert set(o.langs) <= {"kk", "ru", "en"}
    assert next(a for t, a in o.tags if t == "a")["href"] == "#main"    # skip link first
    assert next(a for t, a in o.tags if t == "meta" and a.get("name") == "viewport")
    css = next(a["href"] for t, a in o.tags if t == "link" and a.get("rel") == "stylesheet")
    sheet = page_client.get(css)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/css")
    assert "immutable" in sheet.headers["cache-control"] and ":focus-visible" in sheet.text
    assert page_client.get("/assets/web/qujat.000000000000.css").status_code == 404


def test_security_headers_and_escaping(site, page_client):
    doc = issue_example(site.runtime, "motivated_refusal", "ru")
    annul(site.runtime, doc.record.id, '<script>alert("x")</script> & <b>жалған</b>', Caller("web-tests", "web-tests"))
    r = page_client.get(f"/v/{doc.token}")
    assert "<script>" not in r.text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;" in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["referrer-policy"] == "no-referrer" and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert '<meta name="robots" content="noindex, nofollow">' in r.text


def test_a_typed_code_finds_the_document(page_client, documents):
    token = documents["land_right_act"].token
    typed = format_token(token).lower().replace("0", "o").replace("1", "l")
    r = page_client.get(f"/v/{typed}?lang=ru")
    assert r.status_code == 308 and r.headers["location"] == f"/v/{token}?lang=ru"
    r = page_client.get("/v", params={"code": " " + format_token(token, " ") + " ", "lang": "en"})
    assert r.status_code == 303 and r.headers["location"] == f"/v/{token}?lang=en"
    form = page_client.get("/v?lang=kk")
    assert form.status_code == 200 and 'name="code"' in form.text and text("lookup_heading", "kk") in form.text
    typo = "Z" if token[-1] != "Z" else "Y"          # a check character that differs from the real one
    bad = page_client.get("/v", params={"code": format_token(token)[:-1] + typo, "lang": "kk"})
    assert bad.status_code == 400 and text("not_found.check", "kk") in bad.text and 'aria-invalid="true"' in bad.text


def test_an_unknown_or_mistyped_code_gets_a_404_page(page_client):
    unknown = new_token()
    for path, message in ((f"/v/{unknown}?lang=ru", text("not_found.unknown", "ru")),
                          (f"/v/{unknown[:-1]}{'Z' if unknown[-1] != 'Z' else 'Y'}?lang=kk", text("not_found.check", "kk")),
                          ("/v/abc?lang=en", text("not_found.length", "en", n=28)),
                          (f"/v/{unknown}/pdf", text("not_found.unknown", "kk"))):
        r = page_client.get(path)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), path
        assert message in r.text and text("not_found", r.headers["content-language"]) in r.text
        assert 'name="code"' in r.text                               # the page offers to type it again
    r = page_client.get(f"/v/{unknown}.json")
    assert r.status_code == 404 and r.json()["code"] == "not_found" and r.json()["reason"] == "unknown"
    r = page_client.post(f"/v/{unknown}/compare", files={"file": ("a.pdf", b"%PDF-1.7", "application/pdf")})
    assert r.status_code == 404


def test_the_json_for_machines(page_client, documents):
    doc = documents["land_right_act"]
    r = page_client.get(f"/v/{format_token(doc.token).lower()}.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    j = r.json()
    sha = hashlib.sha256(doc.pdf).hexdigest()
    assert j["token"] == doc.token and j["code"] == format_token(doc.token)
    assert j["verification_url"] == f"https://qujat.test/v/{doc.token}"
    assert j["status"] == "valid" and j["valid"] is True and j["annulled"] is None
    assert j["pdf_sha256"] == sha and j["current_version"] == 1
    assert [(v["number"], v["pdf_sha256"], v["current"]) for v in j["versions"]] == [(1, sha, True)]
    d = j["document"]
    assert d["type"] == "land_right_act" and d["number"] == "2026-0012345" and d["issued_on"] == "2026-11-20"
    assert d["issuer"]["bin"] == "050640001236"
    facts = {f["key"]: f["value"] for f in d["facts"]}
    assert facts["holders"] == [{"kind": "person", "name": "Сәрсенбаев Н. Қ.", "iin": CITIZEN_IIN_MASKED}]
    assert facts["cadastral_number"] == "03-047-009-1234" and facts["area_ha"] == "0.1617"
    assert facts["right_kind"] == "temporary_paid_land_use"
    (sig,) = j["signatures"]
    assert sig["name"] == DEV_SIGNER and sig["check"] == "passed" and sig["indication"] == "TOTAL_PASSED"
    assert sig["role"] == "ceo" and "ЖЕР КАДАСТРЫ" in sig["organization"]


def test_the_issued_pdf_downloads(page_client, documents):
    doc = documents["cadastral_information"]
    r = page_client.get(f"/v/{doc.token}/pdf")
    assert r.status_code == 200 and r.content == doc.pdf and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f'attachment; filename="cadastral_information_{doc.token}_v1.pdf"'
    assert page_client.get(f"/v/{doc.token}/pdf?version=1").content == doc.pdf
    assert page_client.get(f"/v/{doc.token}/pdf?version=2").status_code == 404


def test_upload_and_compare(page_client, documents):
    doc = documents["cadastral_value_act"]
    url = f"/v/{doc.token}/compare?lang=ru"
    r = page_client.post(url, files={"file": ("акт.pdf", doc.pdf, "application/pdf")})
    assert r.status_code == 200 and text("match.title", "ru") in r.text and text("match.current", "ru", n=1) in r.text
    assert "status-valid" in r.text and hashlib.sha256(doc.pdf).hexdigest() in r.text and "акт.pdf" in r.text
    changed = doc.pdf.replace(b"/Type", b"/Typf", 1)                  # one byte differs
    r = page_client.post(url, files={"file": ("копия.pdf", changed, "application/pdf")})
    assert r.status_code == 200 and text("no_match.title", "ru") in r.text and "status-annulled" in r.text
    assert text("no_match", "ru") in r.text and text("match.title", "ru") not in r.text
    assert hashlib.sha256(changed).hexdigest() in r.text
    empty = page_client.post(url, files={"file": ("пусто.pdf", b"", "application/pdf")})
    assert empty.status_code == 400 and text("upload.empty", "ru") in empty.text
    no_file = page_client.post(url, data={"other": "x"})
    assert no_file.status_code == 400
    broken = page_client.post(url, content=b"--x\r\nnot multipart", headers={"content-type": "multipart/form-data; boundary=x"})
    assert broken.status_code == 400 and text("upload.bad_form", "ru") in broken.text


def test_too_large_an_upload_is_refused_before_it_is_read(site):
    app = small_app(site.runtime, PublicOptions(max_upload_bytes=1024 * 1024))
    doc_token = issue_example(site.runtime, "address_certificate", "kk").token
    with TestClient(app) as c:
        r = c.post(f"/v/{doc_token}/compare?lang=en", files={"file": ("big.pdf", b"%PDF" + b"0" * (2 * 1024 * 1024))})
    assert r.status_code == 413 and text("upload.too_large", "en", mb=1) in r.text


def test_a_new_version_supersedes_the_old_one(site, page_client):
    doc = issue_example(site.runtime, "land_right_act", "kk")
    second = add_version(site.runtime, doc)
    html = page_client.get(f"/v/{doc.token}?lang=kk").text
    assert html.index(text("version", "kk", n=2)) < html.index(text("version", "kk", n=1))   # newest first
    assert text("version.current", "kk") in html and text("version.superseded", "kk") in html
    assert hashlib.sha256(second).hexdigest() in html and hashlib.sha256(doc.pdf).hexdigest() in html
    assert page_client.get(f"/v/{doc.token}/pdf").content == second
    assert page_client.get(f"/v/{doc.token}/pdf?version=1").content == doc.pdf
    r = page_client.post(f"/v/{doc.token}/compare?lang=kk", files={"file": ("old.pdf", doc.pdf)})
    assert text("match.older", "kk", n=1, current=2) in r.text and "status-superseded" in r.text
    assert f'href="/v/{doc.token}/pdf?lang=kk"' in r.text                # the current version's download
    j = page_client.get(f"/v/{doc.token}.json").json()
    assert j["current_version"] == 2 and [v["current"] for v in j["versions"]] == [False, True]


def test_a_superseded_record_says_so(site, page_client):
    from store import Status

    doc = issue_example(site.runtime, "cadastral_information", "ru")
    add_version(site.runtime, doc, status=Status.SUPERSEDED)
    html = page_client.get(f"/v/{doc.token}?lang=ru").text
    assert text("status.superseded", "ru") in html and text("status.superseded.note", "ru", n=2) in html
    assert "status-superseded" in html and text("version.latest", "ru") in html


def test_an_annulled_document_shows_the_reason_and_date(site, page_client):
    from qujat.web.facts import format_moment
    from zoneinfo import ZoneInfo

    doc = issue_example(site.runtime, "land_right_act", "kk+ru")
    reason = "Сот шешімімен күші жойылды (ЖСН 850314300122) / Отменён решением суда"
    record = annul(site.runtime, doc.record.id, reason, Caller("web-tests", "web-tests"))
    for lang in ("kk", "ru", "en"):
        html = page_client.get(f"/v/{doc.token}?lang={lang}").text
        assert text("status.annulled", lang) in html and "status-annulled" in html
        assert format_moment(record.annulled_at, lang, ZoneInfo("Asia/Almaty")) in html
        assert "Сот шешімімен күші жойылды (ЖСН 850314******) / Отменён решением суда" in html
        assert CITIZEN_IIN not in html
    j = page_client.get(f"/v/{doc.token}.json").json()
    assert j["status"] == "annulled" and j["valid"] is False
    assert j["annulled"] == {"at": record.annulled_at.isoformat(), "reason": reason.replace(CITIZEN_IIN, CITIZEN_IIN_MASKED)}
    r = page_client.post(f"/v/{doc.token}/compare?lang=ru", files={"file": ("a.pdf", doc.pdf)})
    assert text("match.annulled", "ru") in r.text and "status-annulled" in r.text


def test_the_page_and_compare_are_rate_limited_per_client(site, documents):
    token = documents["motivated_refusal"].token
    app = small_app(site.runtime, PublicOptions(limits=RateLimits(page="3/minute", download="1/minute", compare="1/minute")))
    with TestClient(app) as c:
        assert [c.get(f"/v/{token}?lang=ru").status_code for _ in range(3)] == [200, 200, 200]
        r = c.get(f"/v/{token}?lang=ru")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert text("too_many", "ru") in r.text and r.headers["content-type"].startswith("text/html")
        assert c.get(f"/v/{token}.json").status_code == 429                # the same budget
        assert c.get(f"/v/{token}/pdf").status_code == 200
        assert c.get(f"/v/{token}/pdf").status_code == 429
        assert c.post(f"/v/{token}/compare", files={"file": ("a.pdf", b"x")}).status_code == 200
        assert c.post(f"/v/{token}/compare", files={"file": ("a.pdf", b"x")}).status_code == 429
    with TestClient(app, client=("203.0.113.9", 5555)) as other:            # another client is not affected
        assert other.get(f"/v/{token}").status_code == 200


def test_the_real_app_serves_the_page(site, documents):
    """`qujat.api.create_app` includes the router: the page, its JSON, the PDF through uvicorn."""
    import httpx2

    token = documents["land_right_act"].token
    with httpx2.Client(base_url=site.url, timeout=60) as c:
        r = c.get(f"/v/{token}", headers={"Accept-Language": "ru"})
        assert r.status_code == 200 and text("status.valid", "ru") in r.text and CITIZEN_IIN not in r.text
        assert c.get(f"/v/{token}.json").json()["pdf_sha256"] == hashlib.sha256(documents["land_right_act"].pdf).hexdigest()
        assert c.get(f"/v/{token}/pdf").content == documents["land_right_act"].pdf
        assert c.get(f"/v/{new_token()}").status_code == 404


def test_another_endpoint_can_share_the_upload_budget(site, documents):
    """`rate_limit` lets the API's /verify count against the same per-client budget as compare."""
    from fastapi import Depends

    options = PublicOptions(limits=RateLimits(page="100/minute", download="100/minute", compare="2/minute"))
    app = small_app(site.runtime, options)

    @app.post("/verify", dependencies=[Depends(rate_limit("compare", options))])
    def verify() -> dict:
        return {"ok": True}

    token = documents["address_certificate"].token
    with TestClient(app) as c:
        assert c.post("/verify").status_code == 200
        assert c.post(f"/v/{token}/compare", files={"file": ("a.pdf", b"x")}).status_code == 200
        r = c.post("/verify")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert c.post(f"/v/{token}/compare", files={"file": ("a.pdf", b"x")}).status_code == 429
    with pytest.raises(ValueError):
        rate_limit("uploads")
