"""Records, versions and the audit trail on both backends: round trips, annulment keeping the
versions, an audit trail that only grows, no way to delete, and a reopened store keeping it all."""
from __future__ import annotations

import datetime as dt
import hashlib
import inspect as pyinspect
import secrets
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from store import (Action, Conflict, NewVersion, NotFound, SignatureInfo, Status, Store,
                   TemplateRef, token_key)
from tests.store.helpers import content, new_record

UTC = dt.timezone.utc


def test_a_created_record_reads_back_by_id_token_and_external_id(store, clock):
    token = secrets.token_urlsafe(24)
    made = new_record(store, token=token, external_id="ЖК-2025/001", status=Status.AWAITING_SIGNATURE,
                      data={"owner": "Әлібек Нұрланұлы", "plot": {"area_ha": 0.1234, "points": [[1, 2]]}})
    assert made.id.version == 7
    assert made.token == token and made.client_id == "akimat-1"
    assert made.type == "land_right_act" and made.language == "kk+ru"
    assert made.status is Status.AWAITING_SIGNATURE and made.current_version == 1
    assert made.created_at == clock.now and made.created_at.tzinfo == UTC
    assert made.annulled_at is None and made.annulled_reason is None
    assert store.get(made.id) == made
    assert store.get(str(made.id)) == made
    assert store.by_token(token) == made
    assert store.by_external_id("akimat-1", "ЖК-2025/001") == made
    assert made.data == {"owner": "Әлібек Нұрланұлы", "plot": {"area_ha": 0.1234, "points": [[1, 2]]}}


def test_version_one_keeps_hashes_templates_and_signatures(store, clock):
    c = content("v1")
    made = new_record(store, content=c)
    (v1,) = store.versions(made.id)
    assert (v1.record_id, v1.number, v1.created_at) == (made.id, 1, clock.now)
    assert v1.pdf_sha256 == hashlib.sha256(c.pdf).hexdigest()
    assert v1.docx_sha256 == hashlib.sha256(c.docx).hexdigest()
    assert v1.templates == c.templates
    assert v1.signatures == c.signatures
    assert v1.signatures[0].time == dt.datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    assert store.blobs.get(v1.pdf_sha256) == c.pdf and store.blobs.get(v1.docx_sha256) == c.docx
    (issued,) = store.audit(made.id)
    assert issued.action is Action.ISSUE and issued.actor == "key-issuer" and issued.at == clock.now
    assert issued.details["pdf_sha256"] == v1.pdf_sha256 and issued.details["docx_sha256"] == v1.docx_sha256
    assert issued.details["templates"]["kk"] == {"version": "3", "sha256": c.templates["kk"].sha256}


def test_create_record_with_version_answers_what_the_store_reads_back(store, clock):
    c = content("answered")
    made, v1 = store.create_record_with_version(
        client_id="akimat-1", doc_type="land_right_act", language="kk+ru",
        data={"owner": "Әлібек Нұрланұлы", "area_ha": 0.12}, token=secrets.token_urlsafe(24),
        content=c, actor="key-issuer", external_id="ЖК-2025/002")
    assert store.get(made.id) == made
    assert store.versions(made.id) == (v1,)
    assert v1.signatures[0].time.tzinfo == UTC and v1.created_at.tzinfo == UTC


def test_the_token_key_column_allows_a_case_insensitive_lookup(store):
    token = "AbCd-EfGh_" + secrets.token_urlsafe(18)
    made = new_record(store, token=token)
    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT token, token_key FROM records")).one()
    assert tuple(stored) == (token, token.lower().replace("-", "")) == (token, token_key(token))
    with pytest.raises(NotFound):
        store.by_token(token.lower())          # exact lookup; the normalising one comes later
    assert store.by_token(token) == made


