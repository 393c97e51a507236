"""roster search and role indexes

The /members search (`q=`) scanned every user: trigram GIN indexes (pg_trgm) now serve a
term of 3 letters or more anywhere in "first last" or the username; text_pattern_ops
b-trees serve a term of 1-2 letters, which matches the start of a first name, last name
or username (trigrams cannot serve it).

pg_trgm is a trusted extension: a role with CREATE on the database (its owner does)
may create it without being a superuser. Where it cannot be created (not installed, no
privilege), the trigram indexes are left out with a warning: the search still works,
by scanning, as before.

The indexes are built in the migration's transaction (not CONCURRENTLY): a few seconds
at 100,000 users, during which writes to users wait; the release's migrate step runs
before the bots start.

SQLite gets only the plain index on memberships (chat, role, status), which /members
role filters count from; its LIKE on lower() uses no index either way.

Revision ID: b7c4e91a2d30
Revises: 7e5a1c9d2b34
Create Date: 2026-12-01 19:10:00.000000+00:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c4e91a2d30"
down_revision: str | None = "7e5a1c9d2b34"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

TRIGRAM = {
    "ix_users_search_name_trgm": "lower(first_name || ' ' || coalesce(last_name, ''))",
    "ix_users_username_trgm": "lower(username)",
}
PREFIX = {
    "ix_users_first_name_prefix": "lower(first_name)",
    "ix_users_last_name_prefix": "lower(last_name)",
    "ix_users_username_prefix": "lower(username)",
}


def _pg_trgm(bind: sa.Connection) -> bool:
    """CREATE EXTENSION in a savepoint, so that a refusal leaves the migration going."""
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as error:
        log.warning(
            "pg_trgm not available (%s): /members q= of 3+ letters will scan the users "
            "table; create the extension as a superuser and re-create this revision",
            type(error.orig).__name__,
        )
        return False
    return True


def upgrade() -> None:
    op.create_index("ix_memberships_chat_role_status", "memberships", ["chat_id", "role", "status"])
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for name, expression in PREFIX.items():
        op.execute(f"CREATE INDEX {name} ON users ({expression} text_pattern_ops)")
    if _pg_trgm(bind):
        for name, expression in TRIGRAM.items():
            op.execute(f"CREATE INDEX {name} ON users USING gin ({expression} gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The extension stays: other objects (or an operator) may use it, and it costs
        # nothing unused; the upgrade creates it only if missing.
        for name in [*TRIGRAM, *PREFIX]:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_memberships_chat_role_status", table_name="memberships")
