"""An update that fails on a transient database error is handled again, not lost.

When the pool had no connection in time, the connection was cut (a database restart,
a terminated backend) or SQLite's writer stayed busy, the update's database work was
rolled back: if nothing went out to Telegram yet either, running the update again is,
for everyone outside, its first run. It is retried a few times, with a pause.

Once the update wrote something to Telegram (a reply, an edit, a callback answer), a
second run would repeat that, so the error goes to the error router as before. Every
request the Bot makes passes `TelegramWrites`, which marks the update in hand as
having written (reads such as getChatMember do not count).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject

from bot.db.errors import is_transient_db_error
from bot.log import get_logger

log = get_logger(__name__)


@dataclass
class _Attempt:
    wrote: bool = False


_ATTEMPT: ContextVar[_Attempt | None] = ContextVar("update_attempt", default=None)


class TelegramWrites(BaseRequestMiddleware):
    """Request middleware: marks the update in hand once it writes to Telegram."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        attempt = _ATTEMPT.get()
        if attempt is not None and not method.__api_method__.startswith("get"):
            attempt.wrote = True  # before the call: a failed send may still have landed
        return await make_request(bot, method)


class TransientRetryMiddleware(BaseMiddleware):
    def __init__(self, tries: int = 4, first_delay_s: float = 0.5) -> None:
        self.tries = tries
        self.first_delay_s = first_delay_s

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        for number in range(1, self.tries + 1):
            attempt = _Attempt()
            token = _ATTEMPT.set(attempt)
            try:
                return await handler(event, data)
            except Exception as exc:
                if number == self.tries or attempt.wrote or not is_transient_db_error(exc):
                    raise
                delay = self.first_delay_s * 2 ** (number - 1)
                log.warning(
                    "update hit a transient database error; handling it again",
                    error=type(exc).__name__,
                    attempt=number,
                    delay_s=delay,
                )
            finally:
                _ATTEMPT.reset(token)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")