def test_add_version_numbers_versions_and_records_the_event(store, clock):
    made = new_record(store, status=Status.AWAITING_SIGNATURE)
    clock.advance(minutes=5)
    signed = NewVersion(pdf=b"%PDF signed", docx=content().docx, templates=content().templates,
                        signatures=(SignatureInfo("head of department", clock.now),))
    v2 = store.add_version(made.id, signed, actor="key-signer", action=Action.SIGN, status=Status.VALID)
    clock.advance(days=30)
    v3 = store.add_version(str(made.id), content("regenerated"), actor="key-batch")
    assert (v2.number, v3.number) == (2, 3)
    assert store.versions(made.id) == (store.versions(made.id)[0], v2, v3)
    record = store.get(made.id)
    assert record.current_version == 3 and record.status is Status.VALID
    events = store.audit(made.id)
    assert [e.action for e in events] == [Action.ISSUE, Action.SIGN, Action.REGENERATE]
    assert [e.actor for e in events] == ["key-issuer", "key-signer", "key-batch"]
    assert events[1].details["previous_status"] == "awaiting_signature"
    assert events[1].details["pdf_sha256"] == hashlib.sha256(b"%PDF signed").hexdigest()
    assert events[2].details["version"] == 3 and events[2].at == clock.now


def test_annul_keeps_every_version_and_adds_an_audit_event(store, clock):
    made = new_record(store)
    store.add_version(made.id, content("2"), actor="key-batch")
    before = store.versions(made.id)
    clock.advance(hours=2)
    annulled = store.annul(made.id, "issued on a wrong decision", "key-annul")
    assert annulled.status is Status.ANNULLED
    assert annulled.annulled_reason == "issued on a wrong decision" and annulled.annulled_at == clock.now
    assert store.get(made.id) == annulled
    assert store.versions(made.id) == before and len(before) == 2
    for v in before:
        assert store.blobs.exists(v.pdf_sha256) and store.blobs.exists(v.docx_sha256)
    last = store.audit(made.id)[-1]
    assert (last.action, last.actor, last.at) == (Action.ANNUL, "key-annul", clock.now)
    assert last.details == {"reason": "issued on a wrong decision", "previous_status": "valid",
                            "version": 2, "pdf_sha256": before[-1].pdf_sha256}


def test_an_annulled_record_is_not_annulled_again_nor_given_versions(store):
    made = new_record(store)
    store.annul(made.id, "duplicate", "key-annul")
    with pytest.raises(Conflict) as again:
        store.annul(made.id, "again", "key-annul")
    assert again.value.record_id == made.id
    with pytest.raises(Conflict):
        store.add_version(made.id, content("2"), actor="key-batch")
    assert len(store.versions(made.id)) == 1
    assert [e.action for e in store.audit(made.id)] == [Action.ISSUE, Action.ANNUL]


def test_external_id_is_unique_per_client_and_tokens_are_unique(store):
    first = new_record(store, external_id="42")
    with pytest.raises(Conflict) as taken:
        new_record(store, external_id="42")
    assert taken.value.record_id == first.id
    other_client = new_record(store, client_id="akimat-2", external_id="42")
    assert other_client.id != first.id
    with pytest.raises(Conflict) as token_taken:
        new_record(store, token=first.token)
    assert token_taken.value.record_id == first.id
    assert store.count("records") == 2 and store.count("versions") == 2 and store.count("audit_events") == 2


def test_unknown_records_are_not_found(store):
    unknown = uuid.uuid4()
    for call in (lambda: store.get(unknown), lambda: store.by_token(secrets.token_urlsafe(24)),
                 lambda: store.by_external_id("akimat-1", "nope"), lambda: store.versions(unknown),
                 lambda: store.audit(unknown), lambda: store.annul(unknown, "x", "k"),
                 lambda: store.add_version(unknown, content(), actor="k")):
        with pytest.raises(NotFound):
            call()


