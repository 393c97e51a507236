"""Roster benchmark: /members pages and the CSV export at 10,000 and 100,000 members.

    uv run python -m scripts.bench_roster [--members 10000,100000] [--runs 15]

Per roster size, a scratch PostgreSQL database seeded in bulk (INSERT ... SELECT over
generate_series: users with varied first and last names, Latin and Cyrillic, usernames
for most; memberships of every status and role; karma for a quarter), vacuumed and
analysed. Then one bot process (the real dispatcher, every middleware and router,
production defaults) is fed `/members ...` updates from a configured moderator in a
private chat; the fake Bot API runs in this process, so the bot's figures are its own:

* server time of `/members` with each filter: update fed -> page sent (the count, the
  page's query and the reply), median and p95 of --runs, after one unmeasured run; and
  the CPU per request of the bot process and of the PostgreSQL backends serving the
  scratch database (from /proc), which a shared machine's load inflates far less;
* `/members export` of the whole roster: wall time, rows, file size, and the bot
  process's resident memory (VmRSS before, peak VmHWM during, from /proc/self/status,
  the peak reset first through /proc/self/clear_refs).

Prints a table and writes bench-results/roster.json. Targets (issue 15): every page
<= 50 ms at 10,000 and 100,000 members; the export's memory bounded (not growing with
the roster).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import create_engine, create_session_factory
from bot.log import configure_logging
from bot.services import AppDeps
from bot.settings import LogSettings, Settings
from bot.telegram.budget import SenderLimits
from bot.telegram.dispatcher import create_bot, create_dispatcher
from scripts._bench import loadavg, median, p95, print_table, scratch_database, write_results
from tests import factories as f
from tests.fakes import FakeBotAPI

COMMUNITY = f.group_chat(id=-1_009_100_000_001, title="Bench Community")
MODERATOR = f.user(id=900_001, first_name="Mona", username="mona_mod")
TARGET_MS = 50.0
UNLIMITED = SenderLimits(
    global_per_s=1e9, private_per_s=1e9, private_burst=1e9, group_per_s=1e9, group_burst=1e9
)
# One filter per kind of query: none (the first page), membership columns only, the
# search (q=) with 3 letters or more, Latin, Cyrillic and a username, and 1-2 letters,
# common and matching nobody, alone and with other filters.
FILTERS = [
    "",
    "status=banned",
    "role=admin,moderator",
    "status=active role=member",
    "lang=ru karma>0",
    "q=ann",
    "q=петр",
    "q=user12345",
    "q=nobodyhere",
    "q=a",
    "q=ma",
    "q=zq",
    "status=active q=an",
    "status=left,banned q=ser",
]

FIRST = [
    "Ann", "Anna", "Boris", "Chen", "Dana", "Émile", "Иван", "Olga", "Pat", "Zoë", "Maria",
    "Mark", "Sergei", "Сергей", "Мария", "Анна", "Ольга", "Дмитрий", "Alex", "Alexander",
    "Kate", "Ekaterina", "Екатерина", "John", "Jane", "Li", "Wei", "Yuki", "Hana", "Omar",
    "Fatima", "Igor", "Игорь", "Nina", "Нина", "Paul", "Pavel", "Павел", "Tom", "Lena",
    "Елена", "Max", "Максим", "Oleg", "Олег", "Sofia", "Софья",
]  # fmt: skip
LAST = [
    "Lee", "Smith", "Петров", "Annan", "Ivanov", "Иванов", "Kim", "Garcia", "Müller",
    "Сидоров", "Kuznetsov", "Кузнецова", "Popov", "Попова", "Novak", "Wang", "Zhang",
    "Brown", "Orlov", "Орлова", "Volkov", "Волков", "Lebedev", "Лебедева", "Sokolov",
    "Соколов", "Morozov", "Морозова", "Rossi", "Silva", "Nowak",
]  # fmt: skip


def _sql_array(values: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


SEED_SQL = f"""
INSERT INTO chats (id, type, title, a2t_mode, karma_reactions, created_at, updated_at)
VALUES (:chat, 'supergroup', 'Bench', 'auto', false, now(), now());
INSERT INTO users (id, is_bot, first_name, last_name, username, language_code,
                   created_at, updated_at)
