"""`alembic upgrade head` on an empty database makes the schema the ORM describes, on SQLite and
PostgreSQL alike; the packaged alembic.ini works from the command line; the backends are set up
as documented (SQLite: WAL, foreign keys, busy timeout)."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from store import Store, db
from store.orm import Base

TABLES = {"records", "versions", "audit_events", "api_keys", "idempotency_keys", "batches",
          "batch_items", "signing_states", "signing_tickets"}


def _head() -> str:
    return ScriptDirectory.from_config(db.alembic_config()).get_current_head()


def _tables(url: str) -> set[str]:
    engine = db.create(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_head_on_an_empty_database_creates_the_schema(database_url, blob_dir):
    assert _tables(database_url) == set()
    with Store.open(database_url, blob_dir) as store:
        insp = inspect(store.engine)
        assert set(insp.get_table_names()) == TABLES | {"alembic_version"}
        with store.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == _head()
        uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints("records")}
        assert {("token",), ("token_key",), ("client_id", "external_id")} <= uniques
        assert insp.get_pk_constraint("versions")["constrained_columns"] == ["record_id", "number"]
        assert insp.get_pk_constraint("idempotency_keys")["constrained_columns"] == ["client_id", "key"]
        assert [i["column_names"] for i in insp.get_indexes("audit_events")] == [["record_id"]]
        checks = {c["name"] for c in insp.get_check_constraints("records")}
        assert {"ck_records_status", "ck_records_current_version", "ck_records_annulled"} <= checks


def test_the_orm_models_and_the_migrations_agree(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []


def test_opening_a_migrated_database_again_changes_nothing(database_url, blob_dir):
    Store.open(database_url, blob_dir).close()
    with Store.open(database_url, blob_dir) as store, store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == _head()
        assert conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1


def test_downgrade_removes_the_schema_and_upgrade_builds_it_again(database_url, blob_dir):
    Store.open(database_url, blob_dir).close()
    engine = db.create(database_url)
    try:
        db.downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        db.upgrade(engine)
        assert set(inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
    finally:
        engine.dispose()


def test_the_packaged_alembic_ini_works_from_the_command_line(database_url):
    """What a developer runs to check or write a revision (script location inside the package)."""
    alembic = [sys.executable, "-m", "alembic", "-c", str(db.HERE / "alembic.ini"),
               "-x", f"url={database_url}"]
    up = subprocess.run([*alembic, "upgrade", "head"], capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stderr
    current = subprocess.run([*alembic, "current"], capture_output=True, text=True, timeout=120)
    assert current.returncode == 0, current.stderr
    assert f"{_head()} (head)" in current.stdout
    assert TABLES <= _tables(database_url)


def test_the_migrations_ship_inside_the_package():
    assert (db.HERE / "alembic.ini").is_file()
    assert (db.HERE / "migrations" / "env.py").is_file()
    assert (db.HERE / "migrations" / "versions" / "0001_initial.py").is_file()
    assert db.alembic_config().get_main_option("script_location") == str(db.HERE / "migrations")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_runs_in_wal_mode_with_foreign_keys_a_busy_timeout_and_full_sync(store, database_url):
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2     # FULL: durable COMMIT
    assert os.path.exists(database_url.removeprefix("sqlite:///") + "-wal")


@pytest.mark.parametrize(("given", "used"), [
    ("postgresql://u:p@db.example/qujat", "postgresql+psycopg://u:p@db.example/qujat"),
    ("postgres://u@db.example:5433/qujat", "postgresql+psycopg://u@db.example:5433/qujat"),
    ("postgresql+psycopg://u@db.example/qujat", "postgresql+psycopg://u@db.example/qujat"),
    ("sqlite:////var/lib/qujat/qujat.sqlite3", "sqlite:////var/lib/qujat/qujat.sqlite3"),
])
def test_database_urls_are_normalised(given, used):
    assert db.normalise_url(given).render_as_string(hide_password=False) == used


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://u@h/db",
                                 "postgresql+psycopg2://u@h/db"])
def test_unusable_database_urls_are_refused(url):
    with pytest.raises(ValueError):
        db.normalise_url(url)


def test_stores_opening_an_empty_database_at_once_migrate_it_once(database_url, blob_dir):
    """Several workers starting together: one migrates, the others wait and find it done."""
    start, errors = threading.Barrier(4), []

    def open_and_close() -> None:
        start.wait()
        try:
            Store.open(database_url, blob_dir).close()
        except Exception as e:  # noqa: BLE001 - asserted on below
            errors.append(e)

    threads = [threading.Thread(target=open_and_close) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with Store.open(database_url, blob_dir) as store, store.engine.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == _head()
        assert conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1


def test_migration_0004_keeps_one_running_batch_per_spec(database_url, blob_dir):
    """A database where a race already left two running batches of one spec: upgrading to 0004
    cancels the older one, then the partial unique index refuses a second running batch (a
    finished one of the same spec stays allowed); the ORM names the same index."""
    Store.open(database_url, blob_dir).close()
    engine = db.create(database_url)
    rows = ("INSERT INTO batches (id, kind, spec, spec_hash, status, actor, total, created_at) "
            "VALUES (:id, 'regenerate', '{}', :h, :status, 'cli:test', 0, :at)")
    try:
        db.downgrade(engine, "0003")
        old, new = uuid.UUID(int=1), uuid.UUID(int=2)
        at = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
        with engine.begin() as conn:
            for bid, status, when in ((old, "running", at), (new, "running", at + dt.timedelta(1)),
                                      (uuid.UUID(int=3), "finished", at)):
                conn.execute(text(rows), {"id": _uuid(engine, bid), "h": "a" * 64, "status": status,
                                          "at": _when(engine, when)})
        db.upgrade(engine)
        with engine.connect() as conn:
            status = dict(conn.execute(text("SELECT id, status FROM batches")).all())
        assert sorted(status.values()) == ["cancelled", "finished", "running"]
        assert status[_uuid(engine, new)] == "running"
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(rows), {"id": _uuid(engine, uuid.UUID(int=4)), "h": "a" * 64,
                                      "status": "running", "at": _when(engine, at)})
        names = {i["name"] for i in inspect(engine).get_indexes("batches")}
        assert "ux_batches_running_spec_hash" in names
        assert any(i.name == "ux_batches_running_spec_hash" and i.unique
                   for i in Base.metadata.tables["batches"].indexes)
    finally:
        engine.dispose()


def _uuid(engine, value: uuid.UUID):
    return value if engine.dialect.name == "postgresql" else value.hex


def _when(engine, value: dt.datetime):
    return value if engine.dialect.name == "postgresql" else value.strftime("%Y-%m-%d %H:%M:%S.%f")
