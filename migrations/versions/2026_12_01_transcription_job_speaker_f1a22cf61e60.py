"""transcription job speaker: whose voice it is, apart from who asked

`user_id` is who asked (charged, may cancel); `speaker_id` is the note's author or a
forwarded note's original sender, so /forgetme reaches the transcripts of someone's
voice whoever asked for them. Rows from before only know `user_id` (the note's author
for all but forwarded notes and re-runs): it is copied as the best guess.

Revision ID: f1a22cf61e60
Revises: 3a0c1d2e4f59
Create Date: 2026-12-01 10:00:00.000000+00:00
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import SAWarning

revision: str = "f1a22cf61e60"
down_revision: str | None = "3a0c1d2e4f59"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcription_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("speaker_id", sa.BigInteger(), nullable=True))
    op.execute("UPDATE transcription_jobs SET speaker_id = user_id")
    op.create_index(
        "ix_transcription_jobs_speaker", "transcription_jobs", ["speaker_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_transcription_jobs_speaker", table_name="transcription_jobs")
    # On SQLite the table is rebuilt from its reflection, which reads the referenced
    # users table too; its expression index (lower(username)) cannot be reflected and
    # is not needed for the copy.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
        with op.batch_alter_table("transcription_jobs", schema=None) as batch_op:
            batch_op.drop_column("speaker_id")
