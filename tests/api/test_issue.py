"""POST /documents end to end: each type issued over HTTP comes back signed (the cadastral value
act twice), verifies with our verifier and poppler's pdfsig, and its QR opens the record's public
page (200); the record, its files, versions and audit trail are readable with the API."""
from __future__ import annotations

import hashlib
import io
import zipfile

import httpx2
import pytest

from tests.api.helpers import check_signed_document, fresh
from tests.conftest import LANGS, TYPES

# every type once, every language at least once (all 15 in the slow test below)
REPRESENTATIVE = [("land_right_act", "kk+ru"), ("cadastral_information", "kk"),
                  ("address_certificate", "ru"), ("cadastral_value_act", "kk+ru"),
                  ("motivated_refusal", "kk")]


def issue_and_check(live, client, doc_type, lang, tmp_path) -> dict:
    raw = fresh(doc_type, lang)
    r = client.post("/documents", json=raw)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["type"] == doc_type and doc["language"] == lang and doc["status"] == "valid"
    assert doc["external_id"] == raw["external_id"]
    assert doc["verification_url"] == f"{live.base_url}/v/{doc['token']}"
    assert r.headers["location"] == doc["links"]["self"] == f"/documents/{doc['id']}"
    assert doc["current_version"] == 1 and [v["number"] for v in doc["versions"]] == [1]
    pdf = client.get(doc["links"]["pdf"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == doc["versions"][0]["pdf_sha256"]
    check_signed_document(pdf.content, doc, live.runtime, tmp_path)     # the QR decodes to verification_url
    page = httpx2.get(doc["verification_url"], headers={"Accept-Language": "ru"}, timeout=60)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    return doc


@pytest.mark.parametrize("doc_type, lang", REPRESENTATIVE)
def test_each_type_is_issued_signed_and_verifiable(live, client, doc_type, lang, tmp_path):
    doc = issue_and_check(live, client, doc_type, lang, tmp_path)
    langs = ["kk", "ru"] if lang == "kk+ru" else [lang]
    assert sorted(doc["versions"][0]["templates"]) == langs


@pytest.mark.slow
def test_all_fifteen_combinations_over_http(live, client, tmp_path):
    tokens = set()
    for doc_type in TYPES:
        for lang in LANGS:
            tokens.add(issue_and_check(live, client, doc_type, lang, tmp_path)["token"])
    assert len(tokens) == 15


def test_the_record_its_files_versions_and_audit_are_readable(live, client, tmp_path):
    raw = fresh("land_right_act", "ru")
    doc = client.post("/documents", json=raw).json()
    with live.client("reader") as reader:           # documents:read is enough to read
        got = reader.get(f"/documents/{doc['id']}")
        assert got.status_code == 200 and got.json() == doc
        sent = raw["data"]["land_plot"]["cadastral_number"]
        assert ":" in sent and got.json()["data"]["land_plot"]["cadastral_number"] == sent.replace(":", "-")
        docx = reader.get(doc["links"]["docx"])
        assert docx.status_code == 200
        assert hashlib.sha256(docx.content).hexdigest() == doc["versions"][0]["docx_sha256"]
        assert "word/document.xml" in zipfile.ZipFile(io.BytesIO(docx.content)).namelist()
        assert 'filename="land_right_act_ru_v1.docx"' in docx.headers["content-disposition"]
        versions = reader.get(doc["links"]["versions"]).json()
        assert versions == doc["versions"]
        (event,) = reader.get(doc["links"]["audit"]).json()
    key_id = live.keys["issuer"].split("_")[1]
    assert event["action"] == "issue" and event["actor"] == f"api-key:{key_id}"
    assert event["details"]["pdf_sha256"] == doc["versions"][0]["pdf_sha256"]
    assert event["details"]["external_id"] == raw["external_id"]


def test_the_dates_and_signatures_of_a_version_are_recorded(live, client):
    doc = client.post("/documents", json=fresh("cadastral_value_act", "kk")).json()
    (version,) = doc["versions"]
    assert [s["signer"] for s in version["signatures"]] == ["ЖАНДОСОВ АЙДАР", "ОМАРОВА ДИНАРА"]
    assert version["signatures"][0]["time"] <= version["signatures"][1]["time"]
    assert version["templates"]["kk"]["version"] and len(version["templates"]["kk"]["sha256"]) == 64
