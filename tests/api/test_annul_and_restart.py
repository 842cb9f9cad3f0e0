"""Annulment (status, reason, time, audit event; the versions stay) and a restart: a new server
on the same data directory has every record, API key and audit event of the old one."""
from __future__ import annotations

import datetime as dt
import hashlib

from tests.api.conftest import ALL_SCOPES, serve
from tests.api.helpers import fresh


def test_annul_marks_the_record_and_adds_an_audit_event(live, client):
    doc = client.post("/documents", json=fresh("land_right_act", "kk")).json()
    reason = "Аудандық әкімдіктің қаулысы жойылды / Постановление акимата отменено"
    with live.client("annuller") as annuller:                 # documents:annul alone is enough
        r = annuller.post(f"/documents/{doc['id']}/annul", json={"reason": reason})
    assert r.status_code == 200, r.text
    annulled = r.json()
    assert annulled["status"] == "annulled" and annulled["annulled_reason"] == reason
    # as times, not strings: "…:05Z" (a whole second) sorts after "…:05.000001Z"
    assert dt.datetime.fromisoformat(annulled["annulled_at"]) >= dt.datetime.fromisoformat(doc["created_at"])
    assert annulled["versions"] == doc["versions"]             # nothing of the document is lost
    assert client.get(doc["links"]["pdf"]).status_code == 200
    events = client.get(doc["links"]["audit"]).json()
    assert [e["action"] for e in events] == ["issue", "annul"]
    assert events[1]["details"]["reason"] == reason
    assert events[1]["details"]["pdf_sha256"] == doc["versions"][0]["pdf_sha256"]
    assert events[1]["actor"] == f"api-key:{live.keys['annuller'].split('_')[1]}"
    again = client.post(f"/documents/{doc['id']}/annul", json={"reason": "again"})
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert [e["action"] for e in client.get(doc["links"]["audit"]).json()] == ["issue", "annul"]


def test_a_restarted_server_keeps_records_keys_and_audit(tmp_path):
    data = tmp_path / "data"
    with serve(data, pool_size=1) as first:
        key = first.add_key("issuer", *ALL_SCOPES)
        with first.client() as c:
            kept = c.post("/documents", json=fresh("cadastral_value_act", "kk+ru")).json()
            gone = c.post("/documents", json=fresh("motivated_refusal", "ru")).json()
            assert c.post(f"/documents/{gone['id']}/annul", json={"reason": "қате / ошибка"}).status_code == 200
            pdf = c.get(kept["links"]["pdf"]).content
            audit = {d["id"]: c.get(d["links"]["audit"]).json() for d in (kept, gone)}
    with serve(data, pool_size=1) as second:
        second.keys["issuer"] = key                       # the same key, never stored in clear
        with second.client() as c:
            assert c.get(f"/documents/{kept['id']}").json() == kept
            after = c.get(f"/documents/{gone['id']}").json()
            assert after["status"] == "annulled" and after["annulled_reason"] == "қате / ошибка"
            assert hashlib.sha256(c.get(kept["links"]["pdf"]).content).digest() == hashlib.sha256(pdf).digest()
            assert {d["id"]: c.get(d["links"]["audit"]).json() for d in (kept, gone)} == audit
            third = c.post("/documents", json=fresh("address_certificate", "kk"))
            assert third.status_code == 201
        assert second.runtime.store.count("records") == 3
        assert [k.name for k in second.runtime.store.api_keys()] == ["issuer"]