SELECT 10000000 + g, g % 500 = 0,
       ({_sql_array(FIRST)})[1 + g % {len(FIRST)}],
       CASE WHEN g % 5 = 0 THEN NULL ELSE ({_sql_array(LAST)})[1 + (g / 7) % {len(LAST)}] END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE 'user' || g END,
       (ARRAY['en', 'ru', 'de', 'pt-br', NULL])[1 + g % 5],
       now(), now()
FROM generate_series(0, :members - 1) g;
INSERT INTO memberships (chat_id, user_id, role, status, joined_at, last_seen_at,
                         created_at, updated_at)
SELECT :chat, 10000000 + g,
       CASE WHEN g % 97 = 0 THEN 'admin' WHEN g % 89 = 0 THEN 'moderator' ELSE 'member' END,
       (ARRAY['active', 'active', 'active', 'active', 'active', 'active', 'active',
              'restricted', 'left', 'banned'])[1 + g % 10],
       CASE WHEN g % 50 = 0 THEN NULL
            ELSE timestamptz '2025-01-01' + make_interval(mins => g) END,
       timestamptz '2026-01-01' + make_interval(mins => g % 10000),
       timestamptz '2025-01-01' + make_interval(secs => g / 3),
       now()
FROM generate_series(0, :members - 1) g;
INSERT INTO karma_totals (chat_id, user_id, karma, updated_at)
SELECT :chat, 10000000 + g, (g % 41 - 20)::float, now()
FROM generate_series(0, :members - 1, 4) g;
"""


async def seed(url: str, members: int) -> float:
    """The roster, in bulk; returns the seconds it took (VACUUM ANALYZE included)."""
    started = time.perf_counter()
    engine = create_engine(Settings(_env_file=None, db={"url": url}).db)  # type: ignore[call-arg]
    try:
        async with engine.begin() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            for statement in SEED_SQL.split(";\n"):
                if statement.strip():
                    sql = statement.replace(":members", str(members)).replace(
                        ":chat", str(COMMUNITY["id"])
                    )
                    await driver.execute(sql)
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            # A roster's steady state: autovacuum has been by (visibility map set, so
            # counts can read an index alone) and the statistics are current.
            await connection.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()
    return time.perf_counter() - started


def command(text: str) -> dict[str, Any]:
    return f.message_update(f.message(text, from_user=MODERATOR, chat=f.private_chat(MODERATOR)))


def memory_kb() -> dict[str, int]:
    """VmRSS and VmHWM (peak) of this process, in kB, from /proc."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


