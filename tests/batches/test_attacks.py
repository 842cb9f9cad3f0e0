"""Attacks on batch regeneration with real processes: a worker configured with another public
base URL, the runtime closing beneath a background batch, coordinators racing for the same spec,
a record annulled in the middle, ids files with duplicates and garbage, a batch over nothing.
Each checks what a user sees: the QR (zbarimg on pdftoppm's pages), the versions of each record,
the items' states, the exit code and report of `qujat regenerate`."""
from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid

import pytest

from qujat import batches, service
from qujat.batches import BatchSpec
from qujat.runtime import open_runtime
from store.batches import RecordFilter
from tests.api.helpers import qr_texts
from tests.batches.conftest import PYTHON, ROOT, wait_for

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
