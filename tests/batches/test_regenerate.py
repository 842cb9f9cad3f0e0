"""`qujat regenerate` over an archive of 200 issued records, 3 of them broken on purpose, as real
processes: on SQLite the command's own two local workers; on PostgreSQL two `qujat worker`
processes (procrastinate) share the batch while the command only coordinates."""
from __future__ import annotations

import csv
import hashlib
import json
import os
import pty
import re
import subprocess
import uuid

import pytest
from sqlalchemy import select, update

from qujat.batches import BatchSpec
from store import Action
from store.batches import RecordFilter
from store.orm import RecordRow
from tests.api.helpers import pdfsig_valid, qr_texts
from tests.batches.conftest import ARCHIVE_SIZE, break_records

pytestmark = pytest.mark.slow


def _snapshot(store):
    """Every record's token and its versions' PDF hashes."""
    records = [c.id for page in store.batch_candidates(RecordFilter()) for c in page]
    return {rid: (store.get(rid).token, [v.pdf_sha256 for v in store.versions(rid)]) for rid in records}


def test_a_batch_gives_each_good_record_one_new_version_and_reports_the_broken(archive, processes, tmp_path):
    postgres = archive.database_url.startswith("postgresql")
    with archive.store() as store:
        before = _snapshot(store)
        assert len(before) == ARCHIVE_SIZE
        broken = sorted(before)[10:13]
        with store.engine.connect() as conn:
            saved = {rid: conn.execute(select(RecordRow.data).where(RecordRow.id == rid)).scalar_one()
                     for rid in broken}
        break_records(store, broken)
    workers = []
    if postgres:                    # two workers share the batch; the command only coordinates
        for _ in range(2):
            workers.append(archive.qujat("worker"))
        processes.extend(workers)
    report_dir = tmp_path / "report"
    cmd = archive.qujat("regenerate", "--workers", "0" if postgres else "2", "--no-progress",
                        "--report-dir", str(report_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    processes.append(cmd)
    out, err = cmd.communicate(timeout=240)
    assert cmd.returncode == 3, err.decode()        # finished, with failed records
    summary = json.loads(out.decode().strip().splitlines()[-1])
    assert (summary["status"], summary["total"], summary["done"], summary["failed"], summary["pending"]) == \
        ("finished", ARCHIVE_SIZE, ARCHIVE_SIZE - 3, 3, 0)

    # the report: every record once, the three failures with their reasons
    report = json.loads((report_dir / f"batch-{summary['batch']}.json").read_text("utf-8"))
    assert len(report["items"]) == ARCHIVE_SIZE
    failed = {i["record_id"]: i["reason"] for i in report["items"] if i["state"] == "failed"}
    assert sorted(failed) == [str(r) for r in broken]
    assert all("no longer validate" in why and "Field required" in why for why in failed.values())
    with (report_dir / f"batch-{summary['batch']}.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == ARCHIVE_SIZE and sum(r["state"] == "done" for r in rows) == ARCHIVE_SIZE - 3

    with archive.store() as store:
        # finished: the same command would start a new batch
        assert store.batch_running(BatchSpec().spec_hash) is None
        made = store.batch_versions(uuid.UUID(summary["batch"]))
        assert len(made) == ARCHIVE_SIZE - 3 and len({r for r, _ in made}) == ARCHIVE_SIZE - 3
        assert {n for _, n in made} == {2}
        for rid, (token, pdfs) in before.items():
            record, versions = store.get(rid), store.versions(rid)
            assert record.token == token                                  # the QR keeps working
            assert versions[0].pdf_sha256 == pdfs[0]                      # version 1 unchanged …
            assert hashlib.sha256(store.blobs.get(pdfs[0])).hexdigest() == pdfs[0]   # … and served
            expected = 1 if rid in broken else 2
            assert [v.number for v in versions] == list(range(1, expected + 1))
            assert record.current_version == expected
        # who made what: the audit trail names the batch and the worker of every new version
        makers = {}
        for rid, _ in made:
            (event,) = [e for e in store.audit(rid) if e.action is Action.REGENERATE]
            assert event.actor.startswith(f"batch:{summary['batch']}:")
            assert event.details["batch_id"] == summary["batch"]
            makers[event.details["worker"]] = makers.get(event.details["worker"], 0) + 1
        # a regenerated record: signed, and its QR still names its token
        sample = made[0][0]
        new_pdf = store.blobs.get(store.versions(sample)[-1].pdf_sha256)
        token = store.get(sample).token
    assert pdfsig_valid(new_pdf, tmp_path) == 1
    assert [t for t in qr_texts(new_pdf, tmp_path) if t.endswith("/v/" + token)]
    assert len(makers) == 2 and all(n > 0 for n in makers.values()), makers
    if postgres:                    # the two `qujat worker` processes, by their pids
        assert {int(name.rsplit(":", 1)[1]) for name in makers} == {w.pid for w in workers}

    # the data mended, --retry-failed does just the three
    with archive.store() as store, store.engine.begin() as conn:
        for rid, data in saved.items():
            conn.execute(update(RecordRow).where(RecordRow.id == rid).values(data=data))
    retry = archive.qujat("regenerate", "--retry-failed", summary["batch"],
                          "--workers", "0" if postgres else "1", "--no-progress", "--report-dir", str(report_dir),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    processes.append(retry)
    out, err = retry.communicate(timeout=120)
    assert retry.returncode == 0, err.decode()
    again = json.loads(out.decode().strip().splitlines()[-1])
    assert (again["total"], again["done"], again["failed"]) == (3, 3, 0)
    with archive.store() as store:
        assert store.batch_get(uuid.UUID(again["batch"])).retry_of == uuid.UUID(summary["batch"])
        for rid in broken:
            assert [v.number for v in store.versions(rid)] == [1, 2]


def test_dry_run_counts_and_bad_filters_exit_2(sqlite_archive):
    p = sqlite_archive.qujat("regenerate", "--dry-run", "--type", "land_right_act", "--language", "kk",
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err.decode()
    plan = json.loads(out)
    assert plan["matching"] == ARCHIVE_SIZE // 4 and len(plan["sample"]) == 10
    p = sqlite_archive.qujat("regenerate", "--type", "no_such_type", "--issued-from", "2026-13-01",
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 2
    assert re.search(r"types\.0: one of", err.decode()) and "issued_from: a date" in err.decode()
    p = sqlite_archive.qujat("worker", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "postgresql://" in err.decode()


def test_a_terminal_shows_a_progress_bar_with_rate_and_eta(sqlite_archive, processes, tmp_path):
    with sqlite_archive.store() as store:
        ids = [str(c.id) for page in store.batch_candidates(RecordFilter()) for c in page][:6]
    master, slave = pty.openpty()
    p = sqlite_archive.qujat("regenerate", *[a for i in ids for a in ("--id", i)], "--workers", "0",
                             "--report-dir", str(tmp_path), stdout=subprocess.PIPE, stderr=slave)
    processes.append(p)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:                 # EIO: the command closed its terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert p.wait(60) == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode("utf-8", "replace"))
    assert "6/6" in text and "rec/s" in text and "ETA" in text, text
