"""The one Telegram sender's rules, without aiogram: the aiogram Bot's request middleware
(bot/telegram/sender.py) and the worker's Bot API client (bot/telegram/botapi.py) both
send through `send_under_budget`, so every send and edit of every process passes the
same rules:

* rate limits per chat (private ~1/s, groups 20/min, Telegram's guidance) and global
  (30/s). Callers queue for a slot instead of failing. With Redis (`REDIS__URL`) the
  slots come from one budget in Redis shared by every bot replica and worker
  (`RedisBudget`), so N processes do not multiply Telegram's limits; embedded, from
  buckets in the process (`LocalBudget`);
* `RetryAfter` (429) is honoured: the chat (or, for a call outside any chat, every
  chat) is paused for the time Telegram asks, in the shared budget, so every process
  waits; then the *same* call is repeated, never a different one (a failed edit never
  becomes a new message);
* transient errors (5xx, network) are retried with exponential backoff;
* everything else (400, 403 "bot was blocked") goes straight back to the caller.

A call takes the earliest slot that both its chat's limit and the global limit allow,
and consumes both at that slot, in one step: per chat GCRA (a token bucket kept as one
timestamp, the "theoretical arrival time"; a slot may lie in the future, the caller
waits for it); globally a calendar of short windows, each holding at most its share
of the global rate, so a message queued seconds ahead in one chat takes a place in
*that* window and does not hold back other chats now. In Redis that is one small Lua
script, atomic across both limits. The `limits` library was measured against it
(scripts/bench_send_limits.py, docs/PERFORMANCE.md): it tests and hits one limit at a
time (a call the global limit refuses has used its chat's slot already), it refuses
instead of telling how long to wait (callers would poll), and it costs more CPU per
call than the one script.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import metrics
from bot.log import get_logger

log = get_logger(__name__)

# Methods that put something into a chat; reads and callback answers are not limited.
_CHAT_WRITE_PREFIXES = ("send", "edit", "copy", "forward")

ChatId = int | str


@dataclass(frozen=True)
class SenderLimits:
    global_per_s: float = 30.0
    private_per_s: float = 1.0
    private_burst: float = 3.0
    group_per_s: float = 20 / 60
    group_burst: float = 5.0
    # The global limit is kept per window of this length: at most global_per_s x
    # window sends start in one, so a sliding second sees one window's share more at most.
    global_window_s: float = 0.1
    max_retry_after_s: float = 120.0
    transient_retries: int = 3
    backoff_s: float = 0.5

    def chat_limit(self, chat_id: ChatId) -> tuple[float, float]:
        """GCRA's (interval, tolerance) of a chat's limit, in seconds: `burst` at once,
        then one per interval. A private chat has a positive id; groups, supergroups and
        channels (and `@username` targets, always one of those) have a group's limit."""
        per_s, burst = (
            (self.private_per_s, self.private_burst)
            if isinstance(chat_id, int) and chat_id > 0
            else (self.group_per_s, self.group_burst)
        )
        interval = 1.0 / per_s
        return interval, max(0.0, burst - 1) * interval

    @property
    def global_per_window(self) -> int:
        return max(1, round(self.global_per_s * self.global_window_s))


class SendBudget(Protocol):
    async def reserve(self, chat_id: ChatId) -> float:
        """Take the chat's next slot (under the global limit too); seconds to wait for it."""
        ...

    async def pause(self, chat_id: ChatId | None, seconds: float) -> None:
        """No slot in the chat (None: in any chat) for `seconds` from now."""
        ...


