"""Every version of a document stays downloadable over the API (`?version=N` on /pdf and /docx),
and a version says which batch made it."""
from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from qujat import service
from qujat.api import create_app
from qujat.settings import Settings
from store import NewVersion, TemplateRef
from store.batches import RecordFilter
from tests.conftest import example

pytestmark = pytest.mark.slow          # an app with a LibreOffice worker


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("versions") / "data", pool_size=1,
                        public_base_url="https://qujat.test")
    app = create_app(settings)
    with TestClient(app) as client:
        _, key = app.state.runtime.store.create_api_key("archive", ["documents:read"], actor="test")
        client.headers["Authorization"] = f"Bearer {key}"
        yield client, app.state.runtime


def test_each_version_is_served_by_number_and_the_current_one_by_default(api):
    client, rt = api
    record = service.issue(rt, example("address_certificate", "kk"), caller=service.Caller("t", "t")).record
    (v1,) = service.versions(rt, record.id)
    second = NewVersion(pdf=b"%PDF-1.7 version two", docx=b"PK\x03\x04 version two",
                        templates={"kk": TemplateRef("9", "b" * 64)})
    rt.store.add_version(record.id, second, actor="test")

    one = client.get(f"/documents/{record.id}/pdf", params={"version": 1})
    assert one.status_code == 200 and hashlib.sha256(one.content).hexdigest() == v1.pdf_sha256
    assert 'filename="address_certificate_kk_v1.pdf"' in one.headers["content-disposition"]
    assert client.get(f"/documents/{record.id}/pdf").content == b"%PDF-1.7 version two"
    assert client.get(f"/documents/{record.id}/pdf", params={"version": 2}).content == b"%PDF-1.7 version two"
    docx = client.get(f"/documents/{record.id}/docx", params={"version": 1})
    assert docx.status_code == 200 and hashlib.sha256(docx.content).hexdigest() == v1.docx_sha256

    missing = client.get(f"/documents/{record.id}/pdf", params={"version": 3})
    assert missing.status_code == 404 and "no version 3" in missing.json()["message"]
    for bad in ("0", "-1", "two"):
        r = client.get(f"/documents/{record.id}/pdf", params={"version": bad})
        assert r.status_code == 422 and r.json()["problems"][0]["path"].endswith("version"), bad

    batch = rt.store.batch_create(kind="regenerate", spec={"ids": [str(record.id)]}, spec_hash="c" * 64,
                                  actor="test", where=RecordFilter(ids=(record.id,)), classify=lambda c: None)
    third = NewVersion(pdf=b"%PDF-1.7 version three", docx=b"PK\x03\x04 three", templates=second.templates)
    assert rt.store.batch_add_version(batch.id, record.id, third, actor="test").number == 3
    versions = client.get(f"/documents/{record.id}/versions").json()
    assert [(v["number"], v["batch_id"]) for v in versions] == [(1, None), (2, None), (3, str(batch.id))]
