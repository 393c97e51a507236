"""Engine and session factory for the bot and the worker."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_

from bot.settings import DbSettings


def create_engine(settings: DbSettings) -> AsyncEngine:
    url = make_url(settings.url.get_secret_value())
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url.render_as_string(hide_password=False), settings)
    engine = create_async_engine(
        url,
        echo=settings.echo,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
    )
    _check_on_checkout(engine, settings.ping_after_idle_s)
    return engine


_IDLE_SINCE = "idle_since"


def _check_on_checkout(engine: AsyncEngine, ping_after_idle_s: float) -> None:
    """Hand out only live connections, without a round trip on every checkout.

    `pool_pre_ping` pings each time (on asyncpg a BEGIN, an empty query and a ROLLBACK:
    three round trips, more than a karma vote's own statements). Instead: a connection
    whose socket the server closed (restart, idle timeout, terminate) is known to the
    driver at no cost and replaced; one that sat idle for `ping_after_idle_s` or longer
    is pinged first, since a dropped network path shows only then. A connection used a
    moment ago is handed out as it is; should it have died in between, that one
    transaction fails and the pool replaces the connection."""
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and driver.is_closed():
            raise DisconnectionError("the server closed this connection")
        idle_since = record.info.get(_IDLE_SINCE)  # None: connected just now
        if idle_since is None or time.monotonic() - idle_since < ping_after_idle_s:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:  # whatever the driver raises for a dead connection
            raise DisconnectionError("the connection did not answer a ping") from exc


def _sqlite_engine(url: str, settings: DbSettings) -> AsyncEngine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url, echo=settings.echo, pool_size=settings.pool_size, max_overflow=settings.max_overflow
    )
    busy_timeout = int(settings.sqlite_busy_timeout_ms)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    serialize_writes(engine, busy_timeout / 1000)
    return engine


_WRITE = re.compile(
    r"\s*(?:INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b"
    r"|\s*WITH\b.*\b(?:INSERT|UPDATE|DELETE)\b",
    re.IGNORECASE | re.DOTALL,
)
_HOLDS_WRITE_LOCK = "holds_write_lock"


def serialize_writes(engine: AsyncEngine, timeout_s: float) -> None:
    """SQLite lets one connection write at a time. Left to SQLite, the others poll its
    lock (busy_timeout: sleeps of up to 100 ms) and give up with "database is locked"
    when it stays taken longer, as it does with dozens of updates and jobs in flight,
    each holding its write transaction across a Telegram call. Instead, a connection
    about to write first takes this process's write lock: writers queue in order on
    an asyncio lock, without polling, and the lock is held until the connection goes
    back to the pool (its transaction committed or rolled back). Reads never wait
    (WAL). busy_timeout still covers other processes (migrations, the admin CLI); the
    same time bounds the wait here, so a writer stuck behind a lost lock fails with the
    usual "database is locked", a transient error, instead of hanging.
    (Measured against larger busy timeouts and BEGIN IMMEDIATE: docs/PERFORMANCE.md.)"""
    lock = asyncio.Lock()

    async def acquire() -> None:
        try:
            async with asyncio.timeout(timeout_s):
                await lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked (this process's writer)") from None

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before_execute(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if not conn.info.get(_HOLDS_WRITE_LOCK) and _WRITE.match(statement):
            await_(acquire())
            conn.info[_HOLDS_WRITE_LOCK] = True

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        if record.info.pop(_HOLDS_WRITE_LOCK, False):
            lock.release()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: DTOs built after a commit need no extra round trip.
    return async_sessionmaker(engine, expire_on_commit=False)
