"""Engines and migrations: the only module that knows SQLite from PostgreSQL.

SQLite (the embedded default): a file, WAL journal (readers never wait for the writer), foreign
keys on, a busy timeout, and every writing transaction opened with ``BEGIN IMMEDIATE`` so that
two writers queue on the busy timeout instead of one failing when it upgrades its read lock.
``synchronous=FULL``, said explicitly: a COMMIT returns only once the WAL is on disk, so a record
whose 201 (and signed PDF, whose QR names the record) went out survives a power loss as its blob
files do. ``NORMAL`` would survive process crashes only, for about 0.1 ms of CPU and 0.25 ms of
wall time per commit (one per issued document): not worth a citizen's document that no longer
verifies.
PostgreSQL: ``postgresql://`` (or ``postgres://``) without a driver means psycopg 3.

`upgrade` runs ``alembic upgrade head`` on an engine with the migrations shipped inside this
package, under a lock (PostgreSQL: an advisory lock; SQLite: the write lock), so that several
processes starting at once migrate once.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url

__all__ = ["create", "upgrade", "alembic_config", "normalise_url", "READ_ONLY", "HERE"]

HERE = Path(__file__).resolve().parent
BUSY_TIMEOUT_S = 30.0
READ_ONLY = "qujat_read_only"             # execution option: a reading transaction
_MIGRATION_LOCK = 0x71756A6174            # "qujat": PostgreSQL advisory lock key


def normalise_url(url: str | URL) -> URL:
    """The URL SQLAlchemy is given: a supported backend, psycopg 3 for PostgreSQL, and a file
    (not memory) for SQLite. Raises ValueError otherwise."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend in ("postgresql", "postgres"):
        driver = u.get_driver_name() if "+" in u.drivername else "psycopg"
        if driver != "psycopg":
            raise ValueError(f"PostgreSQL is used through psycopg 3 (postgresql+psycopg://), not {driver}")
        return u.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if u.database in (None, "", ":memory:") or u.database.startswith("file:"):
            raise ValueError("SQLite needs a database file: sqlite:///path/to/qujat.sqlite3")
        return u
    raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _journal_mode_wal(cur) -> str:
    """Ask SQLite for WAL mode; the mode it is in afterwards ("locked" while another holds it)."""
    try:
        return cur.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        return "locked"


def create(url: str | URL) -> Engine:
    u = normalise_url(url)
    if u.get_backend_name() == "postgresql":
        return create_engine(u, pool_pre_ping=True, json_serializer=_json)
    Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(u, json_serializer=_json,
                           connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None          # we say BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        try:
            # Switching a new database to WAL needs it unlocked for a moment: while another
            # connection (a store opening at the same time) holds a lock, SQLite answers with the
            # current mode or "database is locked" at once, without its busy handler. Ask again
            # until the busy timeout has passed.
            deadline = time.monotonic() + BUSY_TIMEOUT_S
            while (mode := _journal_mode_wal(cur)) != "wal":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SQLite refused WAL mode (journal_mode={mode}) for {u.database}")
                time.sleep(0.02)
            cur.execute("PRAGMA synchronous=FULL")          # durable at COMMIT (above)
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

    return engine


def alembic_config() -> Config:
    """The packaged alembic.ini with its script location resolved inside the installed package."""
    cfg = Config(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """``alembic upgrade <revision>`` in one transaction, under the migration lock."""
    cfg = alembic_config()
    with engine.begin() as conn:                     # SQLite: BEGIN IMMEDIATE is the lock
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """``alembic downgrade <revision>`` (development and tests)."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
