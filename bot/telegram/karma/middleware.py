"""The reaction votes' middleware: who wrote each message in chats that count reactions."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Message, TelegramObject

from bot.telegram.adapters import user_profile


class ReactionAuthors(BaseMiddleware):
    """Remembers who wrote each message in chats that count reactions (a reaction update
    names only the message). Whether a chat counts them is cached for `ttl_s` per process;
    another replica's /karma_reactions shows here within that time. Every `prune_every_s`
    the authors older than KARMA__REACTION_WINDOW_H are forgotten."""

    def __init__(self, ttl_s: float = 60.0, prune_every_s: float = 600.0) -> None:
        self.ttl_s = ttl_s
        self.prune_every_s = prune_every_s
        self._chats: dict[int, tuple[bool, float]] = {}
        self._next_prune = 0.0

    def forget(self, chat_id: int) -> None:
        self._chats.pop(chat_id, None)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        data["reaction_chats"] = self
        if isinstance(event, Message) and await self._counts(event, data):
            assert event.from_user is not None
            await data["services"].karma.remember_author(
                event.chat.id,
                user_profile(event.from_user),
                event.message_id,
                prune=self._prune_due(),
            )
        return await handler(event, data)

    async def _counts(self, message: Message, data: dict[str, Any]) -> bool:
        author = message.from_user
        if author is None or author.is_bot or message.chat.type not in ("group", "supergroup"):
            return False
        if not data["settings"].karma.enabled:
            return False
        now = time.monotonic()
        on, expires = self._chats.get(message.chat.id, (False, 0.0))
        if now >= expires:
            on = await data["services"].karma.reactions_enabled(message.chat.id)
            self._chats[message.chat.id] = (on, now + self.ttl_s)
        return on

    def _prune_due(self) -> bool:
        now = time.monotonic()
        if now < self._next_prune:
            return False
        self._next_prune = now + self.prune_every_s
        return True
