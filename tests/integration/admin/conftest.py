"""Ops CLI fixtures: the real click commands over real PostgreSQL and SQLite databases.

Commands run in a thread (each runs its own event loop, as in production), with the
settings handed in rather than read from the environment, so a test's settings are
exactly what it says."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner, Result
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.admin.cli import Ops, cli
from bot.db.engine import create_engine, create_session_factory
from bot.settings import DbSettings, Settings
from tests.conftest import create_database, drop_database

Invoke = Callable[..., Awaitable[Result]]


def ops_settings(db_url: str, **sections: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {
        "db": {"url": db_url, "migrate_on_start": False},
        "metrics": {"enabled": False},
    }
    values.update(sections)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def invoke(settings: Settings, *args: str, input: bytes | None = None) -> Result:
    """Run `python -m bot.admin ARGS` in-process; returns click's Result (exit_code,
    stdout, stderr) with the structured log lines as `result.logs` (a real run writes
    them to stderr: bootstrap configures logging, which a test process leaves alone)."""
    runner = CliRunner()

    def run() -> Result:
        with structlog.testing.capture_logs() as logs:
            result = runner.invoke(cli, list(args), obj=Ops(settings=settings), input=input)
        result.logs = logs  # type: ignore[attr-defined]
        return result

    return await asyncio.to_thread(run)


@pytest.fixture
def run_cli() -> Invoke:
    return invoke


class Databases:
    """Blank databases (never migrated) of either kind, dropped at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.pg_urls: list[str] = []
        self.engines: list[AsyncEngine] = []

    async def blank(self, kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite+aiosqlite:///{self.tmp_path}/{uuid.uuid4().hex[:8]}.sqlite3"
        url = await create_database("bot_admin")
        self.pg_urls.append(url)
        return url

    def engine(self, url: str) -> AsyncEngine:
        engine = create_engine(DbSettings(url=SecretStr(url)))
        self.engines.append(engine)
        return engine

    def sessions(self, url: str) -> async_sessionmaker[AsyncSession]:
        return create_session_factory(self.engine(url))

    async def close(self) -> None:
        for engine in self.engines:
            await engine.dispose()
        for url in self.pg_urls:
            await drop_database(url)


@pytest.fixture
async def databases(tmp_path: Path) -> AsyncIterator[Databases]:
    dbs = Databases(tmp_path)
    yield dbs
    await dbs.close()
