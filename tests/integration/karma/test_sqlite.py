"""The same service on SQLite: the atomic upserts, the checks and the leaderboard."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from bot.db.base import utcnow
from bot.db.engine import create_engine, create_session_factory
from bot.db.models import KarmaEvent, KarmaTotal, User
from bot.domain.dto import ChatInfo, UserProfile, VoteRequest
from bot.errors import NotAllowedError, UserFacingError
from bot.services.karma import KarmaService, VoteResult
from bot.services.roster import RosterService
from bot.settings import DbSettings, Settings

CHAT = ChatInfo(id=-1_005_555_000_001, type="supergroup", title="Lite")


async def test_votes_undo_and_top_on_sqlite(sqlite_url: str) -> None:
    settings = Settings(_env_file=None, db={"url": sqlite_url})  # type: ignore[call-arg]
    engine = create_engine(DbSettings(url=SecretStr(sqlite_url)))
    sessions = create_session_factory(engine)
    alice = UserProfile(id=1, first_name="Alice")
    voters = [UserProfile(id=10 + n, first_name=f"V{n}") for n in range(20)]
    try:

        async def vote(voter: UserProfile, direction: int = 1) -> float:
            async with sessions() as session:
                request = VoteRequest(chat=CHAT, voter=voter, target=alice, direction=direction)
                return (await KarmaService(session, settings).vote(request)).total

        await asyncio.gather(*(vote(v) for v in voters))
        async with sessions() as session:
            svc = KarmaService(session, settings)
            assert (await svc.standing(CHAT.id, alice.id)).karma == 20.0
            with pytest.raises(UserFacingError, match="recently"):
                await vote(voters[0])
            with pytest.raises(NotAllowedError):
                await vote(voters[1], -1)  # voters have no karma
            board = await svc.leaderboard(CHAT.id, "week", voters[0].id)
            assert [(m.name, m.karma, m.rank) for m in board.top] == [("Alice", 20.0, 1)]
            history = await svc.history(CHAT.id, alice.id)
            assert len(history) == 20
            event_id = history[0].event_id
            voter_id = history[0].voter_id
        async with sessions() as session:
            result = await KarmaService(session, settings).cancel(event_id, voter_id, CHAT.id)
        assert result.total == 19.0
        async with sessions() as session:
            with pytest.raises(UserFacingError, match="already cancelled"):
                await KarmaService(session, settings).cancel(event_id, voter_id, CHAT.id)
        async with sessions() as session:
            late = history[1]
            svc = KarmaService(session, settings)
            with pytest.raises(UserFacingError, match="Too late"):
                await svc.cancel(
                    late.event_id, late.voter_id, CHAT.id, now=late.created_at + timedelta(hours=1)
                )
    finally:
        await engine.dispose()


async def test_remember_user_writes_only_changes_on_sqlite(sqlite_url: str) -> None:
    engine = create_engine(DbSettings(url=SecretStr(sqlite_url)))
    sessions = create_session_factory(engine)
    try:
        for name in ("Ann", "Ann", "Anna"):
            async with sessions() as session:
                await RosterService(session).remember_user(UserProfile(id=7, first_name=name))
                await session.commit()
        async with sessions() as session:
            users = list(await session.scalars(select(User)))
        assert [(u.id, u.first_name) for u in users] == [(7, "Anna")]
    finally:
        await engine.dispose()


async def test_abuse_rules_on_sqlite(sqlite_url: str) -> None:
    """The portable checks (SQLite; PostgreSQL's recheck path too): chains damp, a
    downvoter without history weighs 0, the daily cap refuses, three voters sanction."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, db={"url": sqlite_url}, karma={"cooldown_s": 0, "downvote_daily_cap": 2.0}
    )
    engine = create_engine(DbSettings(url=SecretStr(sqlite_url)))
    sessions = create_session_factory(engine)
    bob, carol, dave = (UserProfile(id=n, first_name=name) for n, name in enumerate("BCD", 21))
    alice = UserProfile(id=20, first_name="Alice")

    async def vote(voter: UserProfile, target: UserProfile, direction: int = 1) -> VoteResult:
        async with sessions() as session:
            request = VoteRequest(chat=CHAT, voter=voter, target=target, direction=direction)
            return await KarmaService(session, settings).vote(request)

    try:
        await vote(carol, dave)
        await vote(dave, bob)
        assert (await vote(bob, carol)).ring_factor == 0.5  # Carol -> Dave -> Bob -> Carol
        muted = await vote(bob, alice, -1)  # Bob's karma is an hour old: no history
        assert (muted.weight, muted.muted) == (0.0, True)
        async with sessions() as session:
            await session.execute(
                update(KarmaEvent).values(created_at=utcnow() - timedelta(days=4))
            )
            await session.execute(
                update(KarmaTotal).where(KarmaTotal.user_id == alice.id).values(karma=-19.0)
            )
            await session.commit()
        first = await vote(bob, alice, -1)
        assert (first.weight, first.sanction) == (1.0, None)
        second = await vote(bob, alice, -1)  # the cap of 2 reached: alone, no sanction
        assert (second.total, second.sanction) == (-21.0, None)
        with pytest.raises(UserFacingError, match="as much as one member may today"):
            await vote(bob, alice, -1)
        await vote(carol, alice, -1)
        third = await vote(dave, alice, -1)
        assert third.sanction is not None
    finally:
        await engine.dispose()
