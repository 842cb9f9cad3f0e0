"""Fixtures: the store on SQLite and on a real PostgreSQL, side by side.

PostgreSQL is a throw-away cluster (`scripts/pg-tmp`, Debian's server binaries) started once per
test session and stopped at its end, also when tests fail; a watchdog stops it should this process
die first. Each test gets a database of its own, made empty and dropped afterwards. Without the
server binaries every PostgreSQL test fails, saying what to install.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from store import Store
from tests.store.helpers import BACKENDS, PG_TMP, Clock


@pytest.fixture(scope="session")
def pg_cluster():
    """The DATABASE_URL of a running throw-away PostgreSQL cluster."""
    where = tempfile.mkdtemp(prefix="qujat-pg-")
    started = subprocess.run([str(PG_TMP), "start", where, "--owner", str(os.getpid())],
                             capture_output=True, text=True, timeout=180)
    try:
        if started.returncode != 0:
            pytest.fail(f"cannot start a throw-away PostgreSQL (scripts/pg-tmp): "
                        f"{started.stderr.strip() or started.stdout.strip()}", pytrace=False)
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(PG_TMP), "stop", where], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def pg_admin(pg_cluster):
    engine = create_engine(pg_cluster, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_database(pg_cluster, pg_admin):
    """The URL of a new, empty PostgreSQL database (dropped after the test)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield make_url(pg_cluster).set(database=name).render_as_string(hide_password=False)
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """An empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'qujat.sqlite3'}"
    return request.getfixturevalue("pg_database")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def blob_dir(tmp_path) -> Path:
    return tmp_path / "data" / "blobs"


@pytest.fixture
def store(database_url, blob_dir, clock):
    with Store.open(database_url, blob_dir, clock=clock) as s:
        yield s
