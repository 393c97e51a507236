"""transcription job source: a cached answer is its own row

A forwarded note answered from an earlier transcript of the same file gets a row of
its own (its chat, its requester), so the buttons under the answer act in the chat
they were pressed in; `source_job_id` names the job the text was copied from, and such
rows cost no minutes of the daily quota.

Revision ID: 703eb57fb3fd
Revises: f1a22cf61e60
Create Date: 2026-12-01 10:05:00.000000+00:00
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import SAWarning

revision: str = "703eb57fb3fd"
down_revision: str | None = "f1a22cf61e60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcription_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_job_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # On SQLite the table is rebuilt from its reflection, which reads the referenced
    # users table too; its expression index (lower(username)) cannot be reflected and
    # is not needed for the copy.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
        with op.batch_alter_table("transcription_jobs", schema=None) as batch_op:
            batch_op.drop_column("source_job_id")
