"""MembershipRepository.record: joins, leaves and re-joins keep honest timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.enums import ChatType, MemberRole, MemberStatus
from bot.db.models import Membership
from bot.domain.dto import ChatInfo, UserProfile
from bot.repositories.memberships import MembershipRepository
from bot.services.roster import RosterService

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def test_join_leave_rejoin(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session:
        roster = RosterService(session)
        await roster.remember_chat(ChatInfo(id=-100, type=ChatType.SUPERGROUP, title="G"))
        await roster.remember_user(UserProfile(id=7, first_name="Ann"))
        repo = MembershipRepository(session)

        await repo.record(-100, 7, MemberStatus.ACTIVE, at=T0)
        await repo.record(
            -100, 7, MemberStatus.ACTIVE, role=MemberRole.MODERATOR, at=T0 + timedelta(1)
        )
        row = await session.get(Membership, (-100, 7))
        assert row is not None
        await session.refresh(row)
        assert (row.joined_at, row.left_at, row.role) == (T0, None, MemberRole.MODERATOR)

        await repo.record(-100, 7, MemberStatus.LEFT, at=T0 + timedelta(2))
        await session.refresh(row)
        assert (row.status, row.joined_at, row.left_at) == (
            MemberStatus.LEFT,
            T0,
            T0 + timedelta(2),
        )
        assert row.role == MemberRole.MODERATOR  # no role given: kept

        await repo.record(-100, 7, MemberStatus.ACTIVE, at=T0 + timedelta(3))
        await session.refresh(row)
        assert (row.status, row.joined_at, row.left_at) == (
            MemberStatus.ACTIVE,
            T0 + timedelta(3),
            None,
        )
