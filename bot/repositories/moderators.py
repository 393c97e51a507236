"""Moderators named by operators (the `moderators` table)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Moderator, User


@dataclass(frozen=True, slots=True)
class ModeratorRecord:
    user_id: int
    added_by: str | None
    note: str | None
    created_at: datetime
    # From the roster, when the bot has met them.
    first_name: str | None
    username: str | None


class ModeratorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def is_listed(self, user_id: int) -> bool:
        return bool(await self.session.scalar(select(exists().where(Moderator.user_id == user_id))))

    async def add(self, user_id: int, added_by: str | None, note: str | None, at: datetime) -> bool:
        """False when they were listed already (the existing row is left as it is)."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(Moderator)
            .values(user_id=user_id, added_by=added_by, note=note, created_at=at)
            .on_conflict_do_nothing(index_elements=["user_id"])
            .returning(Moderator.user_id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def remove(self, user_id: int) -> bool:
        result = await self.session.execute(
            delete(Moderator).where(Moderator.user_id == user_id).returning(Moderator.user_id)
        )
        return result.scalar_one_or_none() is not None

    async def all(self) -> list[ModeratorRecord]:
        rows = await self.session.execute(
            select(
                Moderator.user_id,
                Moderator.added_by,
                Moderator.note,
                Moderator.created_at,
                User.first_name,
                User.username,
            )
            .outerjoin(User, User.id == Moderator.user_id)
            .order_by(Moderator.created_at, Moderator.user_id)
        )
        return [ModeratorRecord(*row) for row in rows]
