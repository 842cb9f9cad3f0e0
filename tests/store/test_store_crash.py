"""A crash after the blobs are written and before the transaction commits leaves no record (at
most blobs nothing refers to); the retry succeeds and reuses those blobs, not rewriting them."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from store import Store
from tests.store.helpers import ROOT, blob_files, content, new_record


def _nothing_stored(store: Store) -> None:
    for table in ("records", "versions", "audit_events", "idempotency_keys"):
        assert store.count(table) == 0, table


def test_an_error_inside_the_transaction_leaves_no_record_and_the_retry_reuses_the_blobs(
        store, blob_dir, monkeypatch):
    c = content("crash")

    def crash(*args, **kwargs):
        raise RuntimeError("the process fails before COMMIT")

    with monkeypatch.context() as m:
        m.setattr(store, "_audit", crash)          # the last step inside the transaction
        with pytest.raises(RuntimeError, match="before COMMIT"):
            new_record(store, content=c, external_id="E-1", token="T" * 32)
    _nothing_stored(store)
    left = blob_files(blob_dir)
    assert len(left) == 2                           # the PDF and the DOCX, nothing refers to them

    made = new_record(store, content=c, external_id="E-1", token="T" * 32)
    assert blob_files(blob_dir) == left             # the same files: not rewritten, none added
    (v1,) = store.versions(made.id)
    assert store.blobs.get(v1.pdf_sha256) == c.pdf and store.blobs.get(v1.docx_sha256) == c.docx
    assert store.count("audit_events") == 1


def test_an_error_while_adding_a_version_changes_nothing(store, monkeypatch):
    made = new_record(store)
    with monkeypatch.context() as m:
        m.setattr(store, "_audit", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("crash")))
        with pytest.raises(RuntimeError):
            store.add_version(made.id, content("2"), actor="key-batch")
        with pytest.raises(RuntimeError):
            store.annul(made.id, "reason", "key-annul")
    assert store.get(made.id) == made
    assert len(store.versions(made.id)) == 1 and len(store.audit(made.id)) == 1


CRASHING_ISSUER = textwrap.dedent("""
    import os, signal, sys
    from store import Store
    from tests.store.helpers import content, new_record

    store = Store.open(sys.argv[1], sys.argv[2])
    real_audit = store._audit

    def killed(session, *args, **kwargs):
        real_audit(session, *args, **kwargs)        # every row is written, nothing committed
        os.kill(os.getpid(), signal.SIGKILL)

    store._audit = killed
    new_record(store, content=content("killed"), external_id="E-9", token="K" * 32)
""")


def test_a_process_killed_before_commit_leaves_no_record(database_url, blob_dir):
    killed = subprocess.run([sys.executable, "-c", CRASHING_ISSUER, database_url, str(blob_dir)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    left = blob_files(blob_dir)
    assert len(left) == 2
    with Store.open(database_url, blob_dir) as store:
        _nothing_stored(store)
        made = new_record(store, content=content("killed"), external_id="E-9", token="K" * 32)
        assert store.by_external_id("akimat-1", "E-9") == made
        assert blob_files(blob_dir) == left
