"""application digest and sweep indexes

Revision ID: 6d3f4e5a7b82
Revises: 93e7dfdce664
Create Date: 2026-11-23 18:37:47.662292+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6d3f4e5a7b82"
down_revision: str | None = "93e7dfdce664"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("application_answers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_answers_transcription_job_id"),
            ["transcription_job_id"],
            unique=False,
        )

    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digested_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_applications_open_expires",
            ["expires_at"],
            unique=False,
            sqlite_where=sa.text("status IN ('draft', 'pending')"),
            postgresql_where=sa.text("status IN ('draft', 'pending')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_applications_open_expires",
            sqlite_where=sa.text("status IN ('draft', 'pending')"),
            postgresql_where=sa.text("status IN ('draft', 'pending')"),
        )
        batch_op.drop_column("digested_at")

    with op.batch_alter_table("application_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_answers_transcription_job_id"))
