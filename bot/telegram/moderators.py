"""Who may act as a moderator: MODERATION__ADMIN_IDS and the moderators operators named
with `python -m bot.admin moderators add` (read from the database on each check; both
hold every right), plus the creator and administrators of MODERATION__CHAT_ID, read with
getChatAdministrators.

The administrators are cached per process for MODERATION__ADMINS_TTL_S, so a button press
costs no Bot API call. The cache is short on purpose: a promotion or demotion seen by
another replica (or made while this one was down) counts here within that time. This
replica forgets its copy at once when it sees a chat_member update in the moderation
chat; `forget()` is the hook for anything else that learns of a change (e.g. a message
from another replica).

Fail closed: once the cached list is older than the TTL and Telegram cannot give a new
one, nobody counts as an administrator (configured ids still do) until a read succeeds;
the read is retried at most every `retry_s`, not on every press.

An administrator's rights are Telegram's flags on their membership in the moderation
chat: an action that bans (`right="can_restrict_members"`) needs a moderator whom the
moderation chat's owner allowed to restrict members; the owner holds every right.
"""

from __future__ import annotations

import asyncio
import time

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ChatMemberAdministrator, ChatMemberOwner
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.log import get_logger
from bot.services.ops import ModeratorService
from bot.settings import ModerationSettings

log = get_logger(__name__)

EVERY_RIGHT = None  # the rights of the owner and of configured ids: all of them


class Moderators:
    def __init__(
        self,
        settings: ModerationSettings,
        retry_s: float = 5.0,
        *,
        sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.ttl_s = settings.admins_ttl_s
        self.retry_s = retry_s
        # user id -> the rights they hold (EVERY_RIGHT for the owner)
        self._admins: dict[int, frozenset[str] | None] = {}
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def is_moderator(self, bot: Bot, user_id: int, right: str | None = None) -> bool:
        """A configured or operator-listed id (every right), or an administrator of the
        moderation chat (holding `right`, when one is named)."""
        if user_id in self.settings.admin_ids:
            return True
        if await self._listed(user_id):
            return True
        admins = await self._chat_admins(bot)
        if user_id not in admins:
            return False
        rights = admins[user_id]
        return right is None or rights is EVERY_RIGHT or right in rights

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
        in the moderation chat, or when another replica says they changed)."""
        self._expires = 0.0

    async def _chat_admins(self, bot: Bot) -> dict[int, frozenset[str] | None]:
        if self.settings.chat_id is None:
            return {}
        async with self._lock:
            if time.monotonic() < self._expires:
                return self._admins
            try:
                members = await bot.get_chat_administrators(self.settings.chat_id)
            except TelegramAPIError as exc:
                # Fail closed: an old list may name a demoted moderator. Configured ids
                # still work; try again soon.
                log.warning("moderation chat admins unavailable: none count", error=str(exc))
                self._admins = {}
                self._expires = time.monotonic() + self.retry_s
                return self._admins
            admins: dict[int, frozenset[str] | None] = {}
            for member in members:
                if member.user.is_bot:
                    continue
                if isinstance(member, ChatMemberOwner):
                    admins[member.user.id] = EVERY_RIGHT
                elif isinstance(member, ChatMemberAdministrator):
                    rights = member.model_dump(include=set(type(member).model_fields))
                    admins[member.user.id] = frozenset(
                        name for name, on in rights.items() if name.startswith("can_") and on
                    )
            self._admins = admins
            self._expires = time.monotonic() + self.ttl_s
            return self._admins
