"""transcription job queue

The queue a job was routed to (worker routing by capability): the sweep and the ops
CLI re-enqueue into it, the gauges count open jobs per queue. NULL: the deployment's
one queue (REDIS__QUEUE_NAME), as every job before routing.

Revision ID: 5b8c2d7e9f14
Revises: b7c4e91a2d30
Create Date: 2026-12-01 19:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b8c2d7e9f14"
down_revision: str | None = "b7c4e91a2d30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcription_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queue", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcription_jobs", schema=None) as batch_op:
        batch_op.drop_column("queue")
