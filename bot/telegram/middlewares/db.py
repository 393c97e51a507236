"""One database session per update: services get it by injection, the update's
work is committed when the handler succeeds and rolled back when it raises."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import AppDeps, Services


class DbSessionMiddleware(BaseMiddleware):
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], deps: AppDeps):
        self.session_factory = session_factory
        self.deps = deps

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        # The session connects lazily: updates that never touch the database cost nothing.
        session = self.session_factory()
        data["session"] = session
        data["services"] = Services(session, self.deps)
        try:
            result = await handler(event, data)
        except BaseException:
            if session.in_transaction():
                await session.rollback()
            raise
        else:
            if session.in_transaction():
                await session.commit()
            return result
        finally:
            # A session with no transaction and no loaded objects (most updates, and a
            # service that committed through Core) holds nothing to release; closing it
            # would still cost a task and a greenlet hop per update.
            if session.in_transaction() or session.identity_map:
                await asyncio.shield(session.close())
