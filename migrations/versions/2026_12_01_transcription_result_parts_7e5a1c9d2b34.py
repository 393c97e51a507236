"""transcription result parts and posting intent

The result is split into messages once, when it is stored, and posted from the stored
parts; the part being sent is recorded before the send.

Revision ID: 7e5a1c9d2b34
Revises: 7e1f2a3b4c5d
Create Date: 2026-12-01 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7e5a1c9d2b34"
down_revision: str | None = "7e1f2a3b4c5d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcription_jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "result_parts",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("posting_part", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcription_jobs", schema=None) as batch_op:
        batch_op.drop_column("posting_part")
        batch_op.drop_column("result_parts")
