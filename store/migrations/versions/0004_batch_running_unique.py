"""At most one running batch per spec: a partial unique index on batches(spec_hash) where the
status is 'running'. Two coordinators that start the same new spec at the same moment both see
no running batch; the database lets one of them insert it and refuses the other, which then
resumes the winner's batch (`store.batches.BatchSteps.batch_create`).

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0004", "0003"
branch_labels = depends_on = None

RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    # a database where a race already left two running batches of one spec: the older ones are
    # cancelled (their done items keep their versions; their pending items go to the newest)
    op.execute("""
        UPDATE batches SET status = 'cancelled', finished_at = created_at
        WHERE status = 'running' AND EXISTS (
            SELECT 1 FROM batches AS newer
            WHERE newer.spec_hash = batches.spec_hash AND newer.status = 'running'
              AND (newer.created_at > batches.created_at
                   OR (newer.created_at = batches.created_at AND newer.id > batches.id)))
    """)
    op.create_index(op.f("ux_batches_running_spec_hash"), "batches", ["spec_hash"], unique=True,
                    sqlite_where=RUNNING, postgresql_where=RUNNING)


def downgrade() -> None:
    op.drop_index(op.f("ux_batches_running_spec_hash"), table_name="batches")
