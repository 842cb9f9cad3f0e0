"""Attacks on this session's changes: `qujat gc-blobs` (it deletes files), the signing page's
ticket cookie, the gate on the NCA's test identities. Each test is a finding (it failed before
its fix) or a guard an attack tried and could not break; what each proves is in its docstring."""
from __future__ import annotations

import datetime as dt
import importlib
import os
import time
from pathlib import Path

import pytest

from store import Store
from tests.conftest import example
from tests.store.conftest import database_url, pg_admin, pg_cluster, pg_database  # noqa: F401 - fixtures
from tests.store.helpers import content, new_record
from tests.store.test_store_gc import _age, _age_all, _qujat

blobs_module = importlib.import_module("store.blobs")


# -- helpers ------------------------------------------------------------------------------------

def _listing(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under ``root``: relative name → (inode, mtime_ns, atime_ns), links not followed."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(root))] = (st.st_ino, st.st_mtime_ns, st.st_atime_ns)
    return out


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def sqlite_store(data_dir):
    """The store as one machine runs it (SQLite, blobs in the data folder): the blob-file attacks
    do not depend on the database."""
    with Store.open(f"sqlite:///{data_dir / 'qujat.sqlite3'}", data_dir / "blobs") as s:
        yield s


@pytest.fixture
def both_store(database_url, tmp_path):  # noqa: F811 - the imported fixture
    """The store on SQLite and on PostgreSQL (the throw-away cluster of tests/store/conftest)."""
    with Store.open(database_url, tmp_path / "data" / "blobs") as s:
        yield s


# -- 1. qujat gc-blobs --------------------------------------------------------------------------

def test_a_killed_collections_leftover_does_not_unclaim_a_fresh_write(sqlite_store):
    """A collection killed between taking a blob out (``.gc-…``) and deleting it; a retry of the
    issuance then finds no file and writes it anew. The next collection, running before the
    retry's transaction commits, used to put the old copy back OVER the fresh one (os.replace:
    the old times came back) and then delete it as an old orphan: the retry's version named a
    blob that was gone."""
    store = sqlite_store
    data = b"%PDF-1.7 the PDF of a failed issuance, retried by its client"
    sha = store.blobs.put(data)
    path = store.blobs.path(sha)
    _age(path)
    os.rename(path, path.with_name(".gc-" + path.name))     # collection killed here
    assert store.blobs.put(data) == sha                      # the retry writes it again (young)

    run = store.collect_blobs(actor="cli:operator")          # before the retry's commit
    assert run.deleted == 0
    assert store.blobs.get(sha) == data
    assert [p.name for p in path.parent.iterdir()] == [path.name]    # the leftover is gone


def test_two_collections_at_once_never_delete_a_fresh_copy(sqlite_store, monkeypatch):
    """Collection A takes an old orphan out and finds it unused; a retry writes the blob anew;
    collection B takes the fresh copy out under the SAME name ``.gc-<hash>`` (the rename
    replaced A's file) just before A deletes ``.gc-<hash>``: A deleted the fresh copy, B found
    nothing to put back, the retry's version named a missing blob. Each collection must take a
    blob out under a name of its own."""
    store = sqlite_store
    data = b"%PDF-1.7 an orphan two operators collect at the same moment"
    sha = store.blobs.put(data)
    path = store.blobs.path(sha)
    _age(path)
    taken_by_a = path.with_name(".gc-" + path.name)
    os.rename(path, taken_by_a)                              # A: out of its place, found old
    assert store.blobs.put(data) == sha                      # the retry writes it anew

    real_stat = os.stat
    a_done = []

    class Interleaved:
        """``os`` for store.blobs, with A's deletion between B's rename and B's look."""

        def __getattr__(self, name):
            return getattr(os, name)

        def stat(self, p, *args, **kwargs):
            if Path(p).name.startswith(".gc-") and not a_done:
                a_done.append(True)
                os.unlink(taken_by_a)                        # A deletes what it took out
            return real_stat(p, *args, **kwargs)

    monkeypatch.setattr(blobs_module, "os", Interleaved())
    cutoff = time.time_ns() - 3600 * 10**9
    assert store.blobs.remove_unused(sha, unused_since_ns=cutoff) is None   # B: it is young
    monkeypatch.undo()
    assert a_done
    assert store.blobs.get(sha) == data


def test_a_dry_run_touches_no_file(sqlite_store):
    """``--dry-run`` must not rename anything either: it used to put a killed collection's
    taken-out blob back. It counts that blob as the real run will, and the real run deletes it."""
    store = sqlite_store
    orphan = store.blobs.put(b"%PDF-1.7 an old orphan a killed collection had taken out")
    path = store.blobs.path(orphan)
    os.rename(path, path.with_name(".gc-" + path.name))
    young = store.blobs.put(b"%PDF-1.7 a young orphan")
    _age_all(store.blobs.root)
    os.utime(store.blobs.path(young))
    before = _listing(store.blobs.root), store.blobs.root.stat().st_mtime_ns

    dry = store.collect_blobs(actor="cli:operator", dry_run=True)
    assert (_listing(store.blobs.root), store.blobs.root.stat().st_mtime_ns) == before
    assert (dry.blobs, dry.orphans, dry.young, dry.deleted) == (2, 1, 1, 0)

    run = store.collect_blobs(actor="cli:operator")
    assert (run.orphans, run.deleted) == (1, 1)
    assert not store.blobs.exists(orphan) and store.blobs.exists(young)
    assert sorted(p.name for p in store.blobs.root.rglob("*") if p.is_file()) == [young[2:]]


def test_odd_entries_in_the_blob_folder_neither_stop_the_collection_nor_go(sqlite_store, tmp_path):
    """Files we did not write stay, and do not stop the collection: a folder named like a blob
    (or like a temporary file) used to be taken out and then fail to unlink (IsADirectoryError:
    every later collection stopped there), a symbolic link named like a blob used to go."""
    store = sqlite_store
    orphan = store.blobs.put(b"%PDF-1.7 old orphan next to odd entries")
    folder = store.blobs.path(orphan).parent
    odd_dir = folder / ("0" * 62)
    odd_dir.mkdir()
    (odd_dir / "inside").write_bytes(b"someone's file")
    odd_tmp = folder / ".tmp-a-folder"
    odd_tmp.mkdir()
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(b"%PDF-1.7 a file the operator linked in")
    link = folder / ("f" * 62)
    link.symlink_to(outside)
    _age_all(store.blobs.root)

    run = store.collect_blobs(actor="cli:operator")
    assert run.deleted == 1 and not store.blobs.exists(orphan)
    assert odd_dir.is_dir() and (odd_dir / "inside").read_bytes() == b"someone's file"
    assert odd_tmp.is_dir() and link.is_symlink() and outside.exists()


def test_every_deleted_blob_is_named_in_the_audit_trail(both_store):
    """A run that deleted more than 1,000 blobs named only the first 1,000 (one event at the
    end; a run killed part-way named none): a version found without its file could not be told
    apart from a collected orphan. Every 1,000 deletions write their event as the run goes."""
    import hashlib

    from sqlalchemy import select

    from store.orm import AuditRow

    store = both_store
    orphans = set()
    for i in range(2345):                                  # written as a put writes them, faster
        data = f"%PDF-1.7 orphan {i}".encode()
        sha = hashlib.sha256(data).hexdigest()
        store.blobs.path(sha).parent.mkdir(exist_ok=True)
        store.blobs.path(sha).write_bytes(data)
        orphans.add(sha)
    _age_all(store.blobs.root)

    run = store.collect_blobs(actor="cli:operator")
    assert run.deleted == len(orphans)
    table = AuditRow.__table__
    with store.engine.connect() as conn:
        events = conn.execute(select(table.c.details).where(table.c.action == "blobs_collected")
                              .order_by(table.c.id)).scalars().all()
    named = [h for e in events for h in e["deleted_sha256"]]
    assert sorted(named) == sorted(orphans)                # each once
    assert [e["deleted"] for e in events] == [1000, 2000, 2345]


def _skew_clock(monkeypatch, offset: float) -> None:
    """This process's wall clock ``offset`` seconds off (as a machine whose clock is wrong);
    the file system's clock (the kernel's, a file server's) is not."""
    real_ns, real = time.time_ns, time.time
    monkeypatch.setattr(time, "time_ns", lambda: real_ns() + int(offset * 1e9))
    monkeypatch.setattr(time, "time", lambda: real() + offset)


def test_a_writer_whose_clock_is_behind_still_claims_the_blob(sqlite_store, monkeypatch):
    """Machines share the blob mount. The retry on a worker whose clock is 2 h behind claimed
    the old orphan with ITS time as the atime; the collector (right clock, --older-than 1h)
    took that for an old use and deleted the blob under the retry's transaction. A claim must
    be stamped by the file system's clock (as a write's mtime is), not the writer's."""
    store = sqlite_store
    data = b"%PDF-1.7 an orphan retried on a worker whose clock is behind"
    sha = store.blobs.put(data)
    _age(store.blobs.path(sha))
    _skew_clock(monkeypatch, -2 * 3600)
    assert store.blobs.put(data) == sha                      # the worker's retry claims it
    monkeypatch.undo()

    run = store.collect_blobs(actor="cli:operator", older_than=dt.timedelta(hours=1))
    assert run.deleted == 0 and store.blobs.get(sha) == data


def test_a_collector_whose_clock_is_ahead_keeps_young_blobs(sqlite_store, monkeypatch):
    """The collector runs on a machine whose clock is 2 h ahead: with --older-than 1h, a blob a
    live transaction wrote a moment ago looked 2 h old and went. The cut-off must be taken from
    the clock that stamps the blob files."""
    store = sqlite_store
    fresh = store.blobs.put(b"%PDF-1.7 written a moment ago by a live transaction")
    _skew_clock(monkeypatch, 2 * 3600)
    run = store.collect_blobs(actor="cli:operator", older_than=dt.timedelta(hours=1))
    monkeypatch.undo()
    assert run.deleted == 0 and store.blobs.exists(fresh)


def test_retries_racing_collections_never_commit_a_missing_blob(both_store):
    """Guard, with real threads: again and again an old orphan (a failed issuance's files) is
    issued again by its retry while a collection runs, released together; whatever the
    interleaving, every committed version's files are there afterwards, and an annulled
    record's files stay too."""
    import threading

    store = both_store
    annulled = new_record(store, content=content("annulled"))
    store.annul(annulled.id, "issued in error", actor="api-key:k1")
    for i in range(25):
        orphan = content(f"race {i}")
        store.blobs.put_many((orphan.pdf, orphan.docx))     # a failed issuance's files
        _age_all(store.blobs.root)
        start, errors = threading.Barrier(2), []

        def retry():
            start.wait()
            new_record(store, content=orphan)

        def collection():
            start.wait()
            store.collect_blobs(actor="cli:operator", older_than=dt.timedelta(minutes=10))

        threads = [threading.Thread(target=lambda f=f: _catch(f, errors)) for f in (retry, collection)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
    for record_id in [annulled.id, *(r.id for r in _records(store))]:
        for v in store.versions(record_id):
            assert store.blobs.get(v.pdf_sha256) and store.blobs.get(v.docx_sha256)


def test_every_audit_key_that_names_a_blob_is_one_the_collector_reads(both_store):
    """Guard: an archive with every kind of write (issue, a new version, annul, two officials'
    steps to a final version); each string in any audit event's details that is the hash of a
    blob file is under a key of `store.gc.AUDIT_KEYS` (a key the collector does not read would
    let it delete evidence an event names), and a collection then deletes nothing."""
    from sqlalchemy import select

    from store.gc import AUDIT_KEYS
    from store.orm import AuditRow
    from tests.store.test_store_signing import _awaiting, _signed, _step

    store = both_store
    record = new_record(store, content=content("first"))
    store.add_version(record.id, content("second"), actor="batch")
    store.annul(record.id, "issued in error", actor="api-key:k1")
    awaiting = _awaiting(store)
    store.accept_signature(awaiting.id, index=0, signed=_signed(0), actor="ticket:1",
                           details={}, next_step=_step(b"two"))
    store.accept_signature(awaiting.id, index=1, signed=_signed(1), actor="ticket:2",
                           details={}, final=content("signed by both"))
    blobs = {b.name for b in store.blobs.scan(restore=False)}

    def strings(value, key=""):
        if isinstance(value, dict):
            for k, v in value.items():
                yield from strings(v, k)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v, key)
        elif isinstance(value, str):
            yield key, value

    with store.engine.connect() as conn:
        details = conn.execute(select(AuditRow.__table__.c.details)).scalars().all()
    named = {(k, v) for d in details for k, v in strings(d) if v in blobs}
    assert named and {k for k, _ in named} <= set(AUDIT_KEYS), named
    _age_all(store.blobs.root)
    assert store.collect_blobs(actor="cli:operator").deleted == 0


def _catch(f, errors: list) -> None:
    try:
        f()
    except BaseException as e:          # noqa: BLE001 - reported by the test's thread
        errors.append(e)


def _records(store):
    from sqlalchemy import select

    from store.orm import RecordRow

    with store.engine.connect() as conn:
        return conn.execute(select(RecordRow.__table__.c.id)).all()


@pytest.mark.slow
def test_gc_blobs_against_another_database_deletes_nothing(tmp_path, data_dir):
    """The operator's cron job lacks DATABASE_URL (the archive is in PostgreSQL, or in another
    SQLite file): `qujat gc-blobs` opened a new, empty SQLite database in the data folder, found
    that no row names any blob and deleted the whole archive older than a day. Likewise a
    database whose blobs are in another folder. It must refuse (2) and delete nothing."""
    with Store.open(f"sqlite:///{tmp_path / 'archive.sqlite3'}", data_dir / "blobs") as archive:
        new_record(archive, content=content("kept"))
        new_record(archive, content=content("kept too"))
    with Store.open(f"sqlite:///{tmp_path / 'other.sqlite3'}", tmp_path / "other-blobs") as other:
        new_record(other, content=content("another archive"))
    _age_all(data_dir / "blobs")
    before = _listing(data_dir / "blobs")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "QUJAT_DATA_DIR")}
    env["QUJAT_DATA_DIR"] = str(data_dir)

    for database in (None, f"sqlite:///{tmp_path / 'other.sqlite3'}"):
        run = _qujat("gc-blobs", env=env if database is None else {**env, "DATABASE_URL": database})
        assert run.returncode == 2, (run.stdout, run.stderr)
        assert "Traceback" not in run.stderr and "Nothing was deleted" in run.stderr
        assert _listing(data_dir / "blobs") == before

    ok = _qujat("gc-blobs", env={**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'archive.sqlite3'}"})
    assert ok.returncode == 0, ok.stderr
    assert _listing(data_dir / "blobs") == before            # every blob is named: none goes


def test_an_absurd_grace_period_is_a_usage_error(capsys):
    """``--older-than 99999999999d`` overflowed timedelta: a traceback instead of exit 2."""
    from qujat.cli import main

    assert main(["gc-blobs", "--older-than", "99999999999d"]) == 2
    err = capsys.readouterr().err
    assert "--older-than" in err and "Traceback" not in err


# -- 2. the signing page's ticket cookie -------------------------------------------------------

@pytest.fixture
def sign_env(tmp_path):
    """A runtime with a store only (no LibreOffice: the cookie's rules run before any page is
    drawn), two records awaiting a signature, a ticket for the first, and the signing routes."""
    from fastapi import FastAPI

    from qujat import signflow
    from qujat.runtime import open_runtime
    from qujat.service import Caller
    from qujat.settings import Settings
    from qujat.web.signpage import make_sign_router
    from tests.store.test_store_signing import _awaiting

    with open_runtime(Settings(data_dir=tmp_path / "data"), convert=False, store=True) as rt:
        a, b = _awaiting(rt.store), _awaiting(rt.store)
        ticket = signflow.issue_ticket(rt, a.id, caller=Caller("attacks", "attacks")).ticket
        app = FastAPI()
        app.state.runtime = rt
        app.include_router(make_sign_router())
        yield app, a, b, ticket


def test_the_ticket_cookie_opens_its_record_only_and_the_redirect_stays_home(sign_env):
    """Guard: behind a root path, the link's first request answers 303 to the record's own
    canonical path (relative: no other host, whatever the query carries; a CR/LF in ``lang``
    stays encoded), the cookie is HttpOnly, SameSite=Lax and scoped to that record's path,
    Secure only over HTTPS (also as a TLS-terminating proxy says it); the same ticket in a
    cookie sent to another record's page, page image or signature POST is refused (403), and a
    cross-site form POST (text/plain, no cookie: SameSite) has no ticket at all."""
    from urllib.parse import parse_qs, urlsplit

    from fastapi.testclient import TestClient

    from qujat.web.signpage import TICKET_COOKIE

    app, a, b, ticket = sign_env
    with TestClient(app, root_path="/qujat", follow_redirects=False) as c:
        first = c.get(f"/sign/{str(a.id).upper()}",
                      params={"ticket": ticket, "lang": "ru\r\nSet-Cookie: evil=1", "next": "//evil.example/x"})
        assert first.status_code == 303, first.text
        where = urlsplit(first.headers["location"])
        assert (where.scheme, where.netloc, where.path) == ("", "", f"/qujat/sign/{a.id}")
        assert parse_qs(where.query) == {"lang": ["ru\r\nSet-Cookie: evil=1"], "next": ["//evil.example/x"]}
        assert ticket not in first.headers["location"] and "evil" not in first.headers.get("set-cookie", "").split(";")[0]
        cookie = [p.strip().lower() for p in first.headers["set-cookie"].split(";")]
        assert cookie[0] == f"{TICKET_COOKIE}={ticket}".lower()
        assert {"httponly", "samesite=lax", f"path=/qujat/sign/{a.id}"} <= set(cookie) and "secure" not in cookie
        proxied = c.get(f"/sign/{a.id}", params={"ticket": ticket}, headers={"x-forwarded-proto": "https"})
        assert "secure" in [p.strip().lower() for p in proxied.headers["set-cookie"].split(";")]

        c.cookies.clear()
        theirs = {"Cookie": f"{TICKET_COOKIE}={ticket}"}
        assert c.get(f"/sign/{b.id}", headers=theirs).status_code == 403
        assert c.get(f"/sign/{b.id}/pages/1.png", headers=theirs).status_code == 403
        posted = c.post(f"/sign/{b.id}/signature", content=b'{"cms": "MA=="}', headers=theirs)
        assert posted.status_code == 403 and posted.json()["code"] == "ticket_invalid"
        cross_site = c.post(f"/sign/{a.id}/signature", content=b'{"cms": "MA==", "x": "="}',
                            headers={"Content-Type": "text/plain", "Origin": "https://evil.example"})
        assert cross_site.status_code == 403


def test_a_percent_encoded_ticket_key_is_redacted_too(sign_env):
    """``?%74icket=…`` is a ticket to the page (the query's names are decoded), but the access
    log writes the query as it came and the redaction looked for ``ticket=`` only: the
    ticket was written to the log."""
    import logging

    from fastapi.testclient import TestClient

    from qujat.web.signpage import RedactTickets

    app, a, _b, ticket = sign_env
    with TestClient(app, follow_redirects=False) as c:
        moved = c.get(f"/sign/{a.id}?%74icket={ticket}&lang=kk")
        assert moved.status_code == 303 and ticket in moved.headers["set-cookie"]
    for query in (f"%74icket={ticket}&lang=kk", f"lang=kk&%74%69cket={ticket}", f"ticket={ticket}",
                  f"lang=kk;ticket={ticket}"):
        record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                                   '%s - "%s %s HTTP/%s" %d',
                                   ("127.0.0.1:5000", "GET", f"/sign/{a.id}?{query}", "1.1", 303), None)
        assert RedactTickets().filter(record)
        line = record.getMessage()
        assert ticket not in line and "<redacted>" in line and f"/sign/{a.id}?" in line, line


