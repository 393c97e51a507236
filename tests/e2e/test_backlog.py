"""A backlog after a restart: thousands of updates pending when `python -m bot` starts,
through PostgreSQL and through the embedded SQLite default. Every one is handled (none
fails on a busy database pool or a locked SQLite file) and nothing is logged as an
error or a warning."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.db.engine import create_engine, create_session_factory
from bot.db.models import Membership, User
from bot.settings import DbSettings
from tests import factories as f
from tests import processes
from tests.conftest import create_database, drop_database
from tests.fakes import FakeBotAPI

pytestmark = pytest.mark.e2e

UPDATES = 3000
GROUPS = 8


def _push_backlog(api: FakeBotAPI, starts: int) -> None:
    """`starts` /start in private chats (each answered: Telegram's 30 messages/s paces
    them, and each holds its transaction until answered), the rest group messages from
    new members (roster writes only)."""
    groups = [f.group_chat(id=-1_009_000_000 - i, title=f"Group {i}") for i in range(GROUPS)]
    for n in range(UPDATES):
        user = f.user(id=990_000 + n, first_name=f"U{n}")
        if n * starts // UPDATES != (n + 1) * starts // UPDATES:  # `starts` of them, spread
            message = f.message("/start", from_user=user, chat=f.private_chat(user))
        else:
            message = f.message(f"hello {n}", from_user=user, chat=groups[n % GROUPS])
        api.push_update(f.message_update(message))


async def _metrics(port: int) -> dict[str, float]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        body = await response.text()
    counts: dict[str, float] = {}
    for match in re.finditer(
        r'^bot_updates_total\{event_type="message",outcome="(\w+)"\} (\S+)$', body, re.MULTILINE
    ):
        counts[match[1]] = float(match[2])
    return counts


async def _work_through(
    api: FakeBotAPI, env: dict[str, str], cwd: Path | None, starts: int
) -> processes.Process:
    _push_backlog(api, starts)
    port = processes.free_port()
    bot = await processes.start("bot", {**env, "METRICS__PORT": str(port)}, cwd=cwd)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 240
        counts: dict[str, float] = {}
        while sum(counts.values()) < UPDATES:
            if loop.time() > deadline or bot.proc.returncode is not None:
                raise AssertionError(f"handled {counts} of {UPDATES}:\n{bot.text[-5000:]}")
            await asyncio.sleep(0.5)
            try:
                counts = await _metrics(port)
            except aiohttp.ClientError:
                continue  # not serving yet
        assert counts.get("error", 0) == 0, counts
        await api.wait_for_calls("sendMessage", starts, timeout=60)
    finally:
        code = await bot.terminate(timeout=60)
    assert code == 0, bot.text[-5000:]
    problems = [
        line
        for line in bot.output
        if not line.startswith("{") or json.loads(line)["level"] not in ("debug", "info")
    ]
    assert not problems, "\n".join(problems[:20])
    return bot


async def _check_rows(url: str, starts: int) -> None:
    engine = create_engine(DbSettings(url=url))  # type: ignore[arg-type]
    try:
        async with create_session_factory(engine)() as session:
            users = await session.scalar(select(func.count()).select_from(User))
            members = await session.scalar(select(func.count()).select_from(Membership))
    finally:
        await engine.dispose()
    assert users == UPDATES
    assert members == UPDATES - starts


async def test_a_backlog_through_postgresql_is_worked_through(fake_api: FakeBotAPI) -> None:
    url = await create_database("bot_backlog")
    try:
        env = {
            "BOT__TOKEN": fake_api.token,
            "BOT__API_BASE_URL": fake_api.base_url,
            "DB__URL": url,
            "A2T__ENABLED": "false",
            "LOG__FORMAT": "json",
        }
        # 1200 answers take Telegram 40 s: before the bound, the updates behind them
        # waited longer than the pool's 30 s for a connection and failed.
        await _work_through(fake_api, env, None, starts=1200)
        await _check_rows(url, starts=1200)
    finally:
        await drop_database(url)


async def test_a_backlog_on_the_embedded_sqlite_default_is_worked_through(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    env = {
        "BOT__TOKEN": fake_api.token,
        "BOT__API_BASE_URL": fake_api.base_url,
        "A2T__DEVICE": "cpu",
        "LOG__FORMAT": "json",
    }
    # Before serialized writes, 600 answers were enough for "database is locked".
    await _work_through(fake_api, env, tmp_path, starts=600)
    await _check_rows(f"sqlite+aiosqlite:///{tmp_path}/data/bot.sqlite3", starts=600)
