"""The store's batch steps on SQLite and PostgreSQL: items per matching record, exactly one version
per record per batch (also when many threads race for the same item), failures and the finish."""
from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from store import Action
from store.batches import BatchAlreadyRunning, RecordFilter
from store.orm import BatchItemRow, BatchRow, VersionRow
from tests.store.helpers import content, new_record


def _batch(store, where=RecordFilter(), classify=None):
    classify = classify or (lambda c: "annulled" if c.status == "annulled" else None)
    return store.batch_create(kind="regenerate", spec={"t": 1}, spec_hash="a" * 64, actor="cli:test",
                              where=where, classify=classify)


def test_a_batch_takes_the_matching_records_and_skips_the_annulled(store):
    kept = [new_record(store) for _ in range(3)]
    other = new_record(store, doc_type="address_certificate")
    gone = new_record(store)
    store.annul(gone.id, "ошибка в данных", "cli:test")
    batch = _batch(store, RecordFilter(types=("land_right_act",), statuses=("valid", "annulled")))
    assert batch.total == 4 and batch.counts == {"pending": 3, "skipped": 1}
    assert set(store.batch_pending(batch.id)) == {r.id for r in kept}
    assert other.id not in {i.record_id for i in store.batch_items(batch.id)}
    assert store.batch_running("a" * 64).id == batch.id
    (skipped,) = store.batch_items(batch.id, states=("skipped",))
    assert (skipped.record_id, skipped.error) == (gone.id, "annulled")


def test_exactly_one_version_per_record_per_batch(store):
    record = new_record(store)
    batch = _batch(store)
    v = store.batch_add_version(batch.id, record.id, content("2"), actor="batch:w1", details={"worker": "w1"})
    assert v.number == 2
    assert store.batch_add_version(batch.id, record.id, content("3"), actor="batch:w2") is None
    assert [x.number for x in store.versions(record.id)] == [1, 2]
    assert store.get(record.id).current_version == 2
    assert store.batch_versions(batch.id) == [(record.id, 2)]
    event = store.audit(record.id)[-1]
    assert event.action is Action.REGENERATE and event.details["worker"] == "w1"
    assert event.details["batch_id"] == str(batch.id)
    # the database itself refuses a second version of the record for the batch
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert(VersionRow.__table__), {
            "record_id": record.id, "number": 3, "templates": {}, "pdf_sha256": "0" * 64,
            "docx_sha256": "0" * 64, "signatures": [], "created_at": store._clock(), "batch_id": batch.id})
    assert store.batch_finish_if_done(batch.id, "batch:w1") is True
    assert store.batch_finish_if_done(batch.id, "batch:w1") is False
    assert store.batch_get(batch.id).status == "finished"


def test_racing_threads_make_one_version(store):
    records = [new_record(store) for _ in range(4)]
    batch = _batch(store)
    results: list = []

    def work(n: int) -> None:
        for r in records:
            results.append(store.batch_add_version(batch.id, r.id, content(f"{r.id}-{n}"), actor=f"batch:w{n}"))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(v is not None for v in results) == len(records)
    for r in records:
        assert [x.number for x in store.versions(r.id)] == [1, 2]
    assert len(store.batch_versions(batch.id)) == len(records)


def test_a_failed_item_keeps_its_reason_and_an_annulled_record_is_skipped(store):
    bad, annulled = new_record(store), new_record(store)
    batch = _batch(store)
    assert store.batch_item_failed(batch.id, bad.id, "data.owner: field required")
    assert not store.batch_item_failed(batch.id, bad.id, "again")
    store.annul(annulled.id, "ошибка", "cli:test")
    assert store.batch_add_version(batch.id, annulled.id, content("x"), actor="batch:w") is None
    items = {i.record_id: i for i in store.batch_items(batch.id)}
    assert (items[bad.id].state, items[bad.id].error) == ("failed", "data.owner: field required")
    assert (items[annulled.id].state, items[annulled.id].error) == ("skipped", "annulled")
    assert [v.number for v in store.versions(annulled.id)] == [1]
    assert store.batch_finish_if_done(batch.id, "batch:w")
    info = store.batch_get(batch.id)
    assert info.counts == {"failed": 1, "skipped": 1}


def test_a_retry_batch_takes_the_failed_items(store):
    a, b = new_record(store), new_record(store)
    batch = _batch(store)
    store.batch_item_failed(batch.id, a.id, "broken")
    retry = store.batch_create(kind="regenerate", spec={}, spec_hash="b" * 64, actor="cli:test",
                               where=None, classify=lambda c: None, retry_of=batch.id)
    assert retry.retry_of == batch.id and store.batch_pending(retry.id) == [a.id]
    assert b.id in store.batch_pending(batch.id)


def test_paging_by_explicit_ids(store):
    records = [new_record(store) for _ in range(7)]
    wanted = tuple(r.id for r in records[::2]) + (uuid.uuid4(),)
    pages = list(store.batch_candidates(RecordFilter(ids=wanted), page=2))
    assert [c.id for p in pages for c in p] == sorted(r.id for r in records[::2])


