"""Collecting orphan blobs (`Store.collect_blobs`, store.gc), on SQLite and PostgreSQL: a blob
nothing refers to and unused for longer than the grace period is deleted; a young one, every
referenced one (versions, signing states, audit events) and one claimed by a put while the
collection looks at it are kept; a dry run deletes nothing; a second run finds nothing. And
`qujat gc-blobs` as a real process on the same folders."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from store import Conflict, Store
from store.orm import AuditRow
from tests.store.helpers import content, new_record
from tests.store.test_store_signing import _awaiting, _signed, _step

DAY_NS = 24 * 3600 * 10**9


def _age(path, days: float = 2) -> None:
    """Make a file (not what a symbolic link points to) look written and last used ``days`` ago."""
    then = time.time_ns() - int(days * DAY_NS)
    os.utime(path, ns=(then, then), follow_symlinks=False)


def _age_all(blob_dir, days: float = 2) -> None:
    """Every entry, once all are listed (listing a folder is a read: relatime would make an
    aged folder young again)."""
    for p in sorted(blob_dir.rglob("*"), reverse=True):
        _age(p, days)


def _gc_events(store) -> list[AuditRow]:
    with store.engine.connect() as conn:
        return conn.execute(select(AuditRow.__table__).where(
            AuditRow.__table__.c.action == "blobs_collected").order_by(AuditRow.__table__.c.id)).all()


def _archive(store):
    """Referenced blobs of every kind, and one orphan a failed issuance left; the hashes."""
    first = new_record(store, external_id="cad-1", content=content("a"))
    store.add_version(first.id, content("b"), actor="batch")
    awaiting = _awaiting(store)                                   # a prepared PDF and a DOCX
    store.accept_signature(awaiting.id, index=0, signed=_signed(0), actor="api-key:k1",
                           details={}, next_step=_step(b"two"))   # step one's PDF: in the audit only
    with pytest.raises(Conflict):                                 # blobs written, no transaction
        new_record(store, external_id="cad-1", content=content("orphan"))
    referenced = {h for v in store.versions(first.id) for h in (v.pdf_sha256, v.docx_sha256)}
    state = store.signing_state(awaiting.id)
    referenced |= {state.pdf_sha256, state.docx_sha256, hashlib.sha256(_step(b"one").pdf).hexdigest()}
    orphan = content("orphan")
    orphans = {hashlib.sha256(orphan.pdf).hexdigest(), hashlib.sha256(orphan.docx).hexdigest()}
    return referenced, orphans


def _files(blob_dir) -> set[str]:
    return {p.parent.name + p.name for p in blob_dir.rglob("*") if p.is_file()}


def test_old_orphans_go_young_ones_and_referenced_blobs_stay(store, blob_dir):
    referenced, old_orphans = _archive(store)
    _age_all(blob_dir)
    young = store.blobs.put(b"%PDF-1.7 being written by a live transaction")
    assert _files(blob_dir) == referenced | old_orphans | {young}
    orphan_bytes = sum(store.blobs.path(h).stat().st_size for h in old_orphans)

    dry = store.collect_blobs(actor="cli:operator", dry_run=True)
    assert (dry.blobs, dry.referenced, dry.orphans, dry.young) == (len(referenced) + 3, len(referenced), 2, 1)
    assert dry.orphan_bytes == orphan_bytes and dry.deleted == 0 and dry.deleted_bytes == 0
    assert _files(blob_dir) == referenced | old_orphans | {young}            # nothing deleted
    assert _gc_events(store) == []

    run = store.collect_blobs(actor="cli:operator")
    assert (run.orphans, run.deleted, run.deleted_bytes, run.young) == (2, 2, orphan_bytes, 1)
    assert _files(blob_dir) == referenced | {young}
    for h in referenced | {young}:
        assert hashlib.sha256(store.blobs.get(h)).hexdigest() == h
    (event,) = _gc_events(store)
    assert event.actor == "cli:operator" and event.record_id is None
    assert event.details["deleted"] == 2 and event.details["deleted_bytes"] == orphan_bytes
    assert sorted(event.details["deleted_sha256"]) == sorted(old_orphans)

    again = store.collect_blobs(actor="cli:operator")
    assert (again.orphans, again.deleted, again.young) == (0, 0, 1)
    assert _files(blob_dir) == referenced | {young} and len(_gc_events(store)) == 1


def test_the_grace_period_is_the_operators(store, blob_dir):
    sha = store.blobs.put(b"orphan of three hours")
    _age(store.blobs.path(sha), days=3 / 24)
    assert store.collect_blobs(actor="cli:operator").deleted == 0                  # 24 h default
    run = store.collect_blobs(actor="cli:operator", older_than=dt.timedelta(hours=2))
    assert run.deleted == 1 and not store.blobs.exists(sha)
    with pytest.raises(ValueError, match="older_than"):
        store.collect_blobs(actor="cli:operator", older_than=dt.timedelta(seconds=5))


def test_an_old_orphan_a_put_reuses_is_kept_and_not_rewritten(store, blob_dir):
    data = b"%PDF-1.7 retried issuance, same bytes"
    sha = store.blobs.put(data)
    _age(store.blobs.path(sha))
    before = store.blobs.path(sha).stat()
    assert store.blobs.put(data) == sha                         # the retry claims the old file
    after = store.blobs.path(sha).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    run = store.collect_blobs(actor="cli:operator")
    assert (run.young, run.deleted) == (1, 0) and store.blobs.get(sha) == data


def test_a_blob_claimed_while_the_collection_looks_at_it_is_kept(store, blob_dir, monkeypatch):
    data = b"%PDF-1.7 claimed between the scan and the deletion"
    sha = store.blobs.put(data)
    _age(store.blobs.path(sha))
    seen = list(store.blobs.scan())                             # the collection saw it old …
    assert store.blobs.put(data) == sha                         # … then a put claimed it
    monkeypatch.setattr(store.blobs, "scan", lambda: iter(seen))
    run = store.collect_blobs(actor="cli:operator")
    assert (run.orphans, run.claimed, run.deleted) == (1, 1, 0)
    assert store.blobs.get(sha) == data and _files(blob_dir) == {sha}
    assert _gc_events(store) == []


def test_temporary_files_of_killed_writes_go_and_a_taken_out_blob_comes_back(store, blob_dir):
    sha = store.blobs.put(b"%PDF-1.7 referenced by nothing yet, young")
    folder = store.blobs.path(sha).parent
    stale, live = folder / ".tmp-killed", folder / ".tmp-writing"
    stale.write_bytes(b"x" * 1000)
    live.write_bytes(b"y" * 10)
    _age(stale)
    # a collection killed after taking a blob out of its place: the next one puts it back
    os.rename(store.blobs.path(sha), folder / (".gc-" + sha[2:]))
    (folder / "notes.txt").write_text("not ours")
    run = store.collect_blobs(actor="cli:operator")
    assert (run.temporary, run.temporary_bytes, run.deleted, run.deleted_bytes) == (1, 1000, 1, 1000)
    assert not stale.exists() and live.exists() and (folder / "notes.txt").exists()
    assert store.blobs.get(sha) == b"%PDF-1.7 referenced by nothing yet, young"
    assert sorted(p.name for p in folder.iterdir()) == sorted([sha[2:], ".tmp-writing", "notes.txt"])


def _qujat(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qujat", *args], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.mark.slow
def test_the_command_counts_then_deletes(database_url, tmp_path):
    data_dir = tmp_path / "data"                      # the same folders `open_runtime` uses
    with Store.open(database_url, data_dir / "blobs") as store:
        referenced, orphans = _archive(store)
        _age_all(data_dir / "blobs")
        orphan_bytes = sum(store.blobs.path(h).stat().st_size for h in orphans)
    env = {**os.environ, "QUJAT_DATA_DIR": str(data_dir), "DATABASE_URL": database_url}

    dry = _qujat("gc-blobs", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert f"unreferenced, older (orphans): 2 ({orphan_bytes} bytes, " in dry.stdout
    assert "nothing deleted (--dry-run)" in dry.stdout
    assert _files(data_dir / "blobs") == referenced | orphans

    run = _qujat("gc-blobs", "--json", env=env)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert (report["deleted"], report["deleted_bytes"], report["dry_run"]) == (2, orphan_bytes, False)
    assert sorted(report["deleted_sha256"]) == sorted(orphans)
    assert _files(data_dir / "blobs") == referenced
    with Store.open(database_url, data_dir / "blobs") as store:
        (event,) = _gc_events(store)
        assert event.actor.startswith("cli:") and event.details["deleted"] == 2
        for h in referenced:
            assert hashlib.sha256(store.blobs.get(h)).hexdigest() == h

    again = _qujat("gc-blobs", "--json", env=env)
    assert again.returncode == 0 and json.loads(again.stdout)["deleted"] == 0

    bad = _qujat("gc-blobs", "--older-than", "1s", env=env)
    assert bad.returncode == 2 and "--older-than: at least 10m" in bad.stderr
    assert "Traceback" not in bad.stderr
