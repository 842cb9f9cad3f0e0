"""procrastinate on the records' PostgreSQL database: its schema applied once however many processes
start at once, and a batch's jobs queued once however often a coordinator starts again."""
from __future__ import annotations

import threading

import pytest

from qujat import jobs
from store import Store
from store.batches import RecordFilter
from tests.store.helpers import new_record


def test_schema_once_and_jobs_queued_once(pg_database, tmp_path):
    errors: list[BaseException] = []

    def apply() -> None:
        try:
            jobs.ensure_schema(pg_database)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=apply) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with Store.open(pg_database, tmp_path / "blobs") as store:
        for _ in range(20):
            new_record(store)
        batch = store.batch_create(kind="regenerate", spec={}, spec_hash="c" * 64, actor="cli:test",
                                   where=RecordFilter(), classify=lambda c: None)
        assert jobs.defer_pending(pg_database, store, batch.id) == 3          # chunks of 8, 8, 4
        assert jobs.defer_pending(pg_database, store, batch.id) == 0          # a coordinator again
        app = jobs.build_app(pg_database).open()
        try:
            queued = app.job_manager.list_jobs(task=jobs.TASK)
        finally:
            app.close()
        pending = {str(r) for r in store.batch_pending(batch.id)}
    assert sorted(len(j.task_kwargs["record_ids"]) for j in queued) == [4, 8, 8]
    assert {r for j in queued for r in j.task_kwargs["record_ids"]} == pending and len(pending) == 20
    assert jobs.retry_stalled(pg_database) == 0                  # nothing is running: nothing stalled


def test_the_stalled_timeout_is_a_setting():
    """QUJAT_BATCH_STALLED_AFTER: how long a batch worker may be silent before its jobs are
    queued again (default 8 s); less than two of its heartbeats is refused."""
    from qujat.settings import Settings, SettingsError

    assert Settings().batch_stalled_after == jobs.STALLED_AFTER_S == 8.0
    assert Settings.from_env({"QUJAT_BATCH_STALLED_AFTER": "45"}).batch_stalled_after == 45.0
    for bad in ("2", "soon", "-1"):
        with pytest.raises(SettingsError, match="QUJAT_BATCH_STALLED_AFTER"):
            Settings.from_env({"QUJAT_BATCH_STALLED_AFTER": bad})
    with pytest.raises(SettingsError, match="QUJAT_BATCH_STALLED_AFTER"):
        Settings(batch_stalled_after=1.0)
