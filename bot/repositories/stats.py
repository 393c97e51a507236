"""Counts across the aggregates for `python -m bot.admin stats`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.enums import JobStatus
from bot.db.models import Application, KarmaEvent, Membership, TranscriptionJob, User


@dataclass(frozen=True, slots=True)
class KarmaCounts:
    events: int
    cancelled: int
    since: int  # events at or after the `since` moment given


class StatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def users(self) -> tuple[int, int]:
        """All users, and how many of them are bots."""
        total, bots = (
            await self.session.execute(
                select(func.count(), func.count().filter(User.is_bot.is_(True)))
            )
        ).one()
        return int(total), int(bots)

    async def _by(self, column: Any, *where: ColumnElement[bool]) -> dict[str, int]:
        rows = await self.session.execute(
            select(column, func.count()).where(*where).group_by(column).order_by(column)
        )
        return {str(key): int(count) for key, count in rows}

    async def members_by_status(self, chat_id: int | None) -> dict[str, int]:
        where = [Membership.chat_id == chat_id] if chat_id is not None else []
        return await self._by(Membership.status, *where)

    async def applications_by_status(self, chat_id: int | None) -> dict[str, int]:
        where = [Application.chat_id == chat_id] if chat_id is not None else []
        return await self._by(Application.status, *where)

    async def jobs_by_status(self) -> dict[str, int]:
        return await self._by(TranscriptionJob.status)

    async def karma(self, chat_id: int | None, since: datetime) -> KarmaCounts:
        where = [KarmaEvent.chat_id == chat_id] if chat_id is not None else []
        events, cancelled, recent = (
            await self.session.execute(
                select(
                    func.count(),
                    func.count().filter(KarmaEvent.cancelled_at.is_not(None)),
                    func.count().filter(KarmaEvent.created_at >= since),
                ).where(*where)
            )
        ).one()
        return KarmaCounts(int(events), int(cancelled), int(recent))

    async def oldest_queued(self) -> datetime | None:
        """When the job that has waited longest was (re-)queued."""
        waited = func.coalesce(TranscriptionJob.queued_at, TranscriptionJob.received_at)
        result: datetime | None = await self.session.scalar(
            select(func.min(waited)).where(TranscriptionJob.status == JobStatus.QUEUED)
        )
        return result
