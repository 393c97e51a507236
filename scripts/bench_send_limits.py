"""The shared Telegram budget: one Lua script (bot/telegram/budget.py: RedisBudget)
against the `limits` library's async Redis storage, the well-kept alternative.

    uv run --with 'limits[async-redis]==5.8.0' python -m scripts.bench_send_limits \\
        [--calls 20000]

`limits` is not a dependency of the project (this script is its only user), hence
`--with`. Measured, for each:

* CPU per acquire: this process's CPU time and the Redis server's (INFO cpu) over
  `--calls` acquires of a chat's limit and the global one, chats cycling over 1,000
  private and group ids; global limit raised so nothing queues (the arithmetic, not
  waiting, is measured);
* atomicity across the chat and the global limit: `limits` hits one limit at a time,
  so a send the global limit refuses has already used its chat's slot ("burned"
  slots); testing every limit first and hitting after is a race between processes,
  shown as sends admitted over a chat's limit by concurrent clients ("over-admitted").
  The script takes both limits in one step: neither can happen.

Prints a table and writes bench-results/send_limits.json. Redis: BENCH_REDIS_URL
(default redis://127.0.0.1:6379/12), flushed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from typing import Any

from redis.asyncio import Redis

from bot.telegram.budget import RedisBudget, SenderLimits
from scripts._bench import REDIS_URL, print_table, write_results

CHATS = [*range(1, 501), *range(-1_001_000_000_500, -1_001_000_000_000)]


async def redis_cpu_s(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def measure(redis: Redis, calls: int, acquire: Any) -> dict[str, float]:
    await redis.flushdb()
    for i in range(200):  # warm up: scripts loaded, connections open
        await acquire(CHATS[i % len(CHATS)])
    server_before, cpu_before, wall_before = (
        await redis_cpu_s(redis),
        time.process_time(),
        (time.perf_counter()),
    )
    for i in range(calls):
        await acquire(CHATS[i % len(CHATS)])
    wall = time.perf_counter() - wall_before
    cpu = time.process_time() - cpu_before
    server = await redis_cpu_s(redis) - server_before
    return {
        "client_cpu_us": cpu / calls * 1e6,
        "redis_cpu_us": server / calls * 1e6,
        "total_cpu_us": (cpu + server) / calls * 1e6,
        "wall_us": wall / calls * 1e6,
    }


def limits_acquire(storage_url: str) -> tuple[Any, Any]:
    """`limits` the way the sender would use it: the chat's item, then the global one."""
    from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
    from limits.aio.storage import RedisStorage
    from limits.aio.strategies import MovingWindowRateLimiter

    limiter = MovingWindowRateLimiter(RedisStorage(storage_url))
    private, group = RateLimitItemPerSecond(1), RateLimitItemPerMinute(20)
    everyone = RateLimitItemPerSecond(1_000_000)

    async def acquire(chat_id: int) -> bool:
        item = private if chat_id > 0 else group
        return await limiter.hit(item, "chat", str(chat_id)) and await limiter.hit(
            everyone, "global"
        )

    return limiter, acquire


async def limits_atomicity(storage_url: str, redis: Redis) -> dict[str, int]:
    from limits import RateLimitItemPerSecond
    from limits.aio.storage import RedisStorage
    from limits.aio.strategies import MovingWindowRateLimiter

    await redis.flushdb()
    limiter = MovingWindowRateLimiter(RedisStorage(storage_url))
    chat, everyone = RateLimitItemPerSecond(1), RateLimitItemPerSecond(1)
    # Burned: the global limit (1/s here) is used by chat 1; chat 2's send is refused by
    # it, after chat 2's own slot was taken. Chat 2 then cannot send this second either.
    await limiter.hit(chat, "chat", "1")
    await limiter.hit(everyone, "global")
    burned = 0
    for n in range(2, 12):
        if await limiter.hit(chat, "chat", str(n)) and not await limiter.hit(everyone, "global"):
            burned += not await limiter.test(chat, "chat", str(n))
    # Over-admitted: 3 clients (own connections) test both limits, then hit both.
    await redis.flushdb()
    clients = [MovingWindowRateLimiter(RedisStorage(storage_url)) for _ in range(3)]
    wide = RateLimitItemPerSecond(1000)

    async def test_then_hit(client: MovingWindowRateLimiter, key: str) -> bool:
        if await client.test(chat, "chat", key) and await client.test(wide, "global"):
            await client.hit(chat, "chat", key)
            await client.hit(wide, "global")
            return True
        return False

    over = 0
    for round_ in range(20):
        admitted = await asyncio.gather(*(test_then_hit(c, f"r{round_}") for c in clients))
        over += max(0, sum(admitted) - 1)  # the chat allows one per second
    return {"burned_chat_slots_of_10": burned, "over_admitted_of_20_rounds": over}


async def script_atomicity(redis: Redis, redis_url: str) -> dict[str, int]:
    """The same two checks against the script: a send always gets a slot (nothing is
    refused, so nothing burns), and concurrent clients get distinct slots a second apart."""
    await redis.flushdb()
    one_per_s = SenderLimits(private_per_s=1, private_burst=1, global_per_s=1000)
    others = [Redis.from_url(redis_url) for _ in range(3)]
    over = 0
    try:
        budgets = [RedisBudget(client, one_per_s) for client in others]
        for round_ in range(20):
            now = time.time()  # the same machine's clock as Redis's TIME
            waits = await asyncio.gather(*(b.reserve(10_000 + round_) for b in budgets))
            slots = sorted(now + wait for wait in waits)
            # Slots less than a second apart (0.9 s: call times differ by milliseconds).
            over += sum(1 for a, b in itertools.pairwise(slots) if b - a < 0.9)
    finally:
        for client in others:
            await client.aclose()
    return {"burned_chat_slots_of_10": 0, "over_admitted_of_20_rounds": over}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    redis = Redis.from_url(REDIS_URL)
    results: dict[str, Any] = {"calls": args.calls}
    try:
        budget = RedisBudget(redis, SenderLimits(global_per_s=1_000_000))
        results["lua_script"] = await measure(redis, args.calls, budget.reserve)
        results["lua_script"] |= await script_atomicity(redis, REDIS_URL)
        storage_url = "async+" + REDIS_URL
        _, acquire = limits_acquire(storage_url)
        results["limits_moving_window"] = await measure(redis, args.calls, acquire)
        results["limits_moving_window"] |= await limits_atomicity(storage_url, redis)
        await redis.flushdb()
    finally:
        await redis.aclose()
    lua, lib = results["lua_script"], results["limits_moving_window"]
    results["limits_cpu_ratio"] = lib["total_cpu_us"] / lua["total_cpu_us"]
    rows = []
    for name, data in (("Lua script", lua), ("limits (moving window)", lib)):
        rows += [
            (f"{name}: CPU µs per acquire (client)", f"{data['client_cpu_us']:.0f}", "", ""),
            (f"{name}: CPU µs per acquire (Redis)", f"{data['redis_cpu_us']:.0f}", "", ""),
            (f"{name}: wall µs per acquire", f"{data['wall_us']:.0f}", "", ""),
            (f"{name}: burned chat slots", str(data["burned_chat_slots_of_10"]), "0", ""),
            (f"{name}: over-admitted", str(data["over_admitted_of_20_rounds"]), "0", ""),
        ]
    rows.append(("limits / script, total CPU", f"{results['limits_cpu_ratio']:.2f}x", "", ""))
    print_table(f"Shared send budget, {args.calls} acquires", rows)
    print(write_results("send_limits", results))


if __name__ == "__main__":
    asyncio.run(main())
