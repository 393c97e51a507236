"""The sweep: the database, not Redis, decides that nothing is lost. Open jobs whose
worker stopped beating, or that sat queued while the queue forgot them (a Redis
restart), are enqueued again under a new generation. Every worker (and the embedded
bot) sweeps; the generation bump lets exactly one of them re-enqueue each job."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.db.enums import JobStatus
from bot.gauges import QueueGauges
from bot.jobs import JobQueue
from bot.log import get_logger
from bot.repositories.jobs import JobRepository

log = get_logger(__name__)


async def sweep(
    sessions: async_sessionmaker[AsyncSession],
    queue: JobQueue,
    stale_after: timedelta,
    gauges: QueueGauges | None = None,
) -> int:
    async with sessions() as session:
        jobs = JobRepository(session)
        candidates = await jobs.stale_jobs(stale_after)
        metrics.A2T_QUEUE_DEPTH.set(await jobs.open_count())
        if gauges is not None:
            await gauges.refresh(session)
    requeued = 0
    for job in candidates:
        if job.status == JobStatus.QUEUED and await queue.is_pending(
            job.id, job.generation, job.queue
        ):
            continue  # just waiting its turn
        # Routed again: the workers alive now decide where it can run.
        target = await queue.route(job.declared_duration_s, job.language_hint)
        async with sessions() as session:
            generation = await JobRepository(session).bump_generation(job, target)
            await session.commit()
        if generation is None:
            continue  # another sweeper or a worker got there first
        await queue.enqueue_transcription(job.id, generation, target)
        log.warning(
            "stale job re-enqueued",
            job_id=job.id,
            was=job.status,
            generation=generation,
            queue=target,
        )
        requeued += 1
    return requeued


async def sweep_forever(
    sessions: async_sessionmaker[AsyncSession],
    queue: JobQueue,
    stale_after: timedelta,
    interval_s: float,
    gauges: QueueGauges | None = None,
) -> None:
    while True:
        try:
            await sweep(sessions, queue, stale_after, gauges)
        except Exception:
            metrics.BACKGROUND_RUNS.labels("a2t_sweep", "error").inc()
            log.exception("sweep failed; trying again next round")
        else:
            metrics.BACKGROUND_RUNS.labels("a2t_sweep", "ok").inc()
        await asyncio.sleep(interval_s)
