"""Attacks on batch regeneration with real processes: a worker configured with another public
base URL, the runtime closing beneath a background batch, coordinators racing for the same spec,
a record annulled in the middle, ids files with duplicates and garbage, a batch over nothing.
Each checks what a user sees: the QR (zbarimg on pdftoppm's pages), the versions of each record,
the items' states, the exit code and report of `qujat regenerate`."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import threading
import time
import uuid

import psycopg
import pytest
from sqlalchemy import func, select

from qujat import batches, jobs, service
from qujat.batches import BatchSpec
from qujat.runtime import open_runtime
from store.batches import RecordFilter
from store.orm import BatchRow
from tests.api.helpers import qr_texts
from tests.batches.conftest import PYTHON, ROOT, processes_with, wait_for

pytestmark = pytest.mark.slow
CALLER = service.Caller(client_id="cli", actor="cli:archivist")
ISSUED_WITH = "http://127.0.0.1:8000"        # the archive's records were issued with the default


def _ids(archive, n: int, skip: int = 0) -> tuple[uuid.UUID, ...]:
    with archive.store() as store:
        page = next(iter(store.batch_candidates(RecordFilter(), page=skip + n)))
    return tuple(c.id for c in page[skip:skip + n])


def test_a_worker_with_another_public_base_url_keeps_the_records_qr(sqlite_archive, tmp_path):
    """The batch records its creator's QUJAT_PUBLIC_BASE_URL; a worker process configured with
    another one renders with the batch's, so the QR of the new version still decodes to the URL
    printed on the paper copies (before: the worker's own URL)."""
    archive = sqlite_archive
    ids = _ids(archive, 2)
    with open_runtime(archive.settings(), convert=False, store=True) as rt:
        batch, resumed = batches.start(rt, BatchSpec(ids=ids), caller=CALLER)
    assert not resumed and batch.pending == 2
    env = archive.env(QUJAT_PUBLIC_BASE_URL="https://elsewhere.example")
    out = subprocess.run([PYTHON, "-m", "qujat", "batch-shard", str(batch.id), "0", "1"], env=env,
                         cwd=str(ROOT), capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr.decode()
    with archive.store() as store:
        assert store.batch_get(batch.id).status == "finished"
        for rid in ids:
            record = store.get(rid)
            new = [v for v in store.versions(rid) if v.number == 2]
            assert len(new) == 1 and record.current_version == 2
            pdf = store.blobs.get(new[0].pdf_sha256)
            assert set(qr_texts(pdf, tmp_path)) == {f"{ISSUED_WITH}/v/{record.token}"}
    assert "elsewhere.example" in out.stderr.decode()            # the worker says it differs


def test_a_background_batch_whose_runtime_closes_leaves_the_rest_pending(sqlite_archive):
    """`batches.submit` on SQLite: closing the runtime beneath its thread (the process shutting
    down) used to mark every pending record failed ("converter pool is closed"); now they stay
    pending, and with a stop event the thread ends after its current record. Started again, the
    batch ends with exactly one new version per record and no failure."""
    archive = sqlite_archive
    ids = _ids(archive, 24, skip=10)
    spec = BatchSpec(ids=ids)
    with open_runtime(archive.settings(), convert=True, sign=True, store=True) as rt:
        batch, _ = batches.start(rt, spec, caller=CALLER)
        thread = batches.submit(rt, batch.id)          # no stop: the runtime closes beneath it
        wait_for(lambda: len(rt.store.batch_versions(batch.id)) >= 2, 120, "two new versions")
    thread.join(60)
    assert not thread.is_alive()
    with archive.store() as store:
        info = store.batch_get(batch.id)
        assert info.status == "running" and "failed" not in info.counts, info.counts
        first = info.counts["done"]
        assert first + info.counts["pending"] == len(ids)

    with open_runtime(archive.settings(), convert=True, sign=True, store=True) as rt:
        again, resumed = batches.start(rt, spec, caller=CALLER)
        assert resumed and again.id == batch.id
        stop = threading.Event()
        thread = batches.submit(rt, batch.id, stop=stop)
        wait_for(lambda: len(rt.store.batch_versions(batch.id)) >= first + 1, 120, "one more version")
        stop.set()
        started = time.monotonic()
        thread.join(60)
        assert not thread.is_alive() and time.monotonic() - started < 30
        info = rt.store.batch_get(batch.id)
        assert "failed" not in info.counts and info.counts["pending"] > 0, info.counts

        thread = batches.submit(rt, batch.id, stop=threading.Event())
        thread.join(300)
        info = rt.store.batch_get(batch.id)
        assert (info.status, info.counts) == ("finished", {"done": len(ids)})
        assert sorted(rt.store.batch_versions(batch.id)) == sorted((rid, 2) for rid in ids)


def _lock_waiters(conn, table: str) -> list[int]:
    """Backends of other sessions waiting for a row lock while writing ``table``."""
    return [pid for pid, query in conn.execute(
        "SELECT pid, query FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database() AND pid <> pg_backend_pid()").fetchall()
        if table in query]


def test_a_worker_killed_inside_the_version_transaction(pg_archive, processes):
    """PostgreSQL: a `qujat worker` is held inside its version transaction (it locked the record
    and waits for the item row, which the test holds) and killed with SIGKILL there. Nothing of
    that transaction is written; the dead worker's job is taken again after
    QUJAT_BATCH_STALLED_AFTER (a setting: 6 s here) by another worker, which gives each record
    exactly one new version."""
    archive, stalled_after = pg_archive, 6
    ids = _ids(archive, 3, skip=40)
    with open_runtime(archive.settings(), convert=False, store=True) as rt:
        batch, _ = batches.start(rt, BatchSpec(ids=ids), caller=CALLER)
        assert jobs.defer_pending(archive.database_url, rt.store, batch.id) == 1
    env = {"QUJAT_BATCH_STALLED_AFTER": str(stalled_after)}
    with psycopg.connect(jobs.conninfo(archive.database_url), autocommit=True) as watch, \
            psycopg.connect(jobs.conninfo(archive.database_url)) as holder:
        holder.execute("SELECT 1 FROM batch_items WHERE batch_id = %s FOR UPDATE", (batch.id,))
        first = archive.qujat("worker", "--concurrency", "1", env=env)
        processes.append(first)
        (waiting,) = wait_for(lambda: _lock_waiters(watch, "batch_items"), 180,
                              "the worker inside its version transaction")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        killed_at = time.monotonic()
        # the dead worker's last heartbeat (PostgreSQL's clock): its job may be taken again
        # QUJAT_BATCH_STALLED_AFTER after that moment, which is up to a heartbeat before the kill
        (last_heartbeat,) = [t for (t,) in watch.execute(
            "SELECT w.last_heartbeat FROM procrastinate_jobs j JOIN procrastinate_workers w "
            "ON w.id = j.worker_id WHERE j.task_name = %s", (jobs.TASK,)).fetchall()]
        holder.rollback()                                     # its backend goes on, then finds
        wait_for(lambda: not watch.execute(                   # its client gone and rolls back
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (waiting,)).fetchone(), 30,
            "the killed worker's backend to end")
        with archive.store() as store:
            assert store.batch_versions(batch.id) == []
            assert store.batch_get(batch.id).counts == {"pending": 3}
            assert {store.get(rid).current_version for rid in ids} == {1}
        assert watch.execute("SELECT status FROM procrastinate_jobs WHERE task_name = %s",
                             (jobs.TASK,)).fetchall() == [("doing",)]

        second = archive.qujat("worker", "--concurrency", "1", env=env)
        processes.append(second)
        with archive.store() as store:
            wait_for(lambda: store.batch_get(batch.id).status == "finished", 180, "the batch to finish")
            waited = time.monotonic() - killed_at
            assert sorted(store.batch_versions(batch.id)) == sorted((rid, 2) for rid in ids)
            for rid in ids:
                assert [v.number for v in store.versions(rid)] == [1, 2]
            assert store.batch_get(batch.id).counts == {"done": 3}
            # not before the worker is deemed dead: every version was written after its job was
            # taken again, which PostgreSQL allows once its heartbeat is stalled_after old (the
            # versions' time is the worker's clock, read after that; one clock on one machine)
            made_at = [v.created_at for rid in ids for v in store.versions(rid) if v.number == 2]
            assert min(made_at) >= last_heartbeat + dt.timedelta(seconds=stalled_after), \
                (last_heartbeat, made_at)
    print(f"\nthe killed worker's job was done by another {waited:.1f} s after the kill, "
          f"{(min(made_at) - last_heartbeat).total_seconds():.1f} s after its last heartbeat "
          f"(QUJAT_BATCH_STALLED_AFTER={stalled_after})")


def test_new_while_the_old_batchs_workers_run(archive, processes, tmp_path):
    """`qujat regenerate --new` while a coordinator and its workers run the same filters: the old
    batch is cancelled in the new one's transaction; its coordinator says so and ends within
    seconds (it used to re-queue the cancelled batch's items for three rounds and give up); its
    workers write no version after the cancellation. Each record gets exactly one version from
    the new batch (and at most one from the old one, made before it was cancelled)."""
    ids = _ids(archive, 60, skip=80)
    id_args = [a for rid in ids for a in ("--id", str(rid))]
    args = ("regenerate", *id_args, "--workers", "1", "--no-progress", "--report-dir", str(tmp_path))
    old = archive.qujat(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    processes.append(old)
    spec = BatchSpec(ids=ids)
    with archive.store() as store:
        first = wait_for(lambda: store.batch_running(spec.spec_hash), 60, "the first batch")
        wait_for(lambda: store.batch_versions(first.id), 180, "a first version of the old batch")
        new = archive.qujat(*args, "--new", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        processes.append(new)
        second = wait_for(lambda: (b := store.batch_running(spec.spec_hash)) and b.id != first.id and b,
                          60, "the new batch")
        _, old_err = old.communicate(timeout=60)
        ended_after = (dt.datetime.now(dt.timezone.utc) - second.created_at).total_seconds()
        out, err = new.communicate(timeout=300)
        cancelled = store.batch_get(first.id)
        assert cancelled.status == "cancelled" and cancelled.finished_at == second.created_at
        assert cancelled.counts.get("pending"), "the old batch was over before --new"
        assert new.returncode == 0, err.decode()
        assert f"batch {first.id} was cancelled" in old_err.decode()
        assert "giving up" not in old_err.decode()
        assert old.returncode == 1, old_err.decode()                 # records left pending
        assert ended_after < 15, ended_after
        made_old = dict(store.batch_versions(first.id))
        assert sorted(rid for rid, _ in store.batch_versions(second.id)) == sorted(ids)
        for rid in ids:
            versions = store.versions(rid)
            assert len(versions) == 2 + (rid in made_old)            # one per batch, none lost
            assert all(v.created_at < second.created_at for v in versions if v.number == made_old.get(rid))
        summary = json.loads(out.decode().strip().splitlines()[-1])
        assert (summary["batch"], summary["done"], summary["pending"]) == (str(second.id), len(ids), 0)


def _regenerate(archive, *args: str, timeout: float = 300) -> tuple[int, str, str]:
    p = archive.qujat("regenerate", "--no-progress", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    return p.returncode, out.decode(), err.decode()


def test_ids_files_with_duplicates_unknown_ids_and_garbage(sqlite_archive, tmp_path):
    """An ids file written on Windows (byte-order mark, CRLF), with comments and duplicates,
    selects each record once; a garbage line is named by its line number and an unknown id by
    itself (exit 2, no batch); a file that is not UTF-8 is refused."""
    archive = sqlite_archive
    ids = [str(i) for i in _ids(archive, 3, skip=150)]
    good = tmp_path / "ids.txt"
    good.write_bytes(("\ufeff# the clerk's list\r\n" + "\r\n".join([ids[0], ids[1], "", ids[0].upper(),
                                                                     f"  {ids[2]}  "]) + "\r\n").encode())
    code, out, err = _regenerate(archive, "--ids-file", str(good), "--dry-run")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["matching"] == 3 and sorted(plan["sample"]) == sorted(ids)

    garbage = tmp_path / "garbage.txt"
    garbage.write_text(f"{ids[0]}\nDROP TABLE records;\n\n{ids[1]}x\n", "utf-8")
    code, _, err = _regenerate(archive, "--ids-file", str(garbage), "--workers", "0")
    assert code == 2
    assert f"{garbage}:2: not a record id" in err and f"{garbage}:4: not a record id" in err
    unknown = "00000000-0000-0000-0000-00000000000a"
    (tmp_path / "unknown.txt").write_text(f"{ids[0]}\n{unknown}\n", "utf-8")
    code, _, err = _regenerate(archive, "--ids-file", str(tmp_path / "unknown.txt"), "--workers", "0")
    assert code == 2 and f"ids: no record with the id {unknown}" in err, err
    code, _, err = _regenerate(archive, "--ids-file", str(tmp_path / "unknown.txt"), "--dry-run")
    assert code == 2 and f"ids: no record with the id {unknown}" in err, err      # not a silent 1
    (tmp_path / "latin1.txt").write_bytes("# список\n".encode("cp1251"))
    code, _, err = _regenerate(archive, "--ids-file", str(tmp_path / "latin1.txt"), "--workers", "0")
    assert code == 2 and "not UTF-8" in err
    with archive.store() as store, store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(BatchRow)).scalar() == 0


def test_a_batch_over_no_record_finishes_at_once(archive, tmp_path):
    """Filters that match nothing: a batch of 0 records, finished, exit 0, an empty report; run
    again, it is a new (finished) batch, not one left running for ever."""
    for _ in range(2):
        code, out, err = _regenerate(archive, "--type", "cadastral_value_act", "--workers", "1",
                                     "--report-dir", str(tmp_path), timeout=120)
        assert code == 0, err
        summary = json.loads(out.strip().splitlines()[-1])
        assert (summary["status"], summary["total"], summary["done"], summary["pending"]) == \
            ("finished", 0, 0, 0)
        with open(summary["report_csv"], encoding="utf-8") as f:
            assert f.read().splitlines() == [",".join(batches.ItemReport.CSV_HEADER)]
    with archive.store() as store, store.engine.connect() as conn:
        assert conn.execute(select(BatchRow.status)).scalars().all() == ["finished", "finished"]


def test_the_same_regenerate_twice_at_once(archive, processes, tmp_path):
    """Two `qujat regenerate` commands with the same filters started together: one batch, which
    both run (the second resumes it); each record gets exactly one new version; both exit 0."""
    ids = _ids(archive, 12, skip=170)
    id_args = [a for rid in ids for a in ("--id", str(rid))]
    runs = [archive.qujat("regenerate", *id_args, "--workers", "1", "--no-progress",
                          "--report-dir", str(tmp_path / str(n)), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) for n in range(2)]
    processes.extend(runs)
    outs = [p.communicate(timeout=300) for p in runs]
    for p, (out, err) in zip(runs, outs):
        assert p.returncode == 0, err.decode()
    summaries = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outs]
    assert summaries[0]["batch"] == summaries[1]["batch"]
    assert sorted("resumed" in err.decode() for _, err in outs) == [False, True]
    with archive.store() as store, store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(BatchRow)).scalar() == 1
        made = store.batch_versions(uuid.UUID(summaries[0]["batch"]))
        assert sorted(made) == sorted((rid, 2) for rid in ids)
        for rid in ids:
            assert [v.number for v in store.versions(rid)] == [1, 2]


def test_a_record_that_kills_its_worker_every_time_fails_and_the_batch_goes_on(archive, tmp_path):
    """A record whose processing kills the worker process each time (a fault injected by the
    tests' sitecustomize): after ITEM_ATTEMPTS unfinished starts it is reported failed and the
    batch finishes the others (exit 3). It used to stall its shard (SQLite: given up after the
    restarts, exit 1, the records behind it never done; PostgreSQL: the coordinator waited for
    ever once its only worker was dead)."""
    ids = _ids(archive, 6, skip=185)
    poison = sorted(ids)[1]
    id_args = [a for rid in ids for a in ("--id", str(rid))]
    env = {"PYTHONPATH": f"{ROOT / 'tests' / 'batches' / 'poison'}:{ROOT}",
           "QUJAT_TEST_POISON_RECORD": str(poison), "QUJAT_BATCH_STALLED_AFTER": "5"}
    p = archive.qujat("regenerate", *id_args, "--workers", "1", "--no-progress", "--report-dir",
                      str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=280)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    assert p.returncode == 3, err.decode()[-3000:]
    summary = json.loads(out.decode().strip().splitlines()[-1])
    assert (summary["done"], summary["failed"], summary["pending"]) == (5, 1, 0)
    with archive.store() as store:
        batch_id = uuid.UUID(summary["batch"])
        (failed,) = store.batch_items(batch_id, states=("failed",))
        assert failed.record_id == poison and "worker stopped 3 times" in failed.error
        assert failed.attempts == batches.ITEM_ATTEMPTS + 1
        assert [v.number for v in store.versions(poison)] == [1]
        assert sorted(store.batch_versions(batch_id)) == sorted((rid, 2) for rid in ids if rid != poison)


def test_the_coordinator_killed_right_after_creating_the_batch(archive, processes, tmp_path):
    """kill -9 of `qujat regenerate` as soon as its batch exists (before, or just as, its first
    job or worker starts): nothing is lost or half-made; its orphaned workers stop on their own;
    the same command resumes the batch and gives each record exactly one new version."""
    # more records than the orphaned worker may finish: on PostgreSQL it finishes the jobs in
    # hand (two, CHUNK records each, at its concurrency of 2) after its coordinator died, and a
    # test process slow to see the batch (0.3 s under load) lets the coordinator queue them first
    # (with 6 records, one job: the orphan did the whole batch and nothing was left to resume)
    ids = _ids(archive, 2 * batches.CHUNK + 1, skip=120)
    args = ("regenerate", *[a for rid in ids for a in ("--id", str(rid))], "--workers", "1",
            "--no-progress", "--report-dir", str(tmp_path))
    first = archive.qujat(*args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(first)
    with archive.store() as store:
        batch = wait_for(lambda: store.batch_running(BatchSpec(ids=ids).spec_hash), 60, "the batch",
                         poll=0.02)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        orphans = (("batch-shard", str(batch.id)) if archive.database_url.startswith("sqlite")
                   else ("worker", "--parent", str(first.pid)))
        wait_for(lambda: not processes_with(*orphans), 60, "the orphaned workers to stop")
        assert len(store.batch_versions(batch.id)) < len(ids)
        code, out, err = _regenerate(archive, *args[1:])
        assert code == 0 and f"batch {batch.id} resumed" in err, err
        assert sorted(store.batch_versions(batch.id)) == sorted((rid, 2) for rid in ids)
        for rid in ids:
            assert [v.number for v in store.versions(rid)] == [1, 2]
