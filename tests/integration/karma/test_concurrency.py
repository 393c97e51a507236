"""Votes at once (PostgreSQL): on one target, the atomic upsert loses none; by one
voter, the per-voter lock keeps the quota and the cooldown."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import KarmaEvent
from bot.domain.dto import ChatInfo, UserProfile, VoteRequest
from bot.errors import UserFacingError
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


@pytest.mark.parametrize("settings", [{"daily_quota": 3, "cooldown_s": 60}], indirect=True)
async def test_one_voters_concurrent_votes_keep_the_quota_and_cooldown(
    karma: Karma, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """The checks cannot race: 10 votes at once by one voter on 10 members give the
    quota (3); 6 at once on one member give one vote (the cooldown)."""
    chat = ChatInfo.model_validate(GROUP)
    voter = UserProfile(id=800_000, first_name="Eager")
    targets = [UserProfile(id=800_001 + n, first_name=f"Member {n}") for n in range(10)]
    other = UserProfile(id=800_100, first_name="Other voter")

    async def vote(who: UserProfile, target: UserProfile) -> VoteResult | str:
        async with db() as session:
            request = VoteRequest(chat=chat, voter=who, target=target, direction=1)
            try:
                return await KarmaService(session, settings).vote(request)
            except UserFacingError as refusal:
                return refusal.text

    results = await asyncio.gather(*(vote(voter, t) for t in targets))
    assert sum(isinstance(r, VoteResult) for r in results) == 3
    assert all("today's votes" in r for r in results if isinstance(r, str))

    popular = UserProfile(id=800_200, first_name="Popular")
    results = await asyncio.gather(*(vote(other, popular) for _ in range(6)))
    assert sum(isinstance(r, VoteResult) for r in results) == 1
    assert all("recently" in r for r in results if isinstance(r, str))
    assert await karma.total(popular.model_dump()) == 1.0
    async with db() as session:
        events = await session.scalar(select(func.count()).select_from(KarmaEvent))
    assert events == 4
