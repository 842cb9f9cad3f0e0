"""Officials' two-step signing: the signing state of a record awaiting signatures, and the
signing-page tickets (their hashes only).

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision, down_revision = "0003", "0002"
branch_labels = depends_on = None


def _json() -> sa.types.TypeEngine:
    """JSON, JSONB on PostgreSQL (as the ORM's JsonType)."""
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _when() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "signing_states",
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("signers", _json(), nullable=False),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.Column("done", _json(), nullable=False),
        sa.Column("pdf_sha256", sa.String(64), nullable=False),
        sa.Column("docx_sha256", sa.String(64), nullable=False),
        sa.Column("templates", _json(), nullable=False),
        sa.Column("field_name", sa.String(128), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("contents_start", sa.BigInteger(), nullable=False),
        sa.Column("contents_end", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_signing_states")),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"],
                                name=op.f("fk_signing_states_record_id_records")),
        sa.CheckConstraint("next_index >= 0", name=op.f("ck_signing_states_next_index")),
    )
    op.create_table(
        "signing_tickets",
        sa.Column("ticket_hash", sa.String(64), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("signer_index", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("expires_at", _when(), nullable=False),
        sa.Column("used_at", _when(), nullable=True),
        sa.PrimaryKeyConstraint("ticket_hash", name=op.f("pk_signing_tickets")),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"],
                                name=op.f("fk_signing_tickets_record_id_records")),
    )
    op.create_index(op.f("ix_signing_tickets_record_id"), "signing_tickets", ["record_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_signing_tickets_record_id"), table_name="signing_tickets")
    op.drop_table("signing_tickets")
    op.drop_table("signing_states")
