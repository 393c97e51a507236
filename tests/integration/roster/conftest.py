"""Roster fixtures: a community supergroup, a moderation chat, one configured moderator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Membership
from bot.settings import Settings
from bot.telegram.budget import SenderLimits
from bot.telegram.dispatcher import create_bot
from tests import factories as f

COMMUNITY = f.group_chat(id=-1_001_000_000_001, title="Community")
MOD_CHAT = f.group_chat(id=-1_001_000_000_002, title="Moderators")
MODERATOR = f.user(id=900_001, first_name="Mona", username="mona_mod")


@pytest.fixture
def settings(request: pytest.FixtureRequest, make_settings: Any, pg_url: str) -> Settings:
    """Roster overrides per test: parametrize("settings", [{...}], indirect=True)."""
    roster = getattr(request, "param", {})
    moderation = {"chat_id": MOD_CHAT["id"], "admin_ids": [MODERATOR["id"]]}
    return make_settings(
        pg_url, community={"chat_id": COMMUNITY["id"]}, roster=roster, moderation=moderation
    )  # type: ignore[no-any-return]


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[Bot]:
    """Telegram's flood limits (1 message a second per private chat) would dominate the
    timing of paging through hundreds of pages: lifted here, the sender is the same."""
    unlimited = SenderLimits(
        global_per_s=10_000,
        private_per_s=10_000,
        private_burst=10_000,
        group_per_s=10_000,
        group_burst=10_000,
    )
    bot = create_bot(settings.bot, unlimited)
    yield bot
    await bot.session.close()


async def membership(
    db: async_sessionmaker[AsyncSession], chat_id: int, user_id: int
) -> Membership | None:
    async with db() as session:
        return await session.scalar(
            select(Membership).where(Membership.chat_id == chat_id, Membership.user_id == user_id)
        )
