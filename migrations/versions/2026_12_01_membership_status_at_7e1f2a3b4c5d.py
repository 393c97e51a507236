"""memberships.status_at: the event time of the status applied last

Telegram may deliver chat_member updates late or out of order; a membership change
older than the one applied last is ignored (MembershipRepository.record). Existing rows
take updated_at, the time of their last change as the bot recorded it.

Revision ID: 7e1f2a3b4c5d
Revises: 7a92b422788d
Create Date: 2026-12-01 10:00:00.000000+00:00
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import SAWarning

revision: str = "7e1f2a3b4c5d"
down_revision: str | None = "7a92b422788d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE memberships SET status_at = updated_at")


def downgrade() -> None:
    # On SQLite the table is rebuilt from its reflection, which reads the referenced
    # users table too; its expression index cannot be reflected and is not needed.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
        with op.batch_alter_table("memberships", schema=None) as batch_op:
            batch_op.drop_column("status_at")