# -- 3. the NCA test-identity gate -------------------------------------------------------------

TODAY = dt.date(2026, 11, 29)
NCA_IIN, NCA_BIN = "123456789011", "123456789021"
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _refused(raw: dict, **options) -> dict[str, str]:
    from docgen.request import RequestInvalid, parse_request

    with pytest.raises(RequestInvalid) as refused:
        parse_request(raw, today=TODAY, **options)
    return {p.path: p.message for p in refused.value.problems}


@pytest.mark.parametrize("digits", [ARABIC_INDIC, FULL_WIDTH], ids=["arabic-indic", "full-width"])
def test_identifiers_in_other_digits_are_refused_not_kept(digits):
    """The identifier rules' ``\\d`` took any Unicode digit and kept it as typed: a signer expected
    by ``٨٠٠١٠٢٣٠٠١٢٠`` (a valid IIN in Arabic-Indic digits) matches no certificate's
    ``800102300120`` — the record waited for ever — and a holder's IIN or a cadastral number so
    written was printed in those digits on the act. Refused, with the field's path."""
    act = example("land_right_act")
    act["data"]["holder"]["iin"] = act["data"]["holder"]["iin"].translate(digits)
    act["data"]["land_plot"]["cadastral_number"] = act["data"]["land_plot"]["cadastral_number"].translate(digits)
    problems = _refused(act)
    assert set(problems) == {"data.holder.iin", "data.land_plot.cadastral_number"}
    assert all("digits 0-9" in m for m in problems.values())

    value_act = example("cadastral_value_act")
    value_act["data"]["applicant"]["bin"] = value_act["data"]["applicant"]["bin"].translate(digits)
    value_act["signers"] = [{"role": "Басшы", "iin": "800102300120".translate(digits)},
                            {"role": "Ұйым", "bin": "151140007895".translate(digits)}]
    problems = _refused(value_act, allow_nca_test_identities=True)
    assert set(problems) == {"data.applicant.bin", "signers.0.iin", "signers.1.bin"}


@pytest.mark.parametrize("iin", ["\u00a0" + NCA_IIN + "\u2003", NCA_IIN + "\n", NCA_IIN.translate(ARABIC_INDIC),
                                 NCA_IIN.translate(FULL_WIDTH), "1234-5678-9011"])
def test_no_spelling_of_the_test_iin_passes_the_gate(iin):
    """Guard: with the setting off, the test IIN written with Unicode spaces around it, in other
    digits or with dashes is refused at its path (whitespace is stripped before the gate; other
    spellings fail the check digit the test IIN fails)."""
    raw = {**example("cadastral_value_act"), "signers": [{"role": "Басшы", "iin": iin}]}
    assert list(_refused(raw)) == ["signers.0.iin"]


def test_the_test_bin_is_refused_at_its_path_next_to_a_real_iin():
    """Guard: the BIN path has the gate too, and a real IIN in the same signer is not blamed."""
    raw = {**example("cadastral_value_act"),
           "signers": [{"role": "Кәсіпорын басшысы", "iin": "800102300120", "bin": " " + NCA_BIN}]}
    problems = _refused(raw)
    assert list(problems) == ["signers.0.bin"] and "NCA's test identity" in problems["signers.0.bin"]
