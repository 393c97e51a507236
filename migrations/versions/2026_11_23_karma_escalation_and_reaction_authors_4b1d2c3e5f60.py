"""karma escalation and reaction authors

karma_restrictions becomes one row per escalation step (id, step, kind, until nullable,
lifted_by, lift_reason) instead of one row per member: the table is rebuilt and its rows
copied (step 0, read-only). karma_message_authors remembers who wrote recent messages in
chats with reaction votes on.

Revision ID: 4b1d2c3e5f60
Revises: 5c2e3d4f6a71
Create Date: 2026-11-23 18:38:41.000215+00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "4b1d2c3e5f60"
down_revision: str | None = "5c2e3d4f6a71"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
OLD_COLUMNS = {
    "chat_id": sa.BigInteger(),
    "user_id": sa.BigInteger(),
    "event_id": EVENT_ID,
    "until": WHEN,
    "created_at": WHEN,
    "lifted_at": WHEN,
}


def _foreign_keys() -> list[sa.ForeignKeyConstraint]:
    return [
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
    ]


def _read_restrictions() -> list[dict[str, Any]]:
    table = sa.table(
        "karma_restrictions", *(sa.column(name, type_) for name, type_ in OLD_COLUMNS.items())
    )
    rows = op.get_bind().execute(sa.select(table).order_by(table.c.created_at))
    return [dict(row._mapping) for row in rows]


def _drop_restrictions() -> None:
    with op.batch_alter_table("karma_restrictions", schema=None) as batch_op:
        batch_op.drop_index("ix_karma_restrictions_event_id")
    op.drop_table("karma_restrictions")


def upgrade() -> None:
    op.create_table(
        "karma_message_authors",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.id"],
            name=op.f("fk_karma_message_authors_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_karma_message_authors_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "message_id", name=op.f("pk_karma_message_authors")),
    )
    with op.batch_alter_table("karma_message_authors", schema=None) as batch_op:
        batch_op.create_index("ix_karma_message_authors_created_at", ["created_at"], unique=False)

    rows = _read_restrictions()
    _drop_restrictions()
    restrictions = op.create_table(
        "karma_restrictions",
        sa.Column("id", EVENT_ID, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", EVENT_ID, nullable=True),
        sa.Column("step", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "read_only",
                "ban",
                name="karmasanction",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            server_default="read_only",
            nullable=False,
        ),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "lift_reason",
            sa.Enum(
                "undo",
                "pardon",
                name="karmalift",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=True,
        ),
        *_foreign_keys(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_karma_restrictions")),
    )
    with op.batch_alter_table("karma_restrictions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_karma_restrictions_chat_user_created",
            ["chat_id", "user_id", "created_at"],
            unique=False,
        )
        batch_op.create_index("ix_karma_restrictions_event_id", ["event_id"], unique=False)
    if rows and restrictions is not None:
        op.bulk_insert(restrictions, [{**row, "step": 0, "kind": "read_only"} for row in rows])


def downgrade() -> None:
    # Back to one row per member: the latest sanction of each, a ban as read-only "forever"
    # (the old table had no bans and needed an end).
    rows = _read_restrictions()
    latest: dict[tuple[int, int], dict[str, Any]] = {}
    for row in rows:
        latest[(row["chat_id"], row["user_id"])] = row
    with op.batch_alter_table("karma_restrictions", schema=None) as batch_op:
        batch_op.drop_index("ix_karma_restrictions_chat_user_created")
    _drop_restrictions()
    restrictions = op.create_table(
        "karma_restrictions",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", EVENT_ID, nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        *_foreign_keys(),
        sa.PrimaryKeyConstraint("chat_id", "user_id", name=op.f("pk_karma_restrictions")),
    )
    with op.batch_alter_table("karma_restrictions", schema=None) as batch_op:
        batch_op.create_index("ix_karma_restrictions_event_id", ["event_id"], unique=False)
    if latest and restrictions is not None:
        op.bulk_insert(
            restrictions,
            [
                {**row, "until": row["until"] or row["created_at"].replace(year=9999)}
                for row in latest.values()
            ],
        )

    with op.batch_alter_table("karma_message_authors", schema=None) as batch_op:
        batch_op.drop_index("ix_karma_message_authors_created_at")
    op.drop_table("karma_message_authors")
