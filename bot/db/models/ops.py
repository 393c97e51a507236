"""Operators' records: moderators added with `python -m bot.admin moderators add`, and
which rows of the legacy bot's database were already imported."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow


class Moderator(Base):
    """A moderator named by an operator, in addition to MODERATION__ADMIN_IDS and the
    moderation chat's administrators. No foreign key to users, on purpose: someone the
    bot has not met yet can be made a moderator before their first update."""

    __tablename__ = "moderators"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # Who added them: free text from the operator (`--by`, else the OS user name).
    added_by: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LegacyImport(Base):
    """One row of the legacy bot's database that `import-legacy` has written: a re-run
    skips it, so importing twice changes nothing. Users and memberships need no entry
    (their Telegram ids are their keys); applications and karma do."""

    __tablename__ = "legacy_imports"

    # The legacy table (and, for karma, `profiles.karma`) and the row's id there.
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    legacy_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The id of what it became here (an application id; the user id for karma).
    target_id: Mapped[int | None] = mapped_column(BigInteger)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