@pytest.mark.parametrize("bad", [
    {"token": "short"}, {"token": "has space" + "x" * 20}, {"client_id": ""}, {"actor": " "},
    {"data": {"when": dt.date(2025, 1, 1)}}, {"data": ["not", "an", "object"]},
    {"status": Status.ANNULLED},
])
def test_bad_arguments_are_refused_before_anything_is_written(store, blob_dir, bad):
    with pytest.raises(ValueError):
        new_record(store, **bad)
    assert store.count("records") == 0
    assert not any(p.is_file() for p in blob_dir.rglob("*"))


def test_version_content_is_checked():
    with pytest.raises(ValueError):
        TemplateRef("1", "not a hash")
    with pytest.raises(ValueError):
        SignatureInfo("someone", dt.datetime(2025, 1, 1))         # naive
    with pytest.raises(ValueError):
        NewVersion(pdf=b"", docx=b"x", templates={"kk": TemplateRef("1", "0" * 64)})
    with pytest.raises(ValueError):
        NewVersion(pdf=b"x", docx=b"x", templates={})


def test_record_ids_sort_by_creation_time(store, clock):
    ids = []
    for _ in range(5):
        ids.append(new_record(store).id)
        clock.advance(milliseconds=1)
    assert sorted(ids) == ids
    with store.engine.connect() as conn:
        assert [uuid.UUID(str(r[0])) for r in conn.execute(text("SELECT id FROM records ORDER BY id"))] == ids


def test_the_store_offers_no_way_to_delete():
    public = {name for name, _ in pyinspect.getmembers(Store) if not name.startswith("_")}
    verbs = ("delete", "remove", "drop", "purge", "erase", "truncate", "destroy", "clear")
    assert not [name for name in public if any(v in name for v in verbs)]


def test_the_audit_trail_only_grows(store, clock):
    made = new_record(store)
    seen = store.audit(made.id)
    for step in (lambda: store.add_version(made.id, content("2"), actor="k2"),
                 lambda: store.add_version(made.id, content("3"), actor="k3", action=Action.SIGN),
                 lambda: store.annul(made.id, "reason", "k4")):
        clock.advance(seconds=1)
        step()
        now = store.audit(made.id)
        assert now[:len(seen)] == seen and len(now) == len(seen) + 1
        assert [e.id for e in now] == sorted(e.id for e in now)
        seen = now


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET actor = 'someone else'",
    "DELETE FROM audit_events",
    "DELETE FROM versions",
    "DELETE FROM records",
])
def test_the_database_refuses_to_rewrite_the_audit_trail_or_drop_versions(store, statement):
    made = new_record(store)
    store.annul(made.id, "reason", "key-annul")
    before = (store.audit(made.id), store.versions(made.id), store.get(made.id))
    with pytest.raises(DBAPIError) as refused, store.engine.begin() as conn:
        conn.execute(text(statement))
    message = str(refused.value.orig)
    assert "refused" in message or "FOREIGN KEY" in message or "foreign key" in message
    assert (store.audit(made.id), store.versions(made.id), store.get(made.id)) == before


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("table", ["audit_events", "versions"])
def test_postgresql_refuses_truncate_too(store, table):
    new_record(store)
    with pytest.raises(DBAPIError, match="refused"), store.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {table} CASCADE"))
    assert store.count(table) == 1


def test_reopening_the_store_keeps_everything(database_url, blob_dir, clock):
    with Store.open(database_url, blob_dir, clock=clock) as store:
        made = new_record(store, external_id="E-1")
        store.add_version(made.id, content("2"), actor="key-batch")
        record = store.annul(made.id, "reason", "key-annul")
        key, secret = store.create_api_key("upstream", ["documents:issue"], actor="cli")
        versions, events = store.versions(made.id), store.audit(made.id)
    with Store.open(database_url, blob_dir, clock=clock) as store:
        assert store.get(made.id) == record
        assert store.by_token(made.token) == record
        assert store.by_external_id("akimat-1", "E-1") == record
        assert store.versions(made.id) == versions
        assert store.audit(made.id) == events
        assert store.verify_api_key(secret) == key
        for v in versions:
            assert store.blobs.get(v.pdf_sha256) and store.blobs.get(v.docx_sha256)
