"""karma events without a foreign key to chats

Every vote's foreign-key check share-locked the chat's row, the same row for every vote
in a chat; under concurrent votes PostgreSQL turns that into a new MultiXact per vote.
The vote statement upserts the chat row itself and chats are never deleted, so the
constraint is dropped (see the model's comment).

Revision ID: 3a0c1d2e4f59
Revises: 4b1d2c3e5f60
Create Date: 2026-11-29 20:05:00.000000+00:00
"""

import warnings
from collections.abc import Sequence

from alembic import op
from sqlalchemy.exc import SAWarning

revision: str = "3a0c1d2e4f59"
down_revision: str | None = "4b1d2c3e5f60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # On SQLite the table is rebuilt from its reflection, which reads the referenced
    # users table too; its expression index (lower(username)) cannot be reflected and
    # is not needed for the copy.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
        with op.batch_alter_table("karma_events", schema=None) as batch_op:
            batch_op.drop_constraint("fk_karma_events_chat_id_chats", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("karma_events", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_karma_events_chat_id_chats", "chats", ["chat_id"], ["id"], ondelete="CASCADE"
        )
