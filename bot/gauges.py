"""Gauges read from the database, the source of truth: open transcription jobs per
queue (depth and the oldest job's wait, the autoscaling signal) and applications
waiting for a moderator.

Refreshed periodically, never per scrape: a scrape of N replicas must not become N
queries. The worker's sweep refreshes the queue gauges each round; the bot runs
`refresh_forever` (queues and applications) every METRICS__REFRESH_INTERVAL_S, so
the signal exists even while no worker runs (a deployment scaled to zero, or one
whose workers all died). Every process reports the same numbers: aggregate with
`max by (queue)`, not `sum`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.db.base import utcnow
from bot.log import get_logger
from bot.repositories.applications import ApplicationRepository
from bot.repositories.jobs import JobRepository

log = get_logger(__name__)


def _age(since: datetime | None, now: datetime) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


class QueueGauges:
    """Sets the per-queue gauges; a queue seen before and empty now reads 0 instead of
    keeping its last value."""

    def __init__(self, default_queue: str) -> None:
        self.default_queue = default_queue
        self.seen: set[str] = set()

    async def refresh(self, session: AsyncSession) -> None:
        now = utcnow()
        # Rows from before routing name no queue: they are the default queue's.
        queued: dict[str, int] = {}
        running: dict[str, int] = {}
        oldest: dict[str, datetime] = {}
        for stats in await JobRepository(session).queue_stats():
            queue = stats.queue or self.default_queue
            queued[queue] = queued.get(queue, 0) + stats.queued
            running[queue] = running.get(queue, 0) + stats.running
            if stats.oldest_queued_at is not None:
                since = oldest.get(queue, stats.oldest_queued_at)
                oldest[queue] = min(since, stats.oldest_queued_at)
        current = set(queued)
        for queue in current:
            metrics.A2T_QUEUE_JOBS.labels(queue, "queued").set(queued[queue])
            metrics.A2T_QUEUE_JOBS.labels(queue, "running").set(running[queue])
            metrics.A2T_QUEUE_OLDEST_AGE.labels(queue).set(_age(oldest.get(queue), now))
        for queue in self.seen - current:
            metrics.A2T_QUEUE_JOBS.labels(queue, "queued").set(0)
            metrics.A2T_QUEUE_JOBS.labels(queue, "running").set(0)
            metrics.A2T_QUEUE_OLDEST_AGE.labels(queue).set(0)
        self.seen |= current


async def refresh_applications(session: AsyncSession) -> None:
    stats = await ApplicationRepository(session).pending_stats()
    metrics.APPLICATIONS_PENDING.set(stats.count)
    metrics.APPLICATIONS_OLDEST_PENDING_AGE.set(_age(stats.oldest_submitted_at, utcnow()))


LiveWorkers = Callable[[], Awaitable[dict[str, int] | None]]


async def refresh_live_workers(live_workers: LiveWorkers) -> None:
    """Live workers per queue (the workers' registry in Redis, bot/routing.py): 0 on a
    queue means its jobs wait for a worker that is not there (A2TNoLiveWorker)."""
    for queue, count in (await live_workers() or {}).items():
        metrics.A2T_QUEUE_LIVE_WORKERS.labels(queue).set(count)


async def refresh_once(
    sessions: async_sessionmaker[AsyncSession],
    queues: QueueGauges,
    live_workers: LiveWorkers | None = None,
) -> None:
    async with sessions() as session:
        await queues.refresh(session)
        await refresh_applications(session)
    if live_workers is not None:
        await refresh_live_workers(live_workers)


async def refresh_forever(
    sessions: async_sessionmaker[AsyncSession],
    default_queue: str,
    interval_s: float,
    live_workers: LiveWorkers | None = None,
) -> None:
    """The bot's background task; a failed round is logged and counted, the next runs."""
    queues = QueueGauges(default_queue)
    while True:
        try:
            await refresh_once(sessions, queues, live_workers)
        except (SQLAlchemyError, RedisError, OSError) as exc:  # away: alerts cover it
            metrics.BACKGROUND_RUNS.labels("gauges", "error").inc()
            log.warning("database gauges not refreshed", error=repr(exc))
        except Exception:
            metrics.BACKGROUND_RUNS.labels("gauges", "error").inc()
            log.exception("database gauges not refreshed; trying again next round")
        else:
            metrics.BACKGROUND_RUNS.labels("gauges", "ok").inc()
        await asyncio.sleep(interval_s)
