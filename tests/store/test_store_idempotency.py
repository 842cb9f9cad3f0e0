"""Idempotency keys (IETF Idempotency-Key draft): same key and body → the same record; another
body → a mismatch; while the first request runs → in flight. Twenty concurrent requests with one
key make exactly one record, on both backends."""
from __future__ import annotations

import secrets
import threading
import time

import pytest

from store import Conflict, IdempotencyMismatch, InFlight, NotFound, request_fingerprint
from tests.store.helpers import content, new_record

BODY = {"type": "land_right_act", "language": "kk", "data": {"owner": "Әлібек"}}
FP = request_fingerprint(BODY)


def test_the_fingerprint_ignores_key_order_and_spacing():
    assert request_fingerprint({"b": 1, "a": [1, 2]}) == request_fingerprint({"a": [1, 2], "b": 1})
    assert request_fingerprint(b'{"a":1}') == request_fingerprint({"a": 1})
    assert request_fingerprint({"a": 1}) != request_fingerprint({"a": 2})


def test_same_key_and_body_give_the_same_record(store):
    assert store.idempotency_begin("akimat-1", "key-1", FP) is None
    made = new_record(store, idempotency_key="key-1")
    assert store.idempotency_begin("akimat-1", "key-1", FP) == made.id
    assert store.idempotency_begin("akimat-1", "key-1", FP) == made.id
    assert store.idempotency_begin("akimat-2", "key-1", FP) is None      # keys are per client
    assert store.count("records") == 1


def test_same_key_with_another_body_is_a_mismatch(store):
    store.idempotency_begin("akimat-1", "key-1", FP)
    with pytest.raises(IdempotencyMismatch):
        store.idempotency_begin("akimat-1", "key-1", request_fingerprint({**BODY, "language": "ru"}))
    new_record(store, idempotency_key="key-1")
    with pytest.raises(IdempotencyMismatch):
        store.idempotency_begin("akimat-1", "key-1", request_fingerprint({**BODY, "language": "ru"}))


def test_a_request_in_flight_is_signalled_until_its_claim_is_stale(store, clock):
    assert store.idempotency_begin("akimat-1", "key-1", FP) is None
    with pytest.raises(InFlight):
        store.idempotency_begin("akimat-1", "key-1", FP)
    clock.advance(minutes=9)
    with pytest.raises(InFlight):
        store.idempotency_begin("akimat-1", "key-1", FP)
    clock.advance(minutes=2)                 # the first process is presumed dead: taken over
    assert store.idempotency_begin("akimat-1", "key-1", FP) is None
    with pytest.raises(InFlight):
        store.idempotency_begin("akimat-1", "key-1", FP)


def test_a_failed_request_releases_its_key_and_a_done_key_stays(store):
    store.idempotency_begin("akimat-1", "key-1", FP)
    assert store.idempotency_release("akimat-1", "key-1") is True
    assert store.idempotency_release("akimat-1", "key-1") is False
    assert store.idempotency_begin("akimat-1", "key-1", request_fingerprint({"other": 1})) is None
    made = new_record(store, idempotency_key="key-1")
    with pytest.raises(Conflict) as done:
        store.idempotency_release("akimat-1", "key-1")
    assert done.value.record_id == made.id


def test_create_record_needs_a_begun_key_and_finishes_it_once(store):
    with pytest.raises(Conflict, match="not begun"):
        new_record(store, idempotency_key="never-begun")
    store.idempotency_begin("akimat-1", "key-1", FP)
    first = new_record(store, idempotency_key="key-1")
    with pytest.raises(Conflict, match="already done") as again:
        new_record(store, idempotency_key="key-1")
    assert again.value.record_id == first.id
    assert store.count("records") == 1


def test_finish_ties_a_key_to_an_existing_record(store):
    made = new_record(store, external_id="E-1")
    store.idempotency_begin("akimat-1", "key-1", FP)
    store.idempotency_finish("akimat-1", "key-1", made.id)
    assert store.idempotency_begin("akimat-1", "key-1", FP) == made.id
    store.idempotency_begin("akimat-1", "key-2", FP)
    with pytest.raises(NotFound):
        store.idempotency_finish("akimat-1", "key-2", __import__("uuid").uuid4())


def _issue_once(store, key: str, barrier: threading.Barrier):
    """What one HTTP request does: claim the key, then issue, or answer with the earlier record."""
    barrier.wait()
    deadline = time.monotonic() + 60
    while True:
        try:
            done = store.idempotency_begin("akimat-1", key, FP)
        except InFlight:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
            continue
        if done is not None:
            return done
        return new_record(store, idempotency_key=key, external_id="E-1", content=content("same")).id


def _in_threads(n: int, work) -> tuple[list, list]:
    results, errors, lock = [], [], threading.Lock()

    def run() -> None:
        try:
            value = work()
        except BaseException as e:  # noqa: BLE001 - collected and asserted on below
            with lock:
                errors.append(e)
        else:
            with lock:
                results.append(value)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


def test_twenty_concurrent_requests_with_one_key_make_exactly_one_record(store):
    barrier = threading.Barrier(20)
    results, errors = _in_threads(20, lambda: _issue_once(store, "key-concurrent", barrier))
    assert errors == []
    assert len(results) == 20 and len(set(results)) == 1
    assert store.count("records") == 1 and store.count("versions") == 1
    assert store.count("audit_events") == 1 and store.count("idempotency_keys") == 1
    assert store.idempotency_begin("akimat-1", "key-concurrent", FP) == results[0]


def test_twenty_concurrent_creates_with_one_external_id_make_exactly_one_record(store):
    barrier = threading.Barrier(20)

    def create():
        barrier.wait()
        return new_record(store, external_id="E-race", token=secrets.token_urlsafe(24)).id

    results, errors = _in_threads(20, create)
    assert len(results) == 1
    assert len(errors) == 19 and all(isinstance(e, Conflict) for e in errors)
    assert {e.record_id for e in errors} == set(results)
    assert store.count("records") == 1 and store.count("audit_events") == 1
