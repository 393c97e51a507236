"""One Telegram budget for the whole deployment: three processes posting into one chat
against a fake Bot API that floods like Telegram (429 over the chat's limit). With
Redis they share the budget and never hit the limit; with process-local buckets (the
behaviour before, and the embedded mode) the same setup gets 429s."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.telegram.budget import SenderLimits
from tests import processes
from tests.fakes import FakeBotAPI, FloodLimits

pytestmark = pytest.mark.e2e

PROCESSES, PER_PROCESS = 3, 4
CHAT = 4242
LIMITS = SenderLimits()  # what the processes use: the defaults


async def _post_from_processes(fake_api: FakeBotAPI, tmp_path: Path, redis_url: str | None) -> None:
    fake_api.strict_chats = False
    # Telegram's private-chat limit as the fake applies it: one a second, with the
    # sender's burst, plus one message of slack for the time between a slot and the
    # request's arrival at the server.
    fake_api.flood_limit(
        FloodLimits(private_per_s=LIMITS.private_per_s, private_burst=LIMITS.private_burst + 1)
    )
    env = {
        "BOT__TOKEN": fake_api.token,
        "BOT__API_BASE_URL": fake_api.base_url,
        "SEND_CHAT_ID": str(CHAT),
        "SEND_COUNT": str(PER_PROCESS),
        "LOG__FORMAT": "json",
    }
    if redis_url is not None:
        env["REDIS__URL"] = redis_url
    senders = [await processes.start("tests.send_burst", env, stdin=True) for _ in range(PROCESSES)]
    try:
        for sender in senders:
            await sender.wait_for_output("ready", timeout=60)
        for sender in senders:
            assert sender.proc.stdin is not None
            sender.proc.stdin.write(b"go\n")
        await asyncio.gather(*(s.proc.stdin.drain() for s in senders if s.proc.stdin))
        codes = [await sender.wait(timeout=120) for sender in senders]
    finally:
        for sender in senders:
            sender.kill()
    assert codes == [0] * PROCESSES, "\n".join(s.text for s in senders)
    assert all(f"sent {PER_PROCESS}" in sender.text for sender in senders)


def _sustained_rate(times: list[float], burst: int) -> float:
    """Messages per second after the initial burst: what the chat's limit governs."""
    steady = times[burst - 1 :]
    return (len(steady) - 1) / (steady[-1] - steady[0])


async def test_shared_budget_keeps_three_processes_within_the_chat_limit(
    fake_api: FakeBotAPI, tmp_path: Path, redis: Redis, redis_url: str
) -> None:
    await _post_from_processes(fake_api, tmp_path, redis_url)

    assert fake_api.flood_errors == []
    times = fake_api.write_times[CHAT]
    assert len(times) == PROCESSES * PER_PROCESS
    assert _sustained_rate(times, int(LIMITS.private_burst)) <= LIMITS.private_per_s * 1.05
    # The budget lives in Redis, under one hash tag, and expires when idle.
    assert await redis.keys("tg:{budget}:*")


async def test_per_process_buckets_get_429s_in_the_same_setup(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    await _post_from_processes(fake_api, tmp_path, redis_url=None)

    assert len(fake_api.flood_errors) > 0
    # Every message still arrives: each process waits out Telegram's retry_after.
    assert len(fake_api.write_times[CHAT]) == PROCESSES * PER_PROCESS
