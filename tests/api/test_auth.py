"""API keys: no key or a wrong one is 401, a key without the endpoint's scope 403; nothing is
issued or changed either way."""
from __future__ import annotations

import pytest

from tests.api.helpers import fresh


def test_no_key_is_401_with_a_bearer_challenge(live):
    before = live.runtime.store.count("records")
    with live.client(None) as anonymous:
        r = anonymous.post("/documents", json=fresh("land_right_act"))
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert live.runtime.store.count("records") == before


@pytest.mark.parametrize("header", [
    "Bearer qujat_0123456789abcdef_" + "A" * 43,      # well-formed, unknown
    "Bearer not-a-key",
    "Basic dXNlcjpwYXNz",
    "Bearer",
])
def test_a_wrong_key_is_401(live, header):
    with live.client(None, headers={"Authorization": header}) as c:
        for method, path in (("POST", "/documents"), ("GET", "/documents/0190d1c4-0000-7000-8000-000000000000"),
                             ("POST", "/documents/0190d1c4-0000-7000-8000-000000000000/annul")):
            r = c.request(method, path, json={"reason": "x"})
            assert r.status_code == 401, (path, r.text)
            assert r.json()["code"] == "unauthorized"
            assert "qujat_" not in r.text


def test_a_key_that_is_tampered_with_or_revoked_is_401(live, client):
    secret = live.add_key("short-lived", "documents:issue")
    with live.client(None, headers={"Authorization": f"Bearer {secret[:-1]}x"}) as c:
        assert c.post("/documents", json=fresh("land_right_act")).status_code == 401
    live.runtime.store.revoke_api_key(secret.split("_")[1], actor="test")
    with live.client("short-lived") as c:
        assert c.post("/documents", json=fresh("land_right_act")).status_code == 401


def test_a_key_without_the_scope_is_403(live, client):
    doc = client.post("/documents", json=fresh("address_certificate", "kk")).json()
    with live.client("reader") as reader, live.client("batcher") as batcher, live.client("annuller") as annuller:
        r = reader.post("/documents", json=fresh("address_certificate", "kk"))
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        assert "documents:issue" in r.json()["message"]
        assert 'insufficient_scope' in r.headers["www-authenticate"]
        assert reader.post(f"/documents/{doc['id']}/annul", json={"reason": "x"}).status_code == 403
        assert batcher.get(f"/documents/{doc['id']}").status_code == 403
        assert batcher.get(doc["links"]["pdf"]).status_code == 403
        assert annuller.post("/documents", json=fresh("land_right_act")).status_code == 403
    assert client.get(f"/documents/{doc['id']}").json()["status"] == "valid"
