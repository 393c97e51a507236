"""Test harness: real PostgreSQL and Redis, each run isolated; the fake Bot API at the
network boundary; the real dispatcher fed real update JSON.

Environment:
  TEST_PG_ADMIN_URL  a database to connect to for CREATE/DROP DATABASE
                     (default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres)
  TEST_REDIS_URL     Redis server (default redis://127.0.0.1:6379); the run uses
                     database TEST_REDIS_DB (default 13) and flushes it.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.db.base import Base
from bot.db.engine import create_engine, create_session_factory
from bot.db.migrate import upgrade_to_head
from bot.services import AppDeps
from bot.settings import DbSettings, Settings
from bot.telegram.botapi import BotAPI
from bot.telegram.dispatcher import create_bot, create_dispatcher, sender_of
from tests.fakes import FakeBotAPI

PG_ADMIN_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_SERVER_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "13"))


async def create_database(prefix: str) -> str:
    """Create an empty PostgreSQL database; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


async def drop_database(url: str) -> None:
    name = make_url(url).database
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(scope="session")
async def pg_url() -> AsyncIterator[str]:
    """A migrated PostgreSQL database for this test run, dropped at the end."""
    url = await create_database("bot_test")
    await upgrade_to_head(url)
    yield url
    await drop_database(url)


@pytest.fixture(scope="session")
async def pg_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(DbSettings(url=SecretStr(pg_url)))
    yield engine
    await engine.dispose()


@pytest.fixture
async def db(pg_engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Session factory on the run's database; every table is emptied after the test."""
    yield create_session_factory(pg_engine)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with pg_engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def sqlite_url(tmp_path: Any) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3"
    await upgrade_to_head(url)
    return url


@pytest.fixture
def redis_url() -> str:
    return f"{REDIS_SERVER_URL.rstrip('/')}/{REDIS_DB}"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as api:
        yield api


@pytest.fixture
def make_settings(fake_api: FakeBotAPI) -> Any:
    """Settings pointing at the fake Bot API; keyword overrides per section."""

    def build(db_url: str, **sections: dict[str, Any]) -> Settings:
        values: dict[str, Any] = {
            "bot": {"token": fake_api.token, "api_base_url": fake_api.base_url},
            "db": {"url": db_url, "migrate_on_start": False},
            "metrics": {"enabled": False},
        }
        for name, overrides in sections.items():
            values[name] = {**values.get(name, {}), **overrides}
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture
def settings(make_settings: Any, pg_url: str) -> Settings:
    return make_settings(pg_url)


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[Bot]:
    bot = create_bot(settings.bot)
    yield bot
    await bot.session.close()


@pytest.fixture
async def botapi(settings: Settings, bot: Bot) -> AsyncIterator[BotAPI]:
    """The worker's Bot API client, under the `bot` fixture's budget (as embedded)."""
    sender = sender_of(bot)
    client = BotAPI(settings.bot, limits=sender.limits, budget=sender.budget)
    yield client
    await client.close()


@pytest.fixture
def deps(settings: Settings) -> AppDeps:
    """Process singletons; A2T is unavailable unless a test wires a queue in."""
    return AppDeps(settings)


@pytest.fixture
def dispatcher(deps: AppDeps, db: async_sessionmaker[AsyncSession]) -> Dispatcher:
    return create_dispatcher(deps, db)


@pytest.fixture
def feed(dispatcher: Dispatcher, bot: Bot, fake_api: FakeBotAPI) -> Any:
    """Feed one raw update (the JSON Telegram sends) through the real dispatcher.
    The fake API learns the update's users, chats and messages, as Telegram would."""

    async def feed_update(update: dict[str, Any]) -> Any:
        fake_api.observe(update)
        return await dispatcher.feed_raw_update(bot, update)

    return feed_update


@pytest.fixture(autouse=True)
def _no_handler_on_a_closed_stream() -> None:
    """A test that configures logging (configure_logging, bootstrap) leaves the root
    logger a handler on that test's captured stderr, closed once the test ends: every
    later line would go to "--- Logging error ---" (into a CLI's captured output, say)
    instead of anywhere a test reads."""
    root = logging.getLogger()
    for handler in root.handlers[:]:
        stream = getattr(handler, "stream", None)
        if isinstance(handler, logging.StreamHandler) and getattr(stream, "closed", False):
            root.removeHandler(handler)


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    """Everything logged so far in this test. Lines reach stdout (structlog's default)
    or the logging module (once an earlier test configured logging: module loggers are
    cached on first use), depending on the order tests run in: read both."""
    seen: list[str] = []

    def read() -> str:
        captured = capsys.readouterr()
        seen.append(captured.out + captured.err)
        return "".join(seen) + caplog.text

    return read
