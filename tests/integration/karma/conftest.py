"""Karma fixtures: a supergroup, its members and helpers to vote and to seed karma."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.enums import KarmaLift, KarmaSanction, KarmaSource
from bot.db.models import KarmaEvent, KarmaRestriction, KarmaTotal
from bot.domain.dto import ChatInfo, UserProfile
from bot.repositories.karma import KarmaRepository
from bot.services.roster import RosterService
from bot.settings import Settings
from tests import factories as f
from tests.fakes import ApiCall, FakeBotAPI

GROUP = f.group_chat(id=-1_001_234_567_890, title="Karma Group")


@pytest.fixture
def settings(request: pytest.FixtureRequest, make_settings: Any, pg_url: str) -> Settings:
    """Karma overrides per test: parametrize("settings", [{...}], indirect=True); a
    "moderation" key holds MODERATION__ overrides."""
    karma = dict(getattr(request, "param", {}))
    moderation = karma.pop("moderation", {})
    return make_settings(pg_url, karma=karma, moderation=moderation)  # type: ignore[no-any-return]


@dataclass
class Karma:
    feed: Any
    api: FakeBotAPI
    db: async_sessionmaker[AsyncSession]

    async def say(self, author: dict[str, Any], text: str = "hello") -> dict[str, Any]:
        msg = f.message(text, from_user=author, chat=GROUP)
        await self.feed(f.message_update(msg))
        return msg

    async def vote(
        self, voter: dict[str, Any], target_message: dict[str, Any], text: str = "+"
    ) -> ApiCall | None:
        """Reply `text` to the message; the bot's reply (or None when it said nothing)."""
        before = len(self.api.calls)
        await self.feed(
            f.message_update(f.message(text, from_user=voter, chat=GROUP, reply_to=target_message))
        )
        sent = [c for c in self.api.calls[before:] if c.method == "sendMessage"]
        return sent[-1] if sent else None

    async def command(
        self, author: dict[str, Any], text: str, reply_to: dict[str, Any] | None = None
    ) -> str:
        before = len(self.api.calls)
        await self.feed(
            f.message_update(f.message(text, from_user=author, chat=GROUP, reply_to=reply_to))
        )
        call = await self.api.wait_for_call("sendMessage", after=before)
        return str(call.params["text"])

    async def press(self, who: dict[str, Any], reply: dict[str, Any]) -> ApiCall:
        """Press the Cancel button of the bot's vote reply; the callback's answer."""
        before = len(self.api.calls)
        data = reply["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        await self.feed(f.callback_query_update(who, reply, data))
        return await self.api.wait_for_call("answerCallbackQuery", after=before)

    async def seed_total(self, user: dict[str, Any], karma: float) -> None:
        async with self.db() as session:
            await remember(session, user)
            await KarmaRepository(session).add_to_total(GROUP["id"], user["id"], karma)
            await session.commit()

    async def seed_karma(self, user: dict[str, Any], total: float, days_ago: int = 5) -> None:
        """`total` karma from one upvote `days_ago` days ago: karma history, so that the
        member's downvotes count (KARMA__DOWNVOTE_HISTORY_H)."""
        await self.seed_event(f.user(), user, total, utcnow() - timedelta(days=days_ago))

    async def seed_event(
        self,
        voter: dict[str, Any],
        target: dict[str, Any],
        delta: float,
        created_at: datetime,
        *,
        total: bool = True,
    ) -> None:
        """A past vote (created_at as given), with its total unless total=False."""
        async with self.db() as session:
            await remember(session, voter, target)
            direction = 1 if delta > 0 else -1
            session.add(
                KarmaEvent(
                    chat_id=GROUP["id"],
                    voter_id=voter["id"],
                    target_id=target["id"],
                    source=KarmaSource.REPLY,
                    direction=direction,
                    weight=abs(delta),
                    delta=delta,
                    message_id=1000,
                    created_at=created_at,
                )
            )
            if total:
                await KarmaRepository(session).add_to_total(GROUP["id"], target["id"], delta)
            await session.commit()

    async def seed_sanction(
        self,
        user: dict[str, Any],
        *,
        kind: KarmaSanction = KarmaSanction.READ_ONLY,
        lift_reason: KarmaLift | None = None,
        days_ago: int = 60,
    ) -> None:
        """An earlier escalation step of `user`, long expired (or lifted as given)."""
        at = utcnow() - timedelta(days=days_ago)
        async with self.db() as session:
            await remember(session, user)
            session.add(
                KarmaRestriction(
                    chat_id=GROUP["id"],
                    user_id=user["id"],
                    kind=kind,
                    until=at + timedelta(days=7) if kind is KarmaSanction.READ_ONLY else None,
                    created_at=at,
                    lifted_at=at + timedelta(days=1) if lift_reason else None,
                    lift_reason=lift_reason,
                )
            )
            await session.commit()

    async def sanctions(self, user: dict[str, Any]) -> list[KarmaRestriction]:
        async with self.db() as session:
            return list(
                await session.scalars(
                    select(KarmaRestriction)
                    .where(KarmaRestriction.user_id == user["id"])
                    .order_by(KarmaRestriction.id)
                )
            )

    async def total(self, user: dict[str, Any]) -> float:
        async with self.db() as session:
            return await KarmaRepository(session).total(GROUP["id"], user["id"])

    async def events(self) -> list[KarmaEvent]:
        async with self.db() as session:
            return list(await session.scalars(select(KarmaEvent).order_by(KarmaEvent.id)))

    async def totals(self) -> dict[int, float]:
        async with self.db() as session:
            rows = await session.execute(select(KarmaTotal.user_id, KarmaTotal.karma))
            return {u: k for u, k in rows}


async def remember(session: AsyncSession, *users: dict[str, Any]) -> None:
    roster = RosterService(session)
    await roster.remember_chat(ChatInfo.model_validate(GROUP))
    for user in users:
        await roster.remember_user(UserProfile.model_validate(user))


@pytest.fixture
def karma(feed: Any, fake_api: FakeBotAPI, db: async_sessionmaker[AsyncSession]) -> Karma:
    return Karma(feed, fake_api, db)
