"""Backup / restore benchmark: `python -m bot.admin backup|restore` at scale.

    uv run python -m scripts.bench_backup [--events 200000] [--db postgresql|sqlite|both]

Seeds a scratch database (PostgreSQL, and/or a SQLite file) with a community's shape:
2,000 users and memberships, `--events` karma events, one transcription job per 20 events
(600 characters of text, segments as JSON); then times BackupService.backup to a file and
BackupService.restore of that file into an empty database of the same kind: wall time,
this process's CPU time, PostgreSQL's CPU time (when local), rows/s, file size, and the
process's peak RSS (memory stays bounded: tables are streamed).

Prints a table and writes bench-results/backup.json.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import insert

from bot.db.base import utcnow
from bot.db.engine import create_engine
from bot.db.migrate import upgrade_to_head
from bot.db.models import Chat, KarmaEvent, Membership, TranscriptionJob, User
from bot.services.backup import BackupService
from bot.settings import DbSettings
from scripts._bench import postgres_cpu_s, print_table, scratch_database, write_results

CHAT = -1_001_000_000_000
USERS = 2000
TEXT = ("ask not what your country can do for you, ask what you can do for your country. " * 8)[
    :600
]


@asynccontextmanager
async def database(kind: str, tmp: Path, name: str) -> AsyncIterator[str]:
    if kind == "postgresql":
        async with scratch_database(f"bench_backup_{name}") as url:
            yield url
        return
    url = f"sqlite+aiosqlite:///{tmp}/{name}.sqlite3"
    await upgrade_to_head(url)
    yield url


async def seed(url: str, events: int) -> int:
    engine = create_engine(DbSettings(url=SecretStr(url)))
    now = utcnow()
    rows = 0
    try:
        async with engine.begin() as c:
            await c.execute(insert(Chat), [{"id": CHAT, "type": "supergroup", "title": "Bench"}])
            users = [{"id": 10_000 + i, "first_name": f"User {i}"} for i in range(USERS)]
            await c.execute(insert(User), users)
            await c.execute(
                insert(Membership),
                [{"chat_id": CHAT, "user_id": u["id"], "joined_at": now} for u in users],
            )
            rows += 1 + 2 * USERS
            for start in range(0, events, 10_000):
                batch = [
                    {
                        "chat_id": CHAT,
                        "voter_id": 10_000 + i % USERS,
                        "target_id": 10_000 + (i * 7 + 1) % USERS,
                        "source": "reply",
                        "direction": 1,
                        "weight": 1.0 + (i % 13) / 7,
                        "delta": 1.0 + (i % 13) / 7,
                        "message_id": i,
                        "created_at": now,
                    }
                    for i in range(start, min(events, start + 10_000))
                ]
                await c.execute(insert(KarmaEvent), batch)
                rows += len(batch)
            jobs = [
                {
                    "dedup_key": f"{CHAT}:{i}:auto",
                    "chat_id": CHAT,
                    "user_id": 10_000 + i % USERS,
                    "message_id": i,
                    "media_kind": "voice",
                    "file_id": f"file{i}",
                    "file_unique_id": f"u{i}",
                    "status": "done",
                    "text": TEXT,
                    "segments": [
                        {"start": s * 2.5, "end": s * 2.5 + 2.5, "text": TEXT[s * 60 : s * 60 + 60]}
                        for s in range(10)
                    ],
                    "received_at": now,
                }
                for i in range(events // 20)
            ]
            for start in range(0, len(jobs), 5000):
                await c.execute(insert(TranscriptionJob), jobs[start : start + 5000])
            rows += len(jobs)
    finally:
        await engine.dispose()
    return rows


async def timed(coro: Any) -> tuple[Any, float, float, float | None]:
    pg0, cpu0, t0 = postgres_cpu_s(), time.process_time(), time.perf_counter()
    result = await coro
    wall, cpu, pg1 = time.perf_counter() - t0, time.process_time() - cpu0, postgres_cpu_s()
    return result, wall, cpu, (pg1 - pg0) if pg0 is not None and pg1 is not None else None


async def run(kind: str, events: int, tmp: Path) -> dict[str, Any]:
    async with database(kind, tmp, "source") as source:
        rows = await seed(source, events)
        file = tmp / f"{kind}.jsonl.gz"
        engine = create_engine(DbSettings(url=SecretStr(source)))
        try:
            with file.open("wb") as out:
                summary, b_wall, b_cpu, b_pg = await timed(
                    BackupService(engine, source).backup(out)
                )
        finally:
            await engine.dispose()
        assert summary.rows == rows, (summary.rows, rows)
        backup_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    async with database(kind, tmp, "target") as target:
        engine = create_engine(DbSettings(url=SecretStr(target)))
        try:
            with file.open("rb") as source_file:
                restored, r_wall, r_cpu, r_pg = await timed(
                    BackupService(engine, target).restore(source_file)
                )
        finally:
            await engine.dispose()
        assert restored.rows == rows
    return {
        "db": kind,
        "rows": rows,
        "file_mb": round(file.stat().st_size / 1e6, 2),
        "backup": {"wall_s": round(b_wall, 2), "cpu_s": round(b_cpu, 2), "pg_cpu_s": b_pg},
        "restore": {"wall_s": round(r_wall, 2), "cpu_s": round(r_cpu, 2), "pg_cpu_s": r_pg},
        "backup_rows_per_s": round(rows / b_wall),
        "restore_rows_per_s": round(rows / r_wall),
        "peak_rss_mb_after_backup": round(backup_rss),
        "peak_rss_mb_after_restore": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--db", choices=["postgresql", "sqlite", "both"], default="both")
    args = parser.parse_args()
    kinds = ["postgresql", "sqlite"] if args.db == "both" else [args.db]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            results.append(asyncio.run(run(kind, args.events, Path(tmp))))
    for r in results:
        pg = lambda v: "n/a" if v is None else f"{v:.1f}"  # noqa: E731
        print_table(
            f"{r['db']}: {r['rows']} rows, file {r['file_mb']} MB",
            [
                ("backup wall s", f"{r['backup']['wall_s']}", "", ""),
                ("backup CPU s (this process)", f"{r['backup']['cpu_s']}", "", ""),
                ("backup CPU s (PostgreSQL)", pg(r["backup"]["pg_cpu_s"]), "", ""),
                ("backup rows/s", f"{r['backup_rows_per_s']}", "", ""),
                ("restore wall s", f"{r['restore']['wall_s']}", "", ""),
                ("restore CPU s (this process)", f"{r['restore']['cpu_s']}", "", ""),
                ("restore CPU s (PostgreSQL)", pg(r["restore"]["pg_cpu_s"]), "", ""),
                ("restore rows/s", f"{r['restore_rows_per_s']}", "", ""),
                ("peak RSS MB", f"{r['peak_rss_mb_after_restore']}", "", ""),
            ],
        )
    print(write_results("backup", {"events": args.events, "results": results}))


if __name__ == "__main__":
    main()
