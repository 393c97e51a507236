"""The one Telegram sender: an aiogram request middleware on every Bot this project
creates (bot and workers), so every send and edit passes the same rules:

* rate limits per chat (private ~1/s, groups 20/min, Telegram's guidance) and global
  (30/s), as token buckets that queue callers instead of failing them;
* `RetryAfter` (429) is honoured: wait the time Telegram asks, then repeat the *same*
  call; never a different one (a failed edit never becomes a new message);
* transient errors (5xx, network) are retried with exponential backoff;
* everything else (400, 403 "bot was blocked") goes straight back to the caller.

Limits are per process; with several workers Telegram's 429s are the backstop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot import metrics
from bot.log import get_logger

log = get_logger(__name__)

# Methods that put something into a chat; reads and callback answers are not limited.
_CHAT_WRITE_PREFIXES = ("send", "edit", "copy", "forward")

# aiogram parses every answer as `Response[method.__returning__]`. pydantic keeps such a
# parametrised class only weakly, so after a garbage collection the next answer builds
# the whole model again, on the hot path of every reply (docs/PERFORMANCE.md). One
# strong reference per method type keeps pydantic's cache warm.
_RESPONSE_TYPES: dict[type[TelegramMethod[Any]], type[Response[Any]]] = {}


class TokenBucket:
    """`rate` tokens a second, up to `burst` saved; acquire() waits its turn."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = time.monotonic()

    def reserve(self) -> float:
        """Take a token now (possibly going into debt); returns how long to wait."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    @property
    def idle(self) -> bool:
        elapsed = time.monotonic() - self.updated
        return self.tokens + elapsed * self.rate >= self.burst

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)


@dataclass(frozen=True)
class SenderLimits:
    global_per_s: float = 30.0
    private_per_s: float = 1.0
    private_burst: float = 3.0
    group_per_s: float = 20 / 60
    group_burst: float = 5.0
    max_retry_after_s: float = 120.0
    transient_retries: int = 3
    backoff_s: float = 0.5


class TelegramSender(BaseRequestMiddleware):
    def __init__(self, limits: SenderLimits | None = None) -> None:
        self.limits = limits or SenderLimits()
        self.global_bucket = TokenBucket(self.limits.global_per_s, self.limits.global_per_s)
        self.chat_buckets: dict[int | str, TokenBucket] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        if type(method) not in _RESPONSE_TYPES:
            _RESPONSE_TYPES[type(method)] = Response[method.__returning__]  # type: ignore[name-defined]
        chat_id = getattr(method, "chat_id", None)
        limited = chat_id is not None and name.startswith(_CHAT_WRITE_PREFIXES)
        waited_for_flood = 0.0
        transient_failures = 0
        while True:
            if limited:
                await self._acquire(chat_id)
            try:
                response = await make_request(bot, method)
            except TelegramRetryAfter as exc:
                metrics.TELEGRAM_REQUESTS.labels(name, "retry_after").inc()
                waited_for_flood += exc.retry_after
                if waited_for_flood > self.limits.max_retry_after_s:
                    raise
                log.warning("flood control: waiting", method=name, retry_after=exc.retry_after)
                await asyncio.sleep(exc.retry_after)
                continue
            except (TelegramServerError, TelegramNetworkError) as exc:
                metrics.TELEGRAM_REQUESTS.labels(name, "transient_error").inc()
                transient_failures += 1
                if transient_failures > self.limits.transient_retries:
                    raise
                delay = self.limits.backoff_s * 2 ** (transient_failures - 1)
                log.warning("Bot API error: retrying", method=name, error=str(exc), delay=delay)
                await asyncio.sleep(delay)
                continue
            except Exception:
                metrics.TELEGRAM_REQUESTS.labels(name, "error").inc()
                raise
            metrics.TELEGRAM_REQUESTS.labels(name, "ok").inc()
            return response

    async def _acquire(self, chat_id: Any) -> None:
        bucket = self.chat_buckets.get(chat_id)
        if bucket is None:
            self._forget_idle()
            is_private = isinstance(chat_id, int) and chat_id > 0
            bucket = (
                TokenBucket(self.limits.private_per_s, self.limits.private_burst)
                if is_private
                else TokenBucket(self.limits.group_per_s, self.limits.group_burst)
            )
            self.chat_buckets[chat_id] = bucket
        await bucket.acquire()
        await self.global_bucket.acquire()

    def _forget_idle(self) -> None:
        if len(self.chat_buckets) > 10_000:
            for key in [k for k, b in self.chat_buckets.items() if b.idle]:
                del self.chat_buckets[key]
