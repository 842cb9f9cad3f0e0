"""Fixtures of the batch tests: one archive of issued records, made once per session through
`qujat.service.issue` (real LibreOffice, real signatures) and copied for each test, on SQLite or
into a fresh PostgreSQL database (the session cluster of tests/store)."""
from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from qujat.settings import Settings
from store import Store
from store.orm import RecordRow, VersionRow
from tests.conftest import example
from tests.store.conftest import pg_admin, pg_cluster, pg_database  # noqa: F401 - shared fixtures

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
ARCHIVE_SIZE = 200
# quick to render: one language, one signature (the two-signature act and kk+ru join cost more)
KINDS = [("land_right_act", "kk"), ("address_certificate", "ru"), ("cadastral_information", "kk"),
         ("motivated_refusal", "ru")]


@dataclasses.dataclass
class Archive:
    """A data folder (SQLite database, blobs, dev PKI) and its DATABASE_URL."""

    data_dir: Path
    database_url: str

    def settings(self, **kw) -> Settings:
        return Settings(data_dir=self.data_dir, database_url=self.database_url, pool_size=1, **kw)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUJAT_") and k != "DATABASE_URL"}
        env.update(QUJAT_DATA_DIR=str(self.data_dir), DATABASE_URL=self.database_url,
                   QUJAT_POOL_SIZE="1", PYTHONPATH=str(ROOT))
        env.update(extra)
        return env

    def store(self) -> Store:
        return Store.open(self.database_url, self.data_dir / "blobs")

    def qujat(self, *args: str, env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
        return subprocess.Popen([PYTHON, "-m", "qujat", *args], env=self.env(**(env or {})),
                                cwd=str(ROOT), start_new_session=True, **popen)


def issue_archive(data_dir: Path, n: int) -> None:
    from qujat import service
    from qujat.runtime import open_runtime

    settings = Settings(data_dir=data_dir, pool_size=2)
    with open_runtime(settings, convert=True, sign=True, store=True) as rt:
        caller = service.Caller(client_id="archive", actor="test:archive")
        for i in range(n):
            doc_type, lang = KINDS[i % len(KINDS)]
            raw = example(doc_type, lang)
            raw["external_id"] = f"archive-{i:05d}"
            service.issue(rt, raw, caller=caller)


@pytest.fixture(scope="session")
def archive_template(tmp_path_factory) -> Path:
    """A data folder with ARCHIVE_SIZE issued records (SQLite), made once."""
    where = tmp_path_factory.mktemp("archive") / "data"
    started = time.monotonic()
    issue_archive(where, ARCHIVE_SIZE)
    print(f"\nissued {ARCHIVE_SIZE} records in {time.monotonic() - started:.1f} s")
    return where


def copy_rows(source_url: str, target_url: str, blob_dir: Path) -> None:
    """The records and versions of one store into another (freshly migrated) one."""
    with Store.open(source_url, blob_dir) as src, Store.open(target_url, blob_dir) as dst:
        with src.engine.connect() as a, dst.engine.begin() as b:
            for table in (RecordRow.__table__, VersionRow.__table__):
                rows = [dict(r._mapping) for r in a.execute(select(table))]
                if rows:
                    b.execute(insert(table), rows)


@pytest.fixture(params=["sqlite", "postgresql"])
def archive(request, archive_template, tmp_path) -> Archive:
    """A copy of the archive of its own, on each backend."""
    data = tmp_path / "data"
    shutil.copytree(archive_template, data)
    sqlite_url = f"sqlite:///{data / 'qujat.sqlite3'}"
    if request.param == "sqlite":
        return Archive(data, sqlite_url)
    url = request.getfixturevalue("pg_database")
    copy_rows(sqlite_url, url, data / "blobs")
    return Archive(data, url)


@pytest.fixture
def pg_archive(archive_template, tmp_path, pg_database) -> Archive:
    """A copy of the archive of its own in a fresh PostgreSQL database."""
    data = tmp_path / "data"
    shutil.copytree(archive_template, data)
    copy_rows(f"sqlite:///{data / 'qujat.sqlite3'}", pg_database, data / "blobs")
    return Archive(data, pg_database)


@pytest.fixture
def sqlite_archive(archive_template, tmp_path) -> Archive:
    data = tmp_path / "data"
    shutil.copytree(archive_template, data)
    return Archive(data, f"sqlite:///{data / 'qujat.sqlite3'}")


def break_records(store: Store, record_ids) -> None:
    """Make stored data that no longer validate (as if the rules had changed since)."""
    with store.engine.begin() as conn:
        for rid in record_ids:                         # every required field gone
            conn.execute(update(RecordRow).where(RecordRow.id == rid).values(data={}))


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    """Processes a test starts (each in a session of its own); killed with their groups after."""
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def wait_for(predicate, timeout: float, what: str, poll: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def processes_with(*fragments: str) -> list[int]:
    """The pids of live processes whose command line holds every one of ``fragments``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode("utf-8", "replace") for a in argv]
        if all(f in words for f in fragments):
            found.append(int(entry.name))
    return found
