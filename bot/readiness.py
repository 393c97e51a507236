"""Readiness checks for /readyz: the dependencies a process cannot work without.
A failing check makes /readyz answer 503, so an orchestrator stops routing to the
process (bot) or reports it not ready (worker) until the dependency is back."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.http import ReadinessCheck


def dependency_checks(engine: AsyncEngine, redis: Redis | None) -> dict[str, ReadinessCheck]:
    async def database() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    checks: dict[str, ReadinessCheck] = {"database": database}
    if redis is not None:

        async def redis_ping() -> None:
            await redis.ping()

        checks["redis"] = redis_ping
    return checks
