"""Which database errors are transient, on real PostgreSQL and SQLite errors: a cut
connection, an exhausted pool, a busy SQLite writer are; a constraint or a bad value
fails the same way every time and is not."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db.errors import is_transient_db_error


async def _error(url: str, *statements: str, **engine_args: object) -> BaseException:
    engine = create_async_engine(url, **engine_args)
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    except SQLAlchemyError as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("no error")


async def test_deterministic_errors_are_not_transient(pg_url: str) -> None:
    duplicate = await _error(
        pg_url,
        "CREATE TEMP TABLE t (id int PRIMARY KEY)",
        "INSERT INTO t VALUES (1)",
        "INSERT INTO t VALUES (1)",
    )
    assert isinstance(duplicate, DBAPIError)
    assert not is_transient_db_error(duplicate)
    assert not is_transient_db_error(await _error(pg_url, "SELECT 1 / 0"))
    assert not is_transient_db_error(await _error(pg_url, "SELECT no_such_column FROM users"))


async def test_a_terminated_connection_is_transient(pg_url: str) -> None:
    engine = create_async_engine(pg_url)
    try:
        async with engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with engine.connect() as other:  # same database, another backend
                await other.execute(text(f"SELECT pg_terminate_backend({pid})"))
            with pytest.raises(DBAPIError) as excinfo:
                await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert is_transient_db_error(excinfo.value)


async def test_an_exhausted_pool_is_transient(pg_url: str) -> None:
    engine = create_async_engine(pg_url, pool_size=1, max_overflow=0, pool_timeout=0.1)
    try:
        async with engine.connect():
            with pytest.raises(SQLAlchemyError) as excinfo:
                async with engine.connect():
                    pass
    finally:
        await engine.dispose()
    assert is_transient_db_error(excinfo.value)


async def test_a_busy_sqlite_writer_is_transient(sqlite_url: str) -> None:
    path = sqlite_url.removeprefix("sqlite+aiosqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        locked = await _error(
            sqlite_url,
            "PRAGMA busy_timeout=50",
            "INSERT INTO users (id, is_bot, first_name, created_at, updated_at) "
            "VALUES (1, 0, 'a', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        )
    finally:
        holder.close()
    assert is_transient_db_error(locked)
