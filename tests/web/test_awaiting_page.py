"""The public page of a document awaiting its officials' signatures (issue 11): it says so in
kk/ru/en, shows who has signed and who is expected (IIN masked), offers no file (its /pdf answers
409 with a clear message), and once the last official has signed it is the page of any valid
document, with the signers and their times.

The officials are the dev PKI's enterprise head (expected by IIN) and authority head (expected by
BIN), whose CMSs are made as NCALayer makes them (`signing.deferred.make_detached_cms`)."""
from __future__ import annotations

import copy
import html
import uuid

import pytest
from fastapi.testclient import TestClient

from qujat import service, signflow
from qujat.api import create_app
from qujat.settings import Settings
from signing.deferred import make_detached_cms
from signing.keys import load_pkcs12, read_secret
from signing.ncacert import signer_fields
from signing.pki import load_dev_pki
from store import Conflict
from tests.conftest import example

# every test here runs on an app with a LibreOffice worker (started per module)
pytestmark = pytest.mark.slow

CALLER = service.Caller("web-tests", "web-tests")


@pytest.fixture(scope="module")
def app_client(tmp_path_factory):
    # the dev PKI's OCSP/CRL are not served: revocation is not checked when a CMS is taken
    settings = Settings(signature_revocation="off",
                        data_dir=tmp_path_factory.mktemp("awaiting") / "data", pool_size=1,
                        public_base_url="https://qujat.test")
    app = create_app(settings)
    with TestClient(app) as client:
        pki = load_dev_pki(settings.dev_pki_dir)       # made by the runtime on first use
        password = read_secret(file=pki.password_file)
        keys = {label: load_pkcs12(pki.p12(label), password) for label in ("enterprise-head", "authority-head")}
        yield app.state.runtime, client, keys


def _issue(rt, keys) -> object:
    raw = copy.deepcopy(example("cadastral_value_act"))
    raw["external_id"] = f"awaiting-{uuid.uuid4().hex[:10]}"
    head, official = (signer_fields(keys[k].signing_cert) for k in ("enterprise-head", "authority-head"))
    raw["signers"] = [{"role": "Кәсіпорын басшысы / Руководитель предприятия", "iin": head.iin},
                      {"role": "Уәкілетті орган / Уполномоченный орган", "bin": official.bin}]
    return service.issue(rt, raw, caller=CALLER).record, head, official


def _sign(rt, record, signer) -> None:
    step = signflow.next_step(rt, record.id)
    signflow.submit(rt, record.id, make_detached_cms(step.digest, signer), caller=CALLER)


def _page(client, token: str, lang: str) -> str:
    r = client.get(f"/v/{token}", params={"lang": lang})
    assert r.status_code == 200, r.text
    return html.unescape(r.text)


STATUS = {"kk": "Құжат қол қойылуын күтуде", "ru": "Документ ожидает подписания",
          "en": "The document is awaiting signatures"}
NO_FILE = {"kk": "барлық қолтаңба қойылғаннан кейін", "ru": "после того, как будут поставлены все подписи",
           "en": "once every signature is in"}


