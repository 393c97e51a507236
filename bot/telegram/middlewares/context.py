"""Outermost middleware: log context, throughput and latency of every update."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import Chat, TelegramObject, Update, User

from bot import metrics


class UpdateContextMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        event_type = event.event_type
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        started = time.perf_counter()
        outcome = "error"
        with structlog.contextvars.bound_contextvars(
            update_id=event.update_id,
            event_type=event_type,
            user_id=user.id if user else None,
            chat_id=chat.id if chat else None,
        ):
            try:
                result = await handler(event, data)
                outcome = "unhandled" if result is UNHANDLED else "handled"
                return result
            finally:
                metrics.UPDATES.labels(event_type, outcome).inc()
                metrics.UPDATE_SECONDS.labels(event_type).observe(time.perf_counter() - started)
