"""The PostgreSQL pool hands out live connections without a ping on every checkout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import create_engine
from bot.settings import DbSettings


@pytest.fixture
async def counted_engine(pg_url: str, request: Any) -> AsyncIterator[tuple[AsyncEngine, list[int]]]:
    settings = DbSettings(url=SecretStr(pg_url), pool_size=1, max_overflow=0, **request.param)
    engine = create_engine(settings)
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counting_ping(dbapi_connection: Any) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    engine.dialect.do_ping = counting_ping  # type: ignore[method-assign]
    yield engine, pings
    await engine.dispose()


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(pg_engine: AsyncEngine, pid: int) -> None:
    async with pg_engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


@pytest.mark.parametrize("counted_engine", [{"ping_after_idle_s": 60.0}], indirect=True)
async def test_a_busy_connection_is_not_pinged(counted_engine: Any) -> None:
    engine, pings = counted_engine
    pids = {await _backend_pid(engine) for _ in range(20)}
    assert len(pids) == 1  # one pooled connection, reused
    assert pings == []


@pytest.mark.parametrize("counted_engine", [{"ping_after_idle_s": 0.05}], indirect=True)
async def test_an_idle_connection_is_pinged_before_use(counted_engine: Any) -> None:
    engine, pings = counted_engine
    first = await _backend_pid(engine)  # a new connection: not pinged
    assert pings == []
    await asyncio.sleep(0.1)
    assert await _backend_pid(engine) == first
    assert pings == [1]


@pytest.mark.parametrize("counted_engine", [{"ping_after_idle_s": 60.0}], indirect=True)
async def test_a_connection_the_server_closed_is_replaced(
    counted_engine: Any, pg_engine: AsyncEngine
) -> None:
    engine, pings = counted_engine
    first = await _backend_pid(engine)
    await _terminate(pg_engine, first)
    await asyncio.sleep(0.2)  # the driver sees the socket close
    second = await _backend_pid(engine)  # no error: the dead connection never came out
    assert second != first
    assert pings == []
