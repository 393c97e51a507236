"""The shared Telegram budget in practice: P processes post into one chat against the
fake Bot API with Telegram's flood control (429 + retry_after over the chat's limit),
once with the budget shared in Redis and once with per-process buckets (the embedded
mode, and every process before the budget was shared).

    uv run python -m scripts.bench_send_budget [--processes 3] [--messages 10]
        [--chat private|group]

Each process is `python -m tests.send_burst` (a Bot built as the worker builds it).
The fake allows the chat's limit (private: 1/s, groups: 20/min) with the sender's burst
plus one message of slack for network jitter. Reported per mode: 429s answered,
messages delivered, the chat's sustained rate (after the burst) and the most messages
it got in any one second. Prints a table and writes bench-results/send_budget.json.
Redis: BENCH_REDIS_URL (default redis://127.0.0.1:6379/12), flushed.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from redis.asyncio import Redis

from bot.telegram.budget import SenderLimits
from scripts._bench import REDIS_URL, print_table, write_results
from tests import processes
from tests.fakes import FakeBotAPI, FloodLimits

LIMITS = SenderLimits()
CHATS = {"private": 4242, "group": -1_001_000_004_242}


async def run(mode: str, chat: str, count: int, per_process: int) -> dict[str, Any]:
    chat_id = CHATS[chat]
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    async with FakeBotAPI() as api:
        api.strict_chats = False
        api.flood_limit(
            FloodLimits(
                private_per_s=LIMITS.private_per_s,
                private_burst=LIMITS.private_burst + 1,
                group_per_min=LIMITS.group_per_s * 60,
                group_burst=LIMITS.group_burst + 1,
            )
        )
        env = {
            "BOT__TOKEN": api.token,
            "BOT__API_BASE_URL": api.base_url,
            "SEND_CHAT_ID": str(chat_id),
            "SEND_COUNT": str(per_process),
            "LOG__FORMAT": "json",
        }
        if mode == "shared":
            env["REDIS__URL"] = REDIS_URL
        senders = [await processes.start("tests.send_burst", env, stdin=True) for _ in range(count)]
        try:
            for sender in senders:
                await sender.wait_for_output("ready", timeout=60)
            started = time.monotonic()
            for sender in senders:
                assert sender.proc.stdin is not None
                sender.proc.stdin.write(b"go\n")
                await sender.proc.stdin.drain()
            codes = [await sender.wait(timeout=600) for sender in senders]
            wall = time.monotonic() - started
        finally:
            for sender in senders:
                sender.kill()
        assert codes == [0] * count, "\n".join(s.text for s in senders)
        times = sorted(api.write_times.get(chat_id, []))
    await redis.flushdb()
    await redis.aclose()
    burst = int(LIMITS.private_burst if chat == "private" else LIMITS.group_burst)
    steady = times[burst - 1 :]
    return {
        "processes": count,
        "messages": count * per_process,
        "delivered": len(times),
        "flood_429s": len(api.flood_errors),
        "sustained_per_s": (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 1 else 0,
        "max_in_one_second": max(
            sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times)
        ),
        "wall_s": wall,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--messages", type=int, default=10, help="per process")
    parser.add_argument("--chat", choices=sorted(CHATS), default="private")
    args = parser.parse_args()
    results: dict[str, Any] = {"chat": args.chat}
    for mode in ("shared", "per_process"):
        results[mode] = await run(mode, args.chat, args.processes, args.messages)
    limit = LIMITS.private_per_s if args.chat == "private" else LIMITS.group_per_s
    rows = []
    for mode in ("shared", "per_process"):
        data = results[mode]
        rows += [
            (f"{mode}: 429s", str(data["flood_429s"]), "0", ""),
            (f"{mode}: delivered", f"{data['delivered']}/{data['messages']}", "", ""),
            (f"{mode}: sustained msgs/s", f"{data['sustained_per_s']:.2f}", f"<= {limit:.2f}", ""),
            (f"{mode}: most msgs in 1 s", str(data["max_in_one_second"]), "", ""),
            (f"{mode}: wall s", f"{data['wall_s']:.1f}", "", ""),
        ]
    print_table(
        f"{args.processes} processes x {args.messages} messages into one {args.chat} chat", rows
    )
    print(write_results(f"send_budget_{args.chat}", results))


if __name__ == "__main__":
    asyncio.run(main())
