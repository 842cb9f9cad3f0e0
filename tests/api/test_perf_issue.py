"""What one POST /documents costs the database, on the session's real server (uvicorn, LibreOffice,
the SQLite store): the API key's read, the Idempotency-Key's claim when one is sent, and ONE
writing transaction with the record, its version 1, its audit event (and the key marked done) —
the answer is built from what was written, with no read of the new record afterwards."""
from __future__ import annotations

import contextlib
import copy
import re
import threading
import uuid
from collections.abc import Iterator

from sqlalchemy import event

from tests.conftest import example

_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


@contextlib.contextmanager
def statements(live) -> Iterator[list[tuple[str, str]]]:
    """(verb, table) of every SQL statement the server's request threads run in the block
    (``BEGIN``/``BEGIN IMMEDIATE`` with an empty table); other threads (a batch) are left out."""
    seen: list[tuple[str, str]] = []
    engine = live.runtime.store.engine

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if not threading.current_thread().name.startswith("AnyIO worker thread"):
            return
        text = " ".join(statement.split())
        table = _TABLE.search(text)
        verb = "BEGIN IMMEDIATE" if text.upper().startswith("BEGIN IMMEDIATE") else text.split()[0].upper()
        seen.append((verb, table.group(1).lower() if table and verb != "BEGIN" else ""))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _request() -> dict:
    """The benchmark's request (bench/bench_http.py): a land-right act in Russian, no external_id."""
    raw = copy.deepcopy(example("land_right_act", "ru"))
    raw.pop("external_id", None)
    return raw


def test_issuing_is_one_write_transaction_and_reads_only_the_api_key(live, client):
    with statements(live) as seen:
        r = client.post("/documents", json=_request())
    assert r.status_code == 201, r.text
    body = r.json()
    assert [v["number"] for v in body["versions"]] == [1]
    assert body["links"]["self"] == f"/documents/{body['id']}"

    writes = [s for s in seen if s[0] in ("INSERT", "UPDATE", "DELETE")]
    assert sorted(writes) == [("INSERT", "audit_events"), ("INSERT", "records"), ("INSERT", "versions")]
    assert seen.count(("BEGIN IMMEDIATE", "")) == 1
    assert [s for s in seen if s[0] == "SELECT"] == [("SELECT", "api_keys")]

    # what the answer said is what was stored
    stored = live.runtime.store.versions(uuid.UUID(body["id"]))
    assert [v.pdf_sha256 for v in stored] == [body["versions"][0]["pdf_sha256"]]
    assert live.runtime.store.audit(uuid.UUID(body["id"]))[0].action.value == "issue"


def test_with_an_idempotency_key_the_claim_and_its_done_mark_are_the_only_additions(live, client):
    key = f"perf-{uuid.uuid4()}"
    with statements(live) as seen:
        r = client.post("/documents", json=_request(), headers={"Idempotency-Key": key})
    assert r.status_code == 201, r.text

    writes = [s for s in seen if s[0] in ("INSERT", "UPDATE", "DELETE")]
    assert sorted(writes) == [("INSERT", "audit_events"), ("INSERT", "idempotency_keys"),
                              ("INSERT", "records"), ("INSERT", "versions"), ("UPDATE", "idempotency_keys")]
    assert seen.count(("BEGIN IMMEDIATE", "")) == 2          # the claim, then the record
    assert sorted(s for s in seen if s[0] == "SELECT") == [("SELECT", "api_keys"), ("SELECT", "idempotency_keys")]

    # the key is done with that record: the same request answers it again, 200, nothing new
    again = client.post("/documents", json=_request(), headers={"Idempotency-Key": key})
    assert again.status_code == 200
    assert again.json()["id"] == r.json()["id"]
