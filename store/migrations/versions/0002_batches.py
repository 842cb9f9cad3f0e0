"""Batches: regeneration (and LTV extension) jobs over many records, one item per record.

A version made by a batch names it (`versions.batch_id`); the unique index on
(record_id, batch_id) is the database's own guarantee that a batch never gives a record two
versions, whatever crashes and retries happen above it.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("spec_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("retry_of", sa.Uuid(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
        sa.ForeignKeyConstraint(["retry_of"], ["batches.id"], name=op.f("fk_batches_retry_of_batches")),
        sa.CheckConstraint("kind IN ('regenerate', 'extend_ltv')", name=op.f("ck_batches_kind")),
        sa.CheckConstraint("status IN ('running', 'finished', 'cancelled')",
                           name=op.f("ck_batches_status")),
    )
    op.create_index(op.f("ix_batches_spec_hash_status"), "batches", ["spec_hash", "status"])
    op.create_table(
        "batch_items",
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "record_id", name=op.f("pk_batch_items")),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name=op.f("fk_batch_items_batch_id_batches")),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"],
                                name=op.f("fk_batch_items_record_id_records")),
        sa.CheckConstraint("state IN ('pending', 'done', 'failed', 'skipped')",
                           name=op.f("ck_batch_items_state")),
    )
    op.create_index(op.f("ix_batch_items_batch_id_state"), "batch_items", ["batch_id", "state"])
    # plain ADD COLUMN (no table rebuild on SQLite: the versions table keeps its triggers)
    op.add_column("versions", sa.Column("batch_id", sa.Uuid(), nullable=True))
    op.create_index(op.f("ix_versions_record_id_batch_id"), "versions", ["record_id", "batch_id"],
                    unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_versions_record_id_batch_id"), table_name="versions")
    op.execute("ALTER TABLE versions DROP COLUMN batch_id")     # SQLite >= 3.35, no rebuild
    op.drop_index(op.f("ix_batch_items_batch_id_state"), table_name="batch_items")
    op.drop_table("batch_items")
    op.drop_index(op.f("ix_batches_spec_hash_status"), table_name="batches")
    op.drop_table("batches")
