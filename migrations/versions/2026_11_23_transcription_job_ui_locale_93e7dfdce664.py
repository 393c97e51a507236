"""transcription job ui locale

Revision ID: 93e7dfdce664
Revises: dbc0827a20fd
Create Date: 2026-11-23 18:34:34.804149+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "93e7dfdce664"
down_revision: str | None = "dbc0827a20fd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcription_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ui_locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcription_jobs", schema=None) as batch_op:
        batch_op.drop_column("ui_locale")
