"""Shared by the benchmarks: a throwaway PostgreSQL database, Redis db and result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db.migrate import upgrade_to_head

PG_ADMIN_URL = os.environ.get(
    "BENCH_PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
RESULTS = Path(__file__).resolve().parent.parent / "bench-results"


@asynccontextmanager
async def scratch_database(prefix: str) -> AsyncIterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade_to_head(url)
        yield url
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def postgres_cpu_s() -> float | None:
    """CPU seconds (user + system) used so far by this machine's PostgreSQL processes
    (server, backends, WAL writer...), from /proc; None where there is none to read (PG
    on another host, or not Linux). The difference over a run is the database's share
    of the machine's CPU."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            comm = (stat.parent / "comm").read_text().strip()
        except OSError:  # the process ended meanwhile
            continue
        if comm == "postgres":
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
            found = True
    return total / ticks if found else None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` 0.95: p95)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def p95(values: Sequence[float]) -> float:
    return percentile(values, 0.95)


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg has them ("?" elsewhere):
    on a shared machine, the load beside a figure says how far to trust it."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def print_table(title: str, rows: list[tuple[str, str, str, str]]) -> None:
    header = ("measure", "value", "target", "ok")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print(f"\n{title}")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": cpu_model(),
            "python": platform.python_version(),
        },
        **data,
    }
    path.write_text(json.dumps(data, indent=2))
    return path