async def backends_cpu_s(engine: AsyncEngine) -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to this engine's
    database (the scratch database: only this bench's), from /proc."""
    async with engine.connect() as connection:
        pids = list(
            await connection.scalars(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            )
        )
    return _processes_cpu_s(pids)


def _processes_cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:  # ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def bot_side(
    url: str, token: str, base_url: str, pages: list[dict[str, Any]], exports: list[Any], runs: int
) -> dict[str, Any]:
    """The bot process: production defaults, the community and a moderator configured."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot={"token": token, "api_base_url": base_url},
        db={"url": url, "migrate_on_start": False},
        community={"chat_id": COMMUNITY["id"]},
        moderation={"admin_ids": [MODERATOR["id"]]},
        metrics={"enabled": False},
        log={"level": "WARNING"},
    )
    engine = create_engine(settings.db)
    dispatcher = create_dispatcher(AppDeps(settings), create_session_factory(engine))
    bot = create_bot(settings.bot, UNLIMITED)
    try:
        times: dict[str, list[float]] = {}
        cpu_ms: dict[str, tuple[float, float]] = {}
        for update in pages:
            text_ = update["message"]["text"]
            await dispatcher.feed_raw_update(bot, update)  # unmeasured: plans, caches
            samples = []
            cpu, pg_cpu = time.process_time(), await backends_cpu_s(engine)
            for _ in range(runs):
                started = time.perf_counter()
                await dispatcher.feed_raw_update(bot, update)
                samples.append(time.perf_counter() - started)
            pg_cpu = await backends_cpu_s(engine) - pg_cpu
            cpu_ms[text_] = ((time.process_time() - cpu) / runs * 1e3, pg_cpu / runs * 1e3)
            times[text_] = samples
        export: dict[str, Any] = {}
        for update in exports:
            before = memory_kb()
            peak_reset = reset_peak()
            started = time.perf_counter()
            await dispatcher.feed_raw_update(bot, update)
            export = {
                "seconds": time.perf_counter() - started,
                "rss_before_kb": before["VmRSS"],
                "peak_kb": memory_kb()["VmHWM"],
                "peak_reset": peak_reset,
            }
        return {"times": times, "cpu_ms": cpu_ms, "export": export}
    finally:
        await bot.session.close()
        await engine.dispose()


def _bot_process(args: tuple[Any, ...], results: Any) -> None:
    configure_logging(LogSettings(level="WARNING", format="json"))
    results.put(asyncio.run(bot_side(*args)))


async def measure(members: int, runs: int) -> dict[str, Any]:
    async with scratch_database("bench_roster") as url:
        seeded_s = await seed(url, members)
        async with FakeBotAPI() as api:
            pages = [command(f"/members {flt}".strip()) for flt in FILTERS]
            exports = [command("/members export")]
            for update in [*pages, *exports]:
                api.observe(update)
            context = multiprocessing.get_context("spawn")
            results = context.Queue()
            load_before = loadavg()
            process = context.Process(
                target=_bot_process,
                args=((url, api.token, api.base_url, pages, exports, runs), results),
            )
            process.start()
            bot = await asyncio.to_thread(results.get)
            await asyncio.to_thread(process.join)
            if process.exitcode != 0:
                raise RuntimeError(f"the bot process failed (exit code {process.exitcode})")
            documents = api.calls_of("sendDocument")
            assert len(documents) == 1, documents
            document = documents[0].files["document"]
            rows = document.decode("utf-8-sig").count("\n") - 1
            assert rows == members, f"{rows} rows exported of {members}"
            replies = api.calls_of("sendMessage")
            assert len(replies) == len(FILTERS) * (runs + 1), len(replies)
            return {
                "members": members,
                "seed_s": seeded_s,
                "times": bot["times"],
                "cpu_ms": bot["cpu_ms"],
                "export": {**bot["export"], "rows": rows, "bytes": len(document)},
                "loadavg_before": load_before,
                "loadavg_after": loadavg(),
            }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", default="10000,100000", help="roster sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=15, help="timed runs per filter")
    args = parser.parse_args()
    sizes = [int(n) for n in args.members.split(",") if n.strip()]
    configure_logging(LogSettings(level="WARNING", format="json"))
    ms, met, rows, results = 1000.0, True, [], []
    for members in sizes:
        m = asyncio.run(measure(members, args.runs))
        results.append(
            {
                **{k: v for k, v in m.items() if k != "times"},
                "pages_ms": {
                    flt: {
                        "median": median(s) * ms,
                        "p95": p95(s) * ms,
                        "bot_cpu": m["cpu_ms"][flt][0],
                        "postgres_cpu": m["cpu_ms"][flt][1],
                    }
                    for flt, s in m["times"].items()
                },
            }
        )
        rows.append((f"{members:,} members (seeded in {m['seed_s']:.1f} s)", "", "", ""))
        for flt, samples in m["times"].items():
            ok = p95(samples) * ms <= TARGET_MS
            met = met and ok
            rows.append(
                (
                    f"  {flt}",
                    f"{median(samples) * ms:.1f} / {p95(samples) * ms:.1f} ms"
                    f" (CPU {m['cpu_ms'][flt][0]:.1f} + {m['cpu_ms'][flt][1]:.1f})",
                    f"<= {TARGET_MS:.0f} ms",
                    "yes" if ok else "NO",
                )
            )
        e = m["export"]
        rows += [
            (
                f"  /members export ({e['rows']:,} rows, {e['bytes'] / 1e6:.1f} MB)",
                f"{e['seconds']:.2f} s",
                "",
                "",
            ),
            (
                "    bot RSS before / peak" + ("" if e["peak_reset"] else " (peak not reset)"),
                f"{e['rss_before_kb'] / 1024:.0f} / {e['peak_kb'] / 1024:.0f} MB",
                "",
                "",
            ),
            ("  loadavg before / after", f"{m['loadavg_before']} / {m['loadavg_after']}", "", ""),
        ]
    print_table(
        "/members server time: median / p95 from update fed to reply sent"
        " (CPU ms per request: bot + PostgreSQL)",
        rows,
    )
    path = write_results("roster", {"runs": args.runs, "sizes": results})
    print(f"\nwrote {path}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
