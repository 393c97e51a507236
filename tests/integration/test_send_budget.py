"""The send budget's arithmetic, the same for the process-local budget and the one in
Redis: a chat's burst then its rate, the global limit per window, pauses after a 429."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.telegram.budget import LocalBudget, RedisBudget, SendBudget, SenderLimits
from tests.fakes import FakeBotAPI

LIMITS = SenderLimits()
PRIVATE, GROUP = 4242, -100500


@pytest.fixture(params=["local", "redis"])
async def budget(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[SendBudget]:
    if request.param == "local":
        yield LocalBudget(LIMITS)
        return
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield RedisBudget(client, LIMITS)
    await client.flushdb()
    await client.aclose()


async def test_a_private_chat_gets_its_burst_then_one_a_second(budget: SendBudget) -> None:
    waits = [await budget.reserve(PRIVATE) for _ in range(5)]
    assert waits[:3] == [0, 0, 0]
    assert waits[3] == pytest.approx(1.0, abs=0.05)
    assert waits[4] == pytest.approx(2.0, abs=0.05)


async def test_a_group_gets_its_burst_then_twenty_a_minute(budget: SendBudget) -> None:
    waits = [await budget.reserve(GROUP) for _ in range(7)]
    # The burst may spill into the next global window (3 sends per 100 ms).
    assert max(waits[:5]) <= LIMITS.global_window_s + 0.01
    assert waits[5] == pytest.approx(3.0, abs=0.05)
    assert waits[6] == pytest.approx(6.0, abs=0.05)


async def test_the_global_limit_spreads_many_chats_over_windows(budget: SendBudget) -> None:
    clock = time.monotonic if isinstance(budget, LocalBudget) else time.time  # Redis's TIME
    slots = []
    for n in range(90):
        now = clock()
        slots.append(now + await budget.reserve(PRIVATE + n))
    slots.sort()
    # Any second holds at most the global rate and one window's share more.
    for i, start in enumerate(slots):
        in_a_second = sum(1 for slot in slots[i:] if slot < start + 1.0)
        assert in_a_second <= LIMITS.global_per_s + LIMITS.global_per_window
    # 90 sends at 30/s: the last one starts about three seconds after the first.
    assert slots[-1] - slots[0] == pytest.approx(2.95, abs=0.15)


async def test_a_message_queued_ahead_in_one_chat_does_not_hold_back_others(
    budget: SendBudget,
) -> None:
    waits = [await budget.reserve(PRIVATE) for _ in range(4)]
    assert waits[3] == pytest.approx(1.0, abs=0.05)
    # Not held back by the slot a second ahead: at most the current window is full.
    assert await budget.reserve(PRIVATE + 1) <= LIMITS.global_window_s


async def test_a_chat_pause_holds_that_chat_only(budget: SendBudget) -> None:
    await budget.pause(PRIVATE, 2.0)
    assert await budget.reserve(PRIVATE) == pytest.approx(2.0, abs=0.05)
    assert await budget.reserve(PRIVATE + 1) <= LIMITS.global_window_s


async def test_a_global_pause_holds_every_chat(budget: SendBudget) -> None:
    await budget.pause(None, 1.5)
    assert await budget.reserve(PRIVATE) == pytest.approx(1.5, abs=0.15)
    assert await budget.reserve(GROUP) == pytest.approx(1.5, abs=0.15)


async def test_two_processes_share_one_redis_budget(redis: Redis, redis_url: str) -> None:
    other = Redis.from_url(redis_url)
    try:
        first, second = RedisBudget(redis, LIMITS), RedisBudget(other, LIMITS)
        waits = [await budget.reserve(PRIVATE) for budget in (first, second) * 2]
        assert waits[:3] == [0, 0, 0]
        assert waits[3] == pytest.approx(1.0, abs=0.05)
        await second.pause(PRIVATE + 1, 2.0)  # a 429 seen by one process
        assert await first.reserve(PRIVATE + 1) == pytest.approx(2.0, abs=0.05)
    finally:
        await other.aclose()


async def test_redis_gone_falls_back_to_local_limits() -> None:
    gone = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        budget = RedisBudget(gone, LIMITS)
        waits = [await budget.reserve(PRIVATE) for _ in range(4)]
    finally:
        await gone.aclose()
    assert waits[:3] == [0, 0, 0]
    assert waits[3] == pytest.approx(1.0, abs=0.05)


async def test_a_429_seen_by_one_process_pauses_every_process(
    fake_api: FakeBotAPI, redis: Redis, redis_url: str
) -> None:
    """Through the real sender: Telegram's retry_after lands in the shared budget (the
    sender gives up here at once, so what is left is the pause it wrote)."""
    from aiogram.exceptions import TelegramRetryAfter

    from bot.settings import BotSettings
    from bot.telegram.dispatcher import create_bot

    fake_api.strict_chats = False
    impatient = SenderLimits(max_retry_after_s=0)
    bot = create_bot(
        BotSettings(token=fake_api.token, api_base_url=fake_api.base_url),
        impatient,
        redis=redis,
    )
    other = RedisBudget(Redis.from_url(redis_url), LIMITS)  # another process's budget
    try:
        fake_api.fail_next("sendMessage", error_code=429, retry_after=5)
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(PRIVATE, "hello")
        assert await other.reserve(PRIVATE) == pytest.approx(5.0, abs=0.5)
        assert await other.reserve(PRIVATE + 1) <= LIMITS.global_window_s  # its chat only

        # A 429 outside any chat (the bot flooded as a whole) pauses every chat.
        fake_api.fail_next("getChatAdministrators", error_code=429, retry_after=5)
        with pytest.raises(TelegramRetryAfter):
            await bot.get_chat_administrators(GROUP)
        assert await other.reserve(GROUP - 1) == pytest.approx(5.0, abs=0.5)
    finally:
        await bot.session.close()
        await other.redis.aclose()
