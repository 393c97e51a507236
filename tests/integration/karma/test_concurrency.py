"""Many votes at once on one target: the atomic upsert loses none (PostgreSQL)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import KarmaEvent
from bot.services.dto import ChatInfo, UserProfile, VoteRequest
from bot.services.karma import KarmaService, VoteResult
from bot.settings import Settings
from tests.integration.karma.conftest import GROUP, Karma, remember

VOTERS = 200


async def test_200_concurrent_votes_on_one_target(
    karma: Karma, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    chat = ChatInfo.model_validate(GROUP)
    target = UserProfile(id=900_000, first_name="Target")
    voters = [UserProfile(id=900_001 + n, first_name=f"Voter {n}") for n in range(VOTERS)]
    for voter in voters:  # karma 0: every vote weighs the floor, 1.0
        await karma.seed_total(voter.model_dump(), 0.0)
    async with db() as session:
        await remember(session, target.model_dump())
        await session.commit()

    async def vote(voter: UserProfile) -> VoteResult:
        async with db() as session:
            request = VoteRequest(chat=chat, voter=voter, target=target, direction=1)
            return await KarmaService(session, settings).vote(request)

    results = await asyncio.gather(*(vote(v) for v in voters))

    assert sorted(r.total for r in results) == [float(n) for n in range(1, VOTERS + 1)]
    assert await karma.total(target.model_dump()) == 200.0
    async with db() as session:
        events = await session.scalar(select(func.count()).select_from(KarmaEvent))
    assert events == VOTERS
