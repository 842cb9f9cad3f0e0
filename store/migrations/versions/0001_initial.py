"""The records store: records, versions, audit events, API keys, idempotency keys.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
WHEN = sa.DateTime(timezone=True)

# Tables whose rows are never changed or removed, and what is refused on them.
GUARDED = {"audit_events": ("UPDATE", "DELETE"), "versions": ("DELETE",)}


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(128), nullable=False),
        sa.Column("token_key", sa.String(128), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("annulled_reason", sa.Text(), nullable=True),
        sa.Column("annulled_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records")),
        sa.UniqueConstraint("token", name=op.f("uq_records_token")),
        sa.UniqueConstraint("token_key", name=op.f("uq_records_token_key")),
        sa.UniqueConstraint("client_id", "external_id", name=op.f("uq_records_client_id_external_id")),
        sa.CheckConstraint("status IN ('awaiting_signature', 'valid', 'annulled', 'superseded')",
                           name=op.f("ck_records_status")),
        sa.CheckConstraint("current_version >= 1", name=op.f("ck_records_current_version")),
        sa.CheckConstraint(
            "status <> 'annulled' OR (annulled_at IS NOT NULL AND annulled_reason IS NOT NULL)",
            name=op.f("ck_records_annulled")),
    )
    op.create_table(
        "versions",
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("templates", JSON, nullable=False),
        sa.Column("pdf_sha256", sa.String(64), nullable=False),
        sa.Column("docx_sha256", sa.String(64), nullable=False),
        sa.Column("signatures", JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("record_id", "number", name=op.f("pk_versions")),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], name=op.f("fk_versions_record_id_records")),
        sa.CheckConstraint("number >= 1", name=op.f("ck_versions_number")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"],
                                name=op.f("fk_audit_events_record_id_records")),
    )
    op.create_index(op.f("ix_audit_events_record_id"), "audit_events", ["record_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("revoked_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("client_id", "key", name=op.f("pk_idempotency_keys")),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"],
                                name=op.f("fk_idempotency_keys_record_id_records")),
        sa.CheckConstraint("state IN ('in_flight', 'done')", name=op.f("ck_idempotency_keys_state")),
    )
    _guards_up()


def downgrade() -> None:
    _guards_down()
    for table in ("idempotency_keys", "api_keys", "audit_events", "versions", "records"):
        op.drop_table(table)


def _guards_up() -> None:
    """Triggers refusing what GUARDED names (and TRUNCATE on PostgreSQL, which skips row
    triggers). The message says "refused"."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION qujat_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION USING ERRCODE = 'restrict_violation', MESSAGE = TG_OP || ' on ' "
            "|| TG_TABLE_NAME || ' is refused: qujat never rewrites or removes these rows'; END $$")
        for table, ops in GUARDED.items():
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE {' OR '.join(ops)} ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION qujat_refuse_change()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION qujat_refuse_change()")
        return
    for table, ops in GUARDED.items():
        for what in ops:
            op.execute(f"CREATE TRIGGER {table}_no_{what.lower()} BEFORE {what} ON {table} BEGIN "
                       f"SELECT RAISE(ABORT, '{what} on {table} is refused: "
                       f"qujat never rewrites or removes these rows'); END")


def _guards_down() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in GUARDED:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION qujat_refuse_change()")
        return
    for table, ops in GUARDED.items():
        for what in ops:
            op.execute(f"DROP TRIGGER {table}_no_{what.lower()}")
