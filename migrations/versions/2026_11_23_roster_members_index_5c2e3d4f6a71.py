"""roster members index

Revision ID: 5c2e3d4f6a71
Revises: 6d3f4e5a7b82
Create Date: 2026-11-23 18:39:28.653471+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5c2e3d4f6a71"
down_revision: str | None = "6d3f4e5a7b82"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(
            "ix_memberships_chat_created_user", ["chat_id", "created_at", "user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_memberships_chat_created_user")
