"""Issuing is idempotent (IETF Idempotency-Key draft, and the caller's external_id): one record
however often, or however concurrently, the same request comes."""
from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.api.helpers import fresh


def records(live) -> int:
    return live.runtime.store.count("records")


def test_fifty_parallel_identical_posts_with_one_key_make_one_record(live):
    raw = fresh("land_right_act", "kk")
    key = f"parallel-{uuid.uuid4()}"
    before = records(live)
    start = threading.Barrier(50)

    def post(_):
        with live.client() as c:
            start.wait()
            return c.post("/documents", json=raw, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(post, range(50)))
    statuses = sorted(r.status_code for r in answers)
    assert all(s < 500 for s in statuses), statuses
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {200, 201, 409}, statuses
    for r in answers:
        if r.status_code == 409:                     # still in flight: try again shortly
            assert r.json()["code"] == "in_flight" and r.headers["retry-after"]
    ids = {r.json()["id"] for r in answers if r.status_code in (200, 201)}
    assert len(ids) == 1
    assert records(live) == before + 1
    with live.client() as c:                         # afterwards, the key answers the record
        again = c.post("/documents", json=raw, headers={"Idempotency-Key": key})
    assert again.status_code == 200 and again.json()["id"] in ids


def test_the_same_key_with_another_body_is_422_and_changes_nothing(client, live):
    key = f"k-{uuid.uuid4()}"
    raw = fresh("address_certificate", "ru")
    first = client.post("/documents", json=raw, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    before = records(live)
    other = dict(raw, language="kk")
    r = client.post("/documents", json=other, headers={"Idempotency-Key": key})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "idempotency_key_reused"
    assert r.json()["problems"][0]["path"] == "header.idempotency-key"
    assert records(live) == before


def test_key_order_and_spacing_do_not_make_another_body(client):
    key = f'"{uuid.uuid4()}"'                        # the draft's quoted form is accepted too
    raw = fresh("motivated_refusal", "ru")
    first = client.post("/documents", json=raw, headers={"Idempotency-Key": key})
    reordered = json.dumps(dict(reversed(list(raw.items()))), ensure_ascii=False, indent=3)
    second = client.post("/documents", content=reordered.encode(),
                         headers={"Idempotency-Key": key.strip('"'), "Content-Type": "application/json"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]


def test_an_idempotency_key_is_per_api_key(live):
    live.add_key("issuer-2", "documents:issue")
    key = f"shared-{uuid.uuid4()}"
    raw, other = fresh("cadastral_information", "kk"), fresh("cadastral_information", "kk")
    with live.client("issuer") as a, live.client("issuer-2") as b:
        assert a.post("/documents", json=raw, headers={"Idempotency-Key": key}).status_code == 201
        assert b.post("/documents", json=other, headers={"Idempotency-Key": key}).status_code == 201


def test_an_invalid_request_does_not_use_up_its_key(client):
    key = f"k-{uuid.uuid4()}"
    raw = fresh("land_right_act", "ru")
    bad = json.loads(json.dumps(raw))
    bad["data"]["holder"]["iin"] = "850314300123"     # wrong check digit
    r = client.post("/documents", json=bad, headers={"Idempotency-Key": key})
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "data.holder.iin"
    assert client.post("/documents", json=raw, headers={"Idempotency-Key": key}).status_code == 201


def test_external_id_makes_issuing_idempotent_without_a_key(client, live):
    raw = fresh("cadastral_value_act", "ru")
    first = client.post("/documents", json=raw)
    before = records(live)
    again = client.post("/documents", json=raw)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and records(live) == before
    other = json.loads(json.dumps(raw))
    other["data"]["rows"][0]["area"] = "1.5"
    r = client.post("/documents", json=other)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "external_id_taken" and r.json()["problems"][0]["path"] == "external_id"
    assert records(live) == before


def test_a_malformed_idempotency_key_is_422(client):
    r = client.post("/documents", json=fresh("land_right_act"), headers={"Idempotency-Key": "two words"})
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "header.idempotency-key"