def test_a_candidate_tells_whether_its_officials_signed_it(store, clock):
    """A regeneration must not re-sign with the server's keys what officials signed themselves:
    the store marks such candidates (qujat.batches skips them)."""
    from tests.store.test_store_signing import _awaiting, _final, _signed, _step

    server_signed = new_record(store, doc_type="cadastral_value_act")
    officials = _awaiting(store)
    store.accept_signature(officials.id, index=0, signed=_signed(0), actor="a", details={},
                           next_step=_step(b"two"))
    store.accept_signature(officials.id, index=1, signed=_signed(1), actor="a", details={},
                           final=_final(clock))
    marks = {c.id: c.officials_signed for page in store.batch_candidates(RecordFilter()) for c in page}
    assert marks == {server_signed.id: False, officials.id: True}
    batch = _batch(store, classify=lambda c: "officials" if c.officials_signed else None)
    assert batch.counts == {"pending": 1, "skipped": 1}
    assert store.batch_pending(batch.id) == [server_signed.id]


def test_creations_of_one_spec_racing_make_one_running_batch(store):
    """Coordinators that start the same new spec at the same moment (each saw no running batch):
    the partial unique index of migration 0004 lets one create it; every other creation writes
    nothing and names the winner, whom its caller resumes."""
    records = [new_record(store) for _ in range(3)]
    barrier, outcomes = threading.Barrier(4), []

    def create() -> None:
        barrier.wait()
        try:
            outcomes.append(("created", _batch(store).id))
        except BatchAlreadyRunning as e:
            outcomes.append(("lost", e.running.id))

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    created = [b for what, b in outcomes if what == "created"]
    assert len(outcomes) == 4 and len(created) == 1, outcomes
    assert {b for _, b in outcomes} == set(created)
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(BatchRow)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(BatchItemRow)).scalar() == len(records)
    assert store.batch_running("a" * 64).id == created[0]


def test_only_running_batches_of_a_spec_are_unique(store):
    """A finished or cancelled batch of a spec does not stop a new one; two running ones cannot be."""
    new_record(store)
    first = _batch(store)
    again = store.batch_create(kind="regenerate", spec={"t": 1}, spec_hash="a" * 64, actor="cli:test",
                               where=RecordFilter(), classify=lambda c: None, cancel_running=True)
    assert store.batch_get(first.id).status == "cancelled" and again.status == "running"
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(update(BatchRow).where(BatchRow.id == first.id).values(status="running"))
    assert store.batch_finish_if_done(again.id, "cli:test") is False      # one item pending
    with store.engine.begin() as conn:
        conn.execute(update(BatchRow).where(BatchRow.id == again.id).values(status="finished"))
    third = _batch(store)
    assert third.status == "running" and third.id not in (first.id, again.id)


def test_a_second_retry_takes_only_what_the_first_did_not_fix(store):
    """`--retry-failed B` twice: the second retry takes B's failed records that the first retry
    did not give a version (it used to take them all again, and a record fixed by the first
    retry got yet another version)."""
    fixed, still = new_record(store), new_record(store)
    batch = _batch(store)
    for r in (fixed, still):
        store.batch_item_failed(batch.id, r.id, "broken")

    def retry(spec_hash: str):
        return store.batch_create(kind="regenerate", spec={}, spec_hash=spec_hash, actor="cli:test",
                                  where=None, classify=lambda c: None, retry_of=batch.id)

    first = retry("b" * 64)
    assert sorted(store.batch_pending(first.id)) == sorted([fixed.id, still.id])
    assert store.batch_add_version(first.id, fixed.id, content("fixed"), actor="batch:w").number == 2
    assert store.batch_item_failed(first.id, still.id, "still broken")
    assert store.batch_finish_if_done(first.id, "batch:w")
    second = retry("c" * 64)
    assert store.batch_pending(second.id) == [still.id] and second.total == 1


def test_a_batch_cancelled_while_its_worker_commits_writes_no_version(store):
    """A cancellation (`--new`) in progress when a worker stores a record's version: the worker
    waits for it and, once it is committed, writes nothing (PostgreSQL used to read the batch as
    running from its snapshot and commit the version after the cancellation)."""
    record = new_record(store)
    batch = _batch(store)
    result: list = []
    with store.engine.connect() as conn:
        tx = conn.begin()
        conn.execute(update(BatchRow).where(BatchRow.id == batch.id).values(status="cancelled"))
        worker = threading.Thread(target=lambda: result.append(
            store.batch_add_version(batch.id, record.id, content("late"), actor="batch:w")))
        worker.start()
        worker.join(1.5)
        assert worker.is_alive()                  # it waits for the cancellation
        tx.commit()
    worker.join(30)
    assert result == [None]
    assert [v.number for v in store.versions(record.id)] == [1] and store.batch_versions(batch.id) == []
    assert store.batch_items(batch.id)[0].state == "pending"
