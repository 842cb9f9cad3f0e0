"""Alembic environment. `store.db.upgrade` hands in its open connection (already inside the
migration transaction); the alembic command line passes ``-x url=…`` instead."""
from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from store import db
from store.orm import Base

config = context.config


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("the store's migrations run online only (give -x url=…)")

connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    if config.config_file_name:                 # the command line: show what runs
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("give the database: alembic -c store/alembic.ini -x url=sqlite:///… …")
    engine = db.create(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()
