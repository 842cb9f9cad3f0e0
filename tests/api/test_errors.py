"""Every error is JSON {code, message, problems: [{path, message}]}: invalid requests name their
fields, the framework's own 404/405/422 have the same shape, and bad input is never a 500."""
from __future__ import annotations

import pytest

from tests.api.helpers import fresh

UNKNOWN = "0190d1c4-0000-7000-8000-000000000000"


def shaped(r, status: int, code: str) -> list[dict]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"code", "message", "problems"} and body["code"] == code and body["message"]
    assert all(set(p) == {"path", "message"} for p in body["problems"])
    return body["problems"]


def test_invalid_json_is_422_for_the_whole_request(client, live):
    before = live.runtime.store.count("records")
    for body in (b"{", b"", b"[1, 2]", b"\xff\xfe", b'"text"', b"[" * 200_000 + b"]" * 200_000):
        problems = shaped(client.post("/documents", content=body, headers={"Content-Type": "application/json"}),
                          422, "invalid_request")
        assert problems[0]["path"] == ""
    assert live.runtime.store.count("records") == before


def test_an_invalid_request_names_every_field_it_breaks(client, live):
    before = live.runtime.store.count("records")
    raw = fresh("land_right_act", "kk+ru")
    raw["data"]["holder"]["iin"] = "12345"
    raw["data"]["land_plot"]["area_ha"] = "-1"
    raw["data"]["plan"]["points"][1]["x"] = "north"
    raw["data"]["right_kind"] = "lease"
    problems = shaped(client.post("/documents", json=raw), 422, "invalid_request")
    paths = {p["path"] for p in problems}
    assert {"data.holder.iin", "data.land_plot.area_ha", "data.plan.points.1.x", "data.right_kind"} <= paths
    assert live.runtime.store.count("records") == before


@pytest.mark.parametrize("raw, path", [
    ({"type": "passport", "language": "kk", "data": {}}, ""),
    ({"type": "land_right_act", "language": "en", "data": {}}, "language"),
    ({"language": "kk", "data": {}}, ""),
])
def test_a_wrong_envelope_is_422(client, raw, path):
    problems = shaped(client.post("/documents", json=raw), 422, "invalid_request")
    assert path in {p["path"] for p in problems}


def test_a_refusal_citing_another_service_ground_is_422(client):
    raw = fresh("motivated_refusal", "ru")
    raw["data"]["grounds"][0]["code"] = "no-such-ground"
    problems = shaped(client.post("/documents", json=raw), 422, "invalid_request")
    assert problems[0]["path"].startswith("data.grounds.0")


def test_a_body_that_is_not_json_is_415(client):
    shaped(client.post("/documents", content=b"type=land_right_act",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}), 415,
           "unsupported_media_type")


def test_unknown_documents_paths_and_methods(client):
    shaped(client.get(f"/documents/{UNKNOWN}"), 404, "not_found")
    shaped(client.get("/documents/not-an-id/pdf"), 404, "not_found")
    shaped(client.get(f"/documents/{UNKNOWN}/audit"), 404, "not_found")
    shaped(client.post(f"/documents/{UNKNOWN}/annul", json={"reason": "x"}), 404, "not_found")
    shaped(client.get("/no/such/path"), 404, "not_found")
    r = client.delete("/documents")
    shaped(r, 405, "method_not_allowed")
    assert "POST" in r.headers["allow"]
    shaped(client.get("/verify"), 405, "method_not_allowed")


def test_framework_validation_errors_have_the_same_shape(client):
    doc = client.post("/documents", json=fresh("cadastral_information", "ru")).json()
    problems = shaped(client.post(f"/documents/{doc['id']}/annul", json={}), 422, "invalid_request")
    assert problems == [{"path": "reason", "message": "Field required"}]
    problems = shaped(client.post(f"/documents/{doc['id']}/annul", json={"reason": "   "}), 422, "invalid_request")
    assert problems == [{"path": "reason", "message": "the reason must not be blank"}]
    problems = shaped(client.post(f"/documents/{doc['id']}/annul", json={"reason": "x", "by": "me"}),
                      422, "invalid_request")
    assert problems[0]["path"] == "by"
    shaped(client.post(f"/documents/{doc['id']}/annul", content=b"{", headers={"Content-Type": "application/json"}),
           422, "invalid_request")


def test_bodies_over_the_limit_are_413(client):
    big = b'{"type": "land_right_act", "pad": "' + b"x" * (3 * 2**20) + b'"}'
    shaped(client.post("/documents", content=big, headers={"Content-Type": "application/json"}), 413,
           "content_too_large")

    def chunks():                                     # no Content-Length: counted as it comes
        yield b'{"pad": "'
        for _ in range(40):
            yield b"x" * 2**16
        yield b'"}'

    shaped(client.post(f"/documents/{UNKNOWN}/annul", content=chunks(),
                       headers={"Content-Type": "application/json"}), 413, "content_too_large")
