"""karma restrictions

Revision ID: dbc0827a20fd
Revises: 97a178ddcff8
Create Date: 2026-11-22 04:38:38.983222+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dbc0827a20fd"
down_revision: str | None = "97a178ddcff8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "karma_restrictions",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.id"],
            name=op.f("fk_karma_restrictions_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["karma_events.id"],
            name=op.f("fk_karma_restrictions_event_id_karma_events"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_karma_restrictions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "user_id", name=op.f("pk_karma_restrictions")),
    )
    with op.batch_alter_table("karma_restrictions", schema=None) as batch_op:
        batch_op.create_index("ix_karma_restrictions_event_id", ["event_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("karma_restrictions", schema=None) as batch_op:
        batch_op.drop_index("ix_karma_restrictions_event_id")

    op.drop_table("karma_restrictions")