def test_awaiting_page_says_so_masks_the_expected_and_offers_no_file(app_client):
    rt, client, keys = app_client
    record, head, official = _issue(rt, keys)
    masked = head.iin[:6] + "******"
    for lang in ("kk", "ru", "en"):
        page = _page(client, record.token, lang)
        assert STATUS[lang] in page and NO_FILE[lang] in page, lang
        assert "status-awaiting_signature" in page
        assert masked in page and head.iin not in page
        assert official.bin in page                      # an organisation's BIN is public
        assert f"/v/{record.token}/pdf" not in page and 'type="file"' not in page
    assert "Қойылған қолтаңбалар: 0 / 2" in _page(client, record.token, "kk")
    assert "Құжатқа әлі ешкім қол қойған жоқ." in _page(client, record.token, "kk")
    r = client.get(f"/v/{record.token}/pdf", params={"lang": "ru"})
    assert r.status_code == 409 and "application/pdf" not in r.headers["content-type"]
    assert "Документ ожидает подписания" in html.unescape(r.text)
    facts = client.get(f"/v/{record.token}.json").json()
    assert facts["status"] == "awaiting_signature" and facts["valid"] is False
    assert facts["pdf_url"] is None and facts["versions"] == []
    assert [a["iin"] for a in facts["awaiting"]] == [masked, None]
    assert head.iin not in str(facts)

    _sign(rt, record, keys["enterprise-head"])
    page = _page(client, record.token, "kk")
    assert "Қойылған қолтаңбалар: 1 / 2" in page and "Жандосов Айдар" in page
    assert masked not in page                            # the first official is no longer awaited
    assert client.get(f"/v/{record.token}.json").json()["signatures"][0]["name"] == "Жандосов Айдар"

    _sign(rt, record, keys["authority-head"])
    page = _page(client, record.token, "ru")
    assert "Документ действителен" in page and "Документ ожидает подписания" not in page
    assert "Жандосов Айдар" in page and "Омарова Динара" in page
    assert page.count("Подпись подтверждена") == 2 and page.count("Время подписания") == 2
    r = client.get(f"/v/{record.token}/pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")


def test_a_document_annulled_before_it_was_signed_shows_annulled_and_no_file(app_client):
    rt, client, keys = app_client
    record, head, _ = _issue(rt, keys)
    _sign(rt, record, keys["enterprise-head"])
    service.annul(rt, record.id, "Өтініш кері қайтарылды / Заявление отозвано", CALLER)
    page = _page(client, record.token, "ru")
    assert "Документ аннулирован" in page and "Заявление отозвано" in page
    assert "Жандосов Айдар" in page and f"/v/{record.token}/pdf" not in page
    r = client.get(f"/v/{record.token}/pdf", params={"lang": "kk"})
    assert r.status_code == 409 and "Құжаттың күші жойылған" in html.unescape(r.text)
    assert client.get(f"/v/{record.token}.json").json()["annulled"]["reason"].endswith("Заявление отозвано")
    with pytest.raises(Conflict):
        signflow.next_step(rt, record.id)
    digest = signflow.signing_state(rt, record.id).digest
    with pytest.raises(signflow.SignatureRefused) as refused:
        signflow.submit(rt, record.id, make_detached_cms(digest, keys["authority-head"]), caller=CALLER)
    assert refused.value.status == 409 and refused.value.code == "not_awaiting"
    assert rt.store.versions(record.id) == ()


def test_the_page_shows_when_each_official_signed_not_when_the_pdf_was_prepared(tmp_path):
    """The signature dictionary's /M is written when the PDF is prepared for a signer, which may
    be days before the official signs; the page shows when the service took each signature."""
    import datetime as dt

    now = [dt.datetime.now(dt.timezone.utc).replace(microsecond=0)]
    settings = Settings(signature_revocation="off", data_dir=tmp_path / "data", pool_size=1,
                        public_base_url="https://qujat.test")
    with TestClient(create_app(settings, clock=lambda: now[0])) as client:
        rt = client.app.state.runtime
        pki = load_dev_pki(settings.dev_pki_dir)
        password = read_secret(file=pki.password_file)
        keys = {label: load_pkcs12(pki.p12(label), password) for label in ("enterprise-head", "authority-head")}
        record, _, _ = _issue(rt, keys)
        now[0] += dt.timedelta(days=2, hours=3)
        _sign(rt, record, keys["enterprise-head"])
        first = now[0]
        now[0] += dt.timedelta(days=5)
        _sign(rt, record, keys["authority-head"])
        facts = client.get(f"/v/{record.token}.json").json()
    assert facts["status"] == "valid"
    assert [dt.datetime.fromisoformat(s["signed_at"]) for s in facts["signatures"]] == [first, now[0]]
