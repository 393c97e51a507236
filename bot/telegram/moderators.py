"""Who may act as a moderator: MODERATION__ADMIN_IDS, the moderators operators named
with `python -m bot.admin moderators add` (read from the database on each check), plus
the administrators of MODERATION__CHAT_ID (read with getChatAdministrators and cached
for `ttl_s`, so a button press costs no Bot API call; a promotion or demotion shows
within that time)."""

from __future__ import annotations

import asyncio
import time

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.log import get_logger
from bot.services.ops import ModeratorService
from bot.settings import ModerationSettings

log = get_logger(__name__)


class Moderators:
    def __init__(
        self,
        settings: ModerationSettings,
        ttl_s: float = 300.0,
        *,
        sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.ttl_s = ttl_s
        self._admins: frozenset[int] = frozenset()
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def is_moderator(self, bot: Bot, user_id: int) -> bool:
        if user_id in self.settings.admin_ids:
            return True
        if await self._listed(user_id):
            return True
        return user_id in await self._chat_admins(bot)

    async def _listed(self, user_id: int) -> bool:
        """Named by an operator: one primary-key lookup and no cache, so `moderators
        add/remove` counts at once on every replica. A database error propagates: the
        check fails closed."""
        if self.sessions is None:
            return False
        async with self.sessions() as session:
            return await ModeratorService(session).is_listed(user_id)

    def forget(self) -> None:
        """Re-read the administrators on the next check (e.g. after a chat_member update
        in the moderation chat)."""
        self._expires = 0.0

    async def _chat_admins(self, bot: Bot) -> frozenset[int]:
        if self.settings.chat_id is None:
            return frozenset()
        async with self._lock:
            if time.monotonic() < self._expires:
                return self._admins
            try:
                members = await bot.get_chat_administrators(self.settings.chat_id)
            except TelegramAPIError as exc:
                # Keep the last known list; configured ids still work.
                log.warning("moderation chat admins unavailable", error=str(exc))
                return self._admins
            self._admins = frozenset(m.user.id for m in members if not m.user.is_bot)
            self._expires = time.monotonic() + self.ttl_s
            return self._admins
