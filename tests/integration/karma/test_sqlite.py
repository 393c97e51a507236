"""The same service on SQLite: the atomic upserts, the checks and the leaderboard."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.db.engine import create_engine, create_session_factory
from bot.db.models import User
from bot.errors import NotAllowedError, UserFacingError
from bot.services.dto import ChatInfo, UserProfile, VoteRequest
from bot.services.karma import KarmaService
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
            result = await KarmaService(session, settings).cancel(event_id, voter_id)
        assert result.total == 19.0
        async with sessions() as session:
            with pytest.raises(UserFacingError, match="already cancelled"):
                await KarmaService(session, settings).cancel(event_id, voter_id)
        async with sessions() as session:
            late = history[1]
            svc = KarmaService(session, settings)
            with pytest.raises(UserFacingError, match="Too late"):
                await svc.cancel(
                    late.event_id, late.voter_id, now=late.created_at + timedelta(hours=1)
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