class LocalBudget:
    """The budget inside one process (the embedded default: no Redis). The same steps
    as the Redis script (`_RESERVE`), on the process's clock."""

    def __init__(self, limits: SenderLimits) -> None:
        self.limits = limits
        self.chat_tats: dict[ChatId, float] = {}
        self.windows: dict[int, int] = {}  # global window number -> sends in it
        self.first_window = 0
        self.paused_until = 0.0

    async def reserve(self, chat_id: ChatId) -> float:
        now = time.monotonic()
        interval, tolerance = self.limits.chat_limit(chat_id)
        tat = self.chat_tats.get(chat_id, 0.0)
        slot = max(now, tat - tolerance, self.paused_until)
        window_s, cap = self.limits.global_window_s, self.limits.global_per_window
        # Every window before `first_window` is full: a backlog is skipped, not scanned.
        window = max(int(slot // window_s), self.first_window)
        slot = max(slot, window * window_s)
        while self.windows.get(window, 0) >= cap:
            if window == self.first_window:
                self.first_window += 1
            window += 1
            slot = window * window_s
        self.windows[window] = self.windows.get(window, 0) + 1
        if window == self.first_window and self.windows[window] >= cap:
            self.first_window += 1
        self.chat_tats[chat_id] = max(tat, slot) + interval
        if len(self.chat_tats) > 10_000 or len(self.windows) > 10_000:
            self._forget_past(now)
        return slot - now

    async def pause(self, chat_id: ChatId | None, seconds: float) -> None:
        now = time.monotonic()
        if chat_id is None:
            self.paused_until = max(self.paused_until, now + seconds)
            return
        tolerance = self.limits.chat_limit(chat_id)[1]
        self.chat_tats[chat_id] = max(self.chat_tats.get(chat_id, 0.0), now + seconds + tolerance)

    def _forget_past(self, now: float) -> None:
        # A chat whose arrival time has passed is a fresh bucket again; past windows
        # take no more sends.
        for key in [k for k, tat in self.chat_tats.items() if tat <= now]:
            del self.chat_tats[key]
        current = int(now // self.limits.global_window_s)
        for window in [w for w in self.windows if w < current]:
            del self.windows[window]


# KEYS: the chat's key, the global pause key, the global windows' key prefix, the
# first window that may have room.
# ARGV: the chat's interval and tolerance, the window length (ms), sends per window.
# Time is Redis's own (TIME), the one clock every process agrees on. Every key expires
# once it is in the past, so idle chats cost no memory. The windows' keys are built in
# the script (their number is not known up front); they share the hash tag, so a Redis
# Cluster keeps them in the same slot as the declared keys.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local window_ms, cap = tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
local slot = math.max(now, tat - tolerance, paused)
-- Every window before `first` is full: a backlog is skipped in one step, not scanned.
local first = tonumber(redis.call('GET', KEYS[4]) or '0')
local window = math.max(math.floor(slot / window_ms), first)
slot = math.max(slot, window * window_ms)
for _ = 1, 100000 do
  local key = KEYS[3] .. window
  local n = redis.call('INCR', key)
  if n == 1 then
    redis.call('PEXPIRE', key, math.ceil((window + 1) * window_ms - now) + 1000)
  end
  if window == first and n >= cap then first = window + 1 end
  if n <= cap then break end
  window = window + 1
  slot = window * window_ms
end
redis.call('SET', KEYS[4], first, 'PX', math.max(1, math.ceil(first * window_ms - now)) + 1000)
local new_tat = math.max(tat, slot) + interval
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return string.format('%.3f', slot - now)
"""

# KEYS: the chat's key, or the global pause key. ARGV: the pause, the key's tolerance (ms).
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = now + tonumber(ARGV[1]) + tonumber(ARGV[2])
if wanted > tat then
  redis.call('SET', KEYS[1], string.format('%.3f', wanted), 'PX', math.ceil(wanted - now) + 1000)
end
return 1
"""

# One hash tag: a Redis Cluster keeps every key of the budget in one slot, as a script
# touching a chat's key and the global keys needs.
KEY_PREFIX = "tg:{budget}:"


class RedisBudget:
    """The budget shared by every process that reaches this Redis (`REDIS__URL`).

    When Redis cannot be reached, the process falls back to its own budget (logged and
    counted) rather than stopping every message: Telegram's 429s are then the backstop,
    as they were before the budget was shared."""

    def __init__(self, redis: Redis, limits: SenderLimits, prefix: str = KEY_PREFIX) -> None:
        self.redis = redis
        self.limits = limits
        self.prefix = prefix
        self.fallback = LocalBudget(limits)
        self._reserve = redis.register_script(_RESERVE)
        self._pause = redis.register_script(_PAUSE)

    async def reserve(self, chat_id: ChatId) -> float:
        interval, tolerance = self.limits.chat_limit(chat_id)
        try:
            wait_ms = await self._reserve(
                keys=[
                    f"{self.prefix}chat:{chat_id}",
                    f"{self.prefix}paused",
                    f"{self.prefix}window:",
                    f"{self.prefix}first",
                ],
                args=[
                    interval * 1000,
                    tolerance * 1000,
                    self.limits.global_window_s * 1000,
                    self.limits.global_per_window,
                ],
            )
        except (RedisError, OSError) as exc:
            metrics.TELEGRAM_BUDGET_FALLBACKS.inc()
            log.warning("shared Telegram budget unavailable: process-local limits", error=repr(exc))
            return await self.fallback.reserve(chat_id)
        return float(wait_ms) / 1000

    async def pause(self, chat_id: ChatId | None, seconds: float) -> None:
        if chat_id is None:
            key, tolerance = f"{self.prefix}paused", 0.0
        else:
            key, tolerance = f"{self.prefix}chat:{chat_id}", self.limits.chat_limit(chat_id)[1]
        try:
            await self._pause(keys=[key], args=[seconds * 1000, tolerance * 1000])
        except (RedisError, OSError) as exc:
            metrics.TELEGRAM_BUDGET_FALLBACKS.inc()
            log.warning("shared Telegram budget unavailable: pausing locally", error=repr(exc))
            await self.fallback.pause(chat_id, seconds)


_T = TypeVar("_T")


@dataclass(frozen=True)
class Failure:
    """How a client's exception counts here: Telegram's flood wait (seconds), or a
    transient failure (5xx, network); neither: the error goes back to the caller."""

    retry_after: float | None = None
    transient: bool = False


def make_budget(limits: SenderLimits, redis: Redis | None) -> SendBudget:
    """The deployment's one budget in `redis` when given (REDIS__URL), else this
    process's own."""
    return RedisBudget(redis, limits) if redis is not None else LocalBudget(limits)


async def send_under_budget(
    call: Callable[[], Awaitable[_T]],
    *,
    method: str,
    chat_id: ChatId | None,
    limits: SenderLimits,
    budget: SendBudget,
    classify: Callable[[Exception], Failure | None],
) -> _T:
    """Run one Bot API call under the rules above; `classify` reads the client's errors."""
    limited = chat_id is not None and method.startswith(_CHAT_WRITE_PREFIXES)
    waited_for_flood = 0.0
    transient_failures = 0
    while True:
        if chat_id is not None and limited:
            wait = await budget.reserve(chat_id)
            if wait > 0:
                await asyncio.sleep(wait)
        try:
            response = await call()
        except Exception as exc:
            failure = classify(exc)
            if failure is not None and failure.retry_after is not None:
                metrics.TELEGRAM_REQUESTS.labels(method, "retry_after").inc()
                log.warning(
                    "flood control: pausing",
                    method=method,
                    retry_after=failure.retry_after,
                    scope="chat" if limited else "global",
                )
                # A 429 on a chat write is that chat's; one on any other call means the
                # bot as a whole is over its budget. Every process sees the pause, also
                # when this call gives up.
                await budget.pause(chat_id if limited else None, failure.retry_after)
                waited_for_flood += failure.retry_after
                if waited_for_flood > limits.max_retry_after_s:
                    raise
                if not limited:  # not under the budget: wait here
                    await asyncio.sleep(failure.retry_after)
                continue
            if failure is not None and failure.transient:
                metrics.TELEGRAM_REQUESTS.labels(method, "transient_error").inc()
                transient_failures += 1
                if transient_failures > limits.transient_retries:
                    raise
                delay = limits.backoff_s * 2 ** (transient_failures - 1)
                log.warning("Bot API error: retrying", method=method, error=str(exc), delay=delay)
                await asyncio.sleep(delay)
                continue
            metrics.TELEGRAM_REQUESTS.labels(method, "error").inc()
            raise
        metrics.TELEGRAM_REQUESTS.labels(method, "ok").inc()
        return response
