"""SQLite under concurrent writers: which way of sharing its one write lock holds up.

    uv run python -m scripts.bench_sqlite [--writers 50] [--rounds 4] [--hold-ms 20 100]

The embedded default runs on SQLite. Each simulated update upserts a user and a chat
(what the roster does for every new member), then holds its transaction open for
`hold` ms before committing: the Telegram reply a handler sends before the session
middleware commits. `writers` of them run at once, `rounds` times each. Compared:

* deferred-5s: SQLite's own locking, busy_timeout 5 s (the old default)
* deferred-60s: the same, busy_timeout 60 s
* immediate-60s: every transaction BEGIN IMMEDIATE (takes the lock at once), 60 s
* process-lock: bot.db.engine as shipped: writers queue on this process's write
  lock (bot/db/engine.py: serialize_writes), busy_timeout for other processes

Reports failed updates ("database is locked"), updates/s, latency, CPU seconds.
Writes bench-results/sqlite.json.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.db.engine import create_engine
from bot.db.migrate import upgrade_to_head
from bot.settings import DbSettings
from scripts._bench import median, p95, print_table, write_results

UPSERT_USER = text(
    "INSERT INTO users (id, is_bot, first_name, created_at, updated_at) "
    "VALUES (:id, 0, :name, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) "
    "ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name"
)
UPSERT_CHAT = text(
    "INSERT INTO chats (id, type, title, a2t_mode, karma_reactions, created_at, updated_at) "
    "VALUES (:id, 'supergroup', 'g', 'auto', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) "
    "ON CONFLICT (id) DO UPDATE SET title = excluded.title"
)


def _pragmas(engine: AsyncEngine, busy_ms: int, immediate: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _: Any) -> None:
        if immediate:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", f"busy_timeout={busy_ms}"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    if immediate:

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def plain(busy_ms: int, immediate: bool) -> Callable[[str, int], AsyncEngine]:
    def build(url: str, pool: int) -> AsyncEngine:
        engine = create_async_engine(url, pool_size=pool, max_overflow=0, pool_timeout=600)
        _pragmas(engine, busy_ms, immediate)
        return engine

    return build


def shipped(url: str, pool: int) -> AsyncEngine:
    settings = DbSettings(url=SecretStr(url), pool_size=pool, max_overflow=0)
    return create_engine(settings)


async def run(
    build: Callable[[str, int], AsyncEngine], writers: int, rounds: int, hold_s: float
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        await upgrade_to_head(url)
        engine = build(url, writers)
        latencies: list[float] = []
        failed = 0

        async def update(n: int) -> None:
            nonlocal failed
            started = time.perf_counter()
            try:
                async with engine.connect() as conn:
                    await conn.execute(UPSERT_USER, {"id": n, "name": f"u{n}"})
                    await conn.execute(UPSERT_CHAT, {"id": -(n % 7) - 1})
                    await asyncio.sleep(hold_s)  # the reply, sent inside the transaction
                    await conn.commit()
            except OperationalError:
                failed += 1
                return
            latencies.append(time.perf_counter() - started)

        cpu, wall = time.process_time(), time.perf_counter()
        for r in range(rounds):
            await asyncio.gather(*(update(r * writers + i) for i in range(writers)))
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        await engine.dispose()
    done = len(latencies)
    return {
        "failed": failed,
        "updates_per_s": done / wall,
        "p50_ms": median(latencies) * 1000 if latencies else 0.0,
        "p95_ms": p95(latencies) * 1000 if latencies else 0.0,
        "max_ms": max(latencies) * 1000 if latencies else 0.0,
        "cpu_s": cpu,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--hold-ms", type=float, nargs="+", default=[20.0, 100.0])
    args = parser.parse_args()
    options: dict[str, Callable[[str, int], AsyncEngine]] = {
        "deferred-5s": plain(5000, immediate=False),
        "deferred-60s": plain(60000, immediate=False),
        "immediate-60s": plain(60000, immediate=True),
        "process-lock": shipped,
    }
    results: dict[str, dict[str, dict[str, float]]] = {}
    rows = []
    for hold_ms in args.hold_ms:
        results[f"{hold_ms:g} ms"] = {}
        for name, build in options.items():
            r = await run(build, args.writers, args.rounds, hold_ms / 1000)
            results[f"{hold_ms:g} ms"][name] = r
            rows.append(
                (
                    f"hold {hold_ms:g} ms: {name}",
                    f"{r['failed']:.0f} failed, {r['updates_per_s']:.0f}/s, p50 {r['p50_ms']:.0f} "
                    f"p95 {r['p95_ms']:.0f} max {r['max_ms']:.0f} ms, CPU {r['cpu_s']:.2f} s",
                    "0 failed",
                    "yes" if r["failed"] == 0 else "no",
                )
            )
    print_table(f"{args.writers} concurrent writers x {args.rounds} rounds on SQLite (WAL)", rows)
    path = write_results(
        "sqlite", {"writers": args.writers, "rounds": args.rounds, "results": results}
    )
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    asyncio.run(main())
