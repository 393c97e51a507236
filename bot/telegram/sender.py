"""The aiogram side of the one Telegram sender: a request middleware on every aiogram
Bot this project creates, running each call under the shared rules and budget
(bot/telegram/budget.py, which the worker's Bot API client uses as well)."""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.telegram.budget import (
    Failure,
    LocalBudget,
    SendBudget,
    SenderLimits,
    send_under_budget,
)

# aiogram parses every answer as `Response[method.__returning__]`. pydantic keeps such a
# parametrised class only weakly, so after a garbage collection the next answer builds
# the whole model again, on the hot path of every reply (docs/PERFORMANCE.md). One
# strong reference per method type keeps pydantic's cache warm.
_RESPONSE_TYPES: dict[type[TelegramMethod[Any]], type[Response[Any]]] = {}


def classify(exc: Exception) -> Failure | None:
    if isinstance(exc, TelegramRetryAfter):
        return Failure(retry_after=exc.retry_after)
    if isinstance(exc, (TelegramServerError, TelegramNetworkError)):
        return Failure(transient=True)
    return None


class TelegramSender(BaseRequestMiddleware):
    def __init__(self, limits: SenderLimits | None = None, budget: SendBudget | None = None):
        self.limits = limits or SenderLimits()
        self.budget: SendBudget = budget or LocalBudget(self.limits)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if type(method) not in _RESPONSE_TYPES:
            _RESPONSE_TYPES[type(method)] = Response[method.__returning__]  # type: ignore[name-defined]
        return await send_under_budget(
            lambda: make_request(bot, method),
            method=method.__api_method__,
            chat_id=getattr(method, "chat_id", None),
            limits=self.limits,
            budget=self.budget,
            classify=classify,
        )
