"""roster language index

`/members lang=xx` matches the language a member reads, lower(coalesce(ui_language,
language_code)), equal to the code or starting with "code-". No index served it: every
user was read to find a rare language, and the planner, without statistics on the
expression, guessed how many match (0.5 % for any code). A text_pattern_ops b-tree on
the expression serves the equality and the prefix whatever the collation, and ANALYZE
keeps statistics on it.

PostgreSQL only, like the other roster search indexes (b7c4e91a2d30); built in the
migration's transaction (a second or two at 100,000 users).

Revision ID: d1874496681b
Revises: 5b8c2d7e9f14
Create Date: 2026-12-01 22:40:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "d1874496681b"
down_revision: str | None = "5b8c2d7e9f14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The expression RosterRepository filters on (bot/repositories/roster.py, _language).
EXPRESSION = "lower(coalesce(ui_language, language_code))"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_users_language ON users ({EXPRESSION} text_pattern_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_users_language")
